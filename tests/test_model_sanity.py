"""Sanity checks of the reference model itself (the full scenario suite is test_scenarios.py).

Each test pins one rule the model must get right, mostly where the two dialects differ or where
the kernel does something SPEC.md only hints at.
"""
from __future__ import annotations

import errno

import pytest

from mprog import model as m

F, V = m.Flag, m.V2Flag


def errno_of(fn, *args, **kwargs):
    with pytest.raises(OSError) as info:
        fn(*args, **kwargs)
    return info.value.errno


def names(bundle):
    return [p.name for p in bundle]


def programs(*names_):
    return [m.Program(n) for n in names_]


def test_exports():
    for name in ("Bundle", "Program", "Link", "Flag", "V2Flag", "QueryResult", "NotFound",
                 "QueryTooSmall", "ChainFull"):
        assert hasattr(m, name)
    assert m.DIALECTS == ("upstream", "v2", "cgroup")
    with pytest.raises(ValueError):
        m.Bundle("v3")


def test_upstream_placement_and_revision():
    b = m.Bundle()
    a, c, d = programs("a", "c", "d")
    assert (b.revision, len(b), b.query().count) == (1, 0, 0)
    b.attach(a)
    b.attach(c, F.BEFORE)
    b.attach(d, F.AFTER, relative=c)
    assert names(b) == ["c", "d", "a"] and b.revision == 4
    b.detach(d)
    b.detach(c)
    b.detach(a)
    assert b.revision == 1  # an emptied chain is freed


def test_failed_operation_changes_nothing():
    b = m.Bundle()
    a, x = programs("a", "x")
    b.attach(a)
    before = b.query()
    assert errno_of(b.attach, x, F.BEFORE | F.AFTER, a) == errno.ERANGE
    assert errno_of(b.attach, a, 0, None, None, 99) == errno.ESTALE
    assert errno_of(b.attach, x, 0, a) == errno.EINVAL  # a relative needs a directive
    assert b.query() == before


def test_dialects_do_not_leak():
    up, v2 = m.Bundle(), m.Bundle("v2")
    a = m.Program()
    assert errno_of(up.attach, a, 1 << 6) == errno.EINVAL  # v2's LAST is unknown upstream
    assert errno_of(v2.attach, a, 1 << 9) == errno.EINVAL
    assert errno_of(up.attach, a, F.BEFORE | F.ID, None) == errno.ENOENT  # 1<<5 is ID upstream
    v2.attach(a, V.FIRST)  # ... and FIRST in v2
    assert v2.query().prog_attach_flags == (V.FIRST,)
    assert up.query().prog_attach_flags == ()


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_unknown_bits_fail_first(dialect):
    b = m.Bundle(dialect)
    a = m.Program()
    # Each of these would otherwise succeed (or fail later with another errno).
    assert errno_of(b.attach, a, F.BEFORE | 1 << 0) == errno.EINVAL
    assert errno_of(b.attach, a, F.AFTER | 1 << 15) == errno.EINVAL
    assert errno_of(b.detach, None, 1 << 15) == errno.EINVAL  # before the empty chain's ENOENT
    link = b.link(a)
    assert errno_of(link.update, m.Program(), 1 << 0) == errno.EINVAL
    assert errno_of(link.update, m.Program(), F.BEFORE) == errno.EINVAL


def test_full_chain_upstream_erange_v2_enospc():
    up, v2 = m.Bundle(), m.Bundle("v2")
    for _ in range(63):
        up.attach(m.Program())
        v2.attach(m.Program())
    with pytest.raises(m.ChainFull) as info:
        up.attach(m.Program())
    assert info.value.errno == errno.ERANGE
    assert errno_of(v2.attach, m.Program()) == errno.ENOSPC
    # Kernel quirk: detach bounds "after the last" (63) by bpf_mprog_max() before clamping.
    assert errno_of(up.detach) == errno.ERANGE
    up.detach(None, F.BEFORE)
    up.detach()
    assert len(up) == 61


def test_link_lifecycle_and_update_order():
    b = m.Bundle()
    a, p, q = programs("a", "p", "q")
    b.attach(a)
    link = b.link(p, F.BEFORE, relative=a)
    assert (names(b), link.attached, link.id > 0) == (["p", "a"], True, True)
    assert errno_of(b.detach, p) == errno.EBUSY
    assert errno_of(b.link, q, F.REPLACE) == errno.ENOENT
    assert errno_of(link.update, q, F.REPLACE, a) == errno.EPERM
    rev = b.revision
    link.update(p)  # its own program: nothing changes
    assert b.revision == rev
    assert errno_of(link.update, a) == errno.EEXIST
    link.update(q, F.REPLACE, p)
    assert names(b) == ["q", "a"] and b.revision == rev + 1
    link.detach()
    assert errno_of(link.update, p) == errno.ENOLINK
    assert errno_of(b.attach, p, F.BEFORE | F.LINK, link) == errno.ENOENT  # open, not in chain
    link.close()
    assert errno_of(link.detach) == errno.EBADF
    assert errno_of(b.attach, p, F.BEFORE | F.LINK | F.ID, link.id) == errno.ENOENT


def test_link_close_detaches_and_frees_the_chain():
    b = m.Bundle()
    link = b.link(m.Program())
    link.close()
    assert (len(b), b.revision, link.attached) == (0, 1, False)


def test_closed_program_lives_while_held():
    b = m.Bundle()
    p, x = programs("p", "x")
    b.attach(p)
    p.close()
    assert errno_of(b.detach, p) == errno.EBADF
    b.attach(x, F.BEFORE | F.ID, relative=p.id)  # still named by id
    b.detach(x)
    b.detach()  # p leaves: nothing holds it any more
    assert errno_of(b.attach, x, F.BEFORE | F.ID, p.id) == errno.ENOENT


def test_query_too_small():
    b = m.Bundle()
    for _ in range(3):
        b.attach(m.Program())
    with pytest.raises(m.QueryTooSmall) as info:
        b.query(count=2)
    assert info.value.errno == errno.ENOSPC and info.value.count == 3
    assert len(info.value.partial.prog_ids) == 2 and info.value.partial.count == 3
    empty = b.query(count=0)
    assert (empty.count, empty.prog_ids) == (3, ())


def test_v2_pins():
    b = m.Bundle("v2")
    first, last, mid, x = programs("first", "last", "mid", "x")
    b.attach(first, V.FIRST)
    b.attach(last, V.LAST)
    b.attach(mid)  # an append lands inside the pins
    assert names(b) == ["first", "mid", "last"]
    assert errno_of(b.attach, x, V.BEFORE, first) == errno.EBUSY
    assert errno_of(b.attach, x, V.FIRST) == errno.EBUSY
    assert errno_of(b.attach, x, V.REPLACE | V.FIRST, replace=mid) == errno.EACCES
    b.attach(x, V.REPLACE, replace=first)  # REPLACE without FIRST drops the pin
    assert b.query().prog_attach_flags == (0, 0, V.LAST)
    assert errno_of(b.detach) == errno.ENOENT  # v2 detach needs a target
    b.detach(None, V.LAST)  # a pinned program may leave
    assert names(b) == ["x", "mid"]


def test_v2_link_pins_reported_as_link_flags():
    b = m.Bundle("v2")
    a, p, q = programs("a", "p", "q")
    b.attach(a)
    link = b.link(p, V.FIRST)
    link.update(q)  # keeps the slot and its pins
    result = b.query()
    assert result.link_attach_flags == (V.FIRST, 0) and result.prog_attach_flags == (0, 0)
    link.detach()  # pins end with the link's attachment
    b.attach(p, V.FIRST)


def test_run():
    b = m.Bundle()
    seen = []
    b.attach(m.Program("pass", lambda ctx: seen.append(ctx) or m.NEXT))
    b.attach(m.Program("none"))
    b.attach(m.Program("drop", lambda ctx: 2))
    b.attach(m.Program("never", lambda ctx: seen.append("never") or 0))
    assert b.run("pkt") == 2 and seen == ["pkt"]
    assert m.Bundle().run(None) == m.NEXT


def test_python_errors_come_first():
    b = m.Bundle()
    closed = m.Program()
    closed.close()
    with pytest.raises(TypeError):
        b.attach(closed, "flags")
    with pytest.raises(ValueError):
        b.attach(closed, 1 << 20, relative=1 << 32)
    with pytest.raises(ValueError):
        b.query(count=-1)


def test_close_releases_links_and_programs():
    b = m.Bundle()
    p, q = programs("p", "q")
    link = b.link(p)
    b.attach(q)
    q.close()
    b.close()
    b.close()  # idempotent
    assert not link.attached
    assert errno_of(link.update, m.Program()) == errno.ENOLINK
    link.detach()  # already detached: nothing to do
    with pytest.raises(ValueError):
        len(b)
    with pytest.raises(ValueError):
        b.attach(m.Program())
    # q was held only by the chain: it is gone now
    other = m.Bundle()
    assert errno_of(other.attach, m.Program(), F.BEFORE | F.ID, q.id) == errno.ENOENT
