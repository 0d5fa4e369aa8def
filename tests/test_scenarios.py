"""Scenario tests for the upstream dialect: one test (or one parametrized family) per rule and
errno of SPEC.md, run against every backend (core, model, live kernel) via ``backend``.

Conventions:
- ``env`` makes bundles, programs and links and closes every one of them afterwards (the
  kernel backend's fixture fails a test that leaves anything open).
- ``assert_fails(b, errno, fn, *args, **kw)`` calls ``fn`` and asserts that it raised an
  ``OSError`` with exactly that errno, a message starting with the operation's name, and that
  nothing changed: the whole ``query()`` (revision, order, link ids, flags) is the same after.
- ``ids(b)`` is the chain's program ids in order, cross-checked between ``list(b)``,
  ``len(b)`` and ``query()`` (and, in v2, the pin invariants).

Where SPEC.md leaves a detach corner case to the live kernel, the expectation below is what
Linux 6.18 answers (checked with raw bpf(2)); those tests say so.
"""
from __future__ import annotations

import errno
import gc
from errno import (EBADF, EBUSY, EEXIST, EINVAL, ENOENT, ENOLINK, ENOSPC, EPERM, ERANGE,
                   ESTALE)

import pytest

from mprog.flags import Flag as F
from mprog.flags import V2Flag

NEXT = -1
MAX = 63
#: An id no program or link has: above the kernel's INT_MAX id range, far above any counter.
MISSING_ID = 0xFFFFFFFF
#: The v2 pin bits, for the invariant check in ``ids``.
V2_FIRST, V2_LAST = int(V2Flag.FIRST), int(V2Flag.LAST)


# --------------------------------------------------------------------------------------------
# helpers


def is_kernel(backend) -> bool:
    return backend.__name__.endswith(".kernel")


class Env:
    """Makes bundles, programs and links for one test and closes all of them at the end."""

    def __init__(self, backend, dialect: str = "upstream") -> None:
        self.backend = backend
        self.dialect = dialect
        self._bundles: list = []
        self._progs: list = []
        self._links: list = []

    def bundle(self):
        b = self.backend.Bundle(dialect=self.dialect)
        self._bundles.append(b)
        return b

    def prog(self, name: str = "", fn=None):
        p = self.backend.Program(name=name, fn=fn)
        self._progs.append(p)
        return p

    def progs(self, n: int, prefix: str = "p"):
        return [self.prog(f"{prefix}{i}") for i in range(n)]

    def closed_prog(self):
        p = self.prog("closed")
        p.close()
        return p

    def track(self, link):
        self._links.append(link)
        return link

    def link(self, b, p, flags: int = 0, relative=None, expected_revision: int = 0):
        return self.track(b.link(p, flags=flags, relative=relative,
                                 expected_revision=expected_revision))

    def closed_link(self):
        """A link that was attached to a bundle of its own and then closed."""
        b = self.bundle()
        link = self.link(b, self.prog("gone"))
        link.close()
        return link

    def chain(self, n: int, b=None):
        """A bundle holding ``n`` programs attached by program, in order; (bundle, programs)."""
        b = self.bundle() if b is None else b
        ps = self.progs(n)
        for p in ps:
            b.attach(p)
        return b, ps

    def close(self) -> None:
        for link in self._links:
            link.close()
        for b in self._bundles:
            b.close()
        for p in self._progs:
            p.close()


@pytest.fixture
def env(backend):
    e = Env(backend)
    yield e
    e.close()


def snapshot(b):
    q = b.query()
    return (q.revision, q.count, tuple(q.prog_ids), tuple(q.link_ids),
            tuple(q.prog_attach_flags), tuple(q.link_attach_flags))


def op_name(fn):
    """The operation a bound method performs, as the error message must name it."""
    name = getattr(fn, "__name__", "")
    owner = type(getattr(fn, "__self__", None)).__name__
    if name == "detach" and owner == "Link":
        return "link detach"
    return name if name in ("attach", "link", "detach", "update", "query") else None


def assert_fails(b, err, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` must raise OSError ``err`` and leave ``b`` exactly as it was."""
    before = snapshot(b)
    with pytest.raises(OSError) as info:
        result = fn(*args, **kwargs)
        if hasattr(result, "close"):  # a link made by mistake: do not leak it
            result.close()
    e = info.value
    assert isinstance(e, OSError)
    assert e.errno == err, (f"expected {errno.errorcode[err]}, got "
                            f"{errno.errorcode.get(e.errno, e.errno)}: {e}")
    op = op_name(fn)
    if op is not None:
        assert str(e.strerror).startswith(op), f"message {e.strerror!r} does not start with {op!r}"
    assert snapshot(b) == before, "a failed operation changed the chain"
    assert len(b) == before[1]
    return e


def ids(b):
    """The chain's program ids in order; list(b), len(b) and query() must agree."""
    from_iter = [p.id for p in b]
    q = b.query()
    assert list(q.prog_ids) == from_iter
    assert len(b) == q.count == len(from_iter)
    assert len(q.link_ids) == len(q.prog_attach_flags) == len(q.link_attach_flags) == q.count
    assert all(pid > 0 for pid in q.prog_ids)
    assert len(set(q.prog_ids)) == q.count, "a program appears twice"
    if getattr(b, "dialect", "upstream") == "upstream":
        assert set(q.prog_attach_flags) <= {0} and set(q.link_attach_flags) <= {0}
    else:
        check_pins(q)
    return from_iter


def check_pins(q):
    """v2 invariants: pins are reported in the array of how the slot was attached, a FIRST
    holder is at index 0, a LAST holder is last, and each pin has at most one holder."""
    pins = []
    for i in range(q.count):
        if q.link_ids[i]:
            assert q.prog_attach_flags[i] == 0
            pins.append(q.link_attach_flags[i])
        else:
            assert q.link_attach_flags[i] == 0
            pins.append(q.prog_attach_flags[i])
    for i, pin in enumerate(pins):
        assert pin & ~(V2_FIRST | V2_LAST) == 0, f"entry {i} reports non-pin flags {pin:#x}"
        if pin & V2_FIRST:
            assert i == 0, f"FIRST holder at index {i}"
        if pin & V2_LAST:
            assert i == q.count - 1, f"LAST holder at index {i} of {q.count}"


def pids(*progs):
    return [p.id for p in progs]


def stale(b):
    """An expected_revision that is not the current one."""
    return b.revision + 7


# --------------------------------------------------------------------------------------------
# programs, links, flags


def test_flag_values_are_the_uapi_ones(backend):
    assert (backend.Flag.REPLACE, backend.Flag.BEFORE, backend.Flag.AFTER, backend.Flag.ID,
            backend.Flag.LINK) == (1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 13)
    assert (backend.V2Flag.REPLACE, backend.V2Flag.BEFORE, backend.V2Flag.AFTER,
            backend.V2Flag.FIRST, backend.V2Flag.LAST, backend.V2Flag.ID,
            backend.V2Flag.LINK) == (1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 13)


def test_program_ids_are_positive_unique_and_never_reused(env, backend):
    a, b = env.prog("a"), env.prog("b")
    a.close()
    c = env.prog("c")
    assert a.id > 0 and b.id > 0 and c.id > 0
    assert len({a.id, b.id, c.id}) == 3
    # An id is not handed out again even after its program is gone entirely.
    gone = backend.Program(name="gone")
    gone_id = gone.id
    gone.close()
    del gone
    gc.collect()
    later = [env.prog(f"later{i}") for i in range(20)]
    assert gone_id not in {p.id for p in later}
    assert (a.name, b.name, c.name) == ("a", "b", "c")
    assert a.closed and not b.closed
    a.close()  # idempotent
    assert a.closed


def test_link_has_its_own_id_and_knows_its_program(env):
    b = env.bundle()
    p, q = env.progs(2)
    l1 = env.link(b, p)
    l2 = env.link(b, q)
    assert l1.id > 0 and l2.id > 0 and l1.id != l2.id
    assert l1.prog.id == p.id and l2.prog.id == q.id
    assert l1.attached and not l1.closed
    assert list(b.query().link_ids) == [l1.id, l2.id]


def test_bundle_dialect_and_unknown_dialect(backend, env):
    assert env.bundle().dialect == "upstream"
    expected = {"mprog": ("upstream", "v2", "cgroup"), "mprog.model": ("upstream", "v2", "cgroup"),
                "mprog.kernel": ("upstream", "cgroup")}
    assert tuple(backend.DIALECTS) == expected[backend.__name__]
    for dialect in ("v3", "") + (("v2",) if is_kernel(backend) else ()):
        with pytest.raises(ValueError):
            backend.Bundle(dialect=dialect)


# --------------------------------------------------------------------------------------------
# revision


def test_never_used_chain_is_revision_1_and_empty(env):
    b = env.bundle()
    q = b.query()
    assert (q.revision, q.count) == (1, 0)
    assert q.prog_ids == () and q.link_ids == ()
    assert q.prog_attach_flags == () and q.link_attach_flags == ()
    assert b.revision == 1 and len(b) == 0 and list(b) == []


def test_every_successful_change_adds_exactly_one(env):
    b = env.bundle()
    p0, p1, p2, p3, p4 = env.progs(5)
    b.attach(p0)
    assert b.revision == 2
    link = env.link(b, p1)
    assert b.revision == 3
    b.attach(p2, F.BEFORE)
    assert b.revision == 4
    b.attach(p3, F.REPLACE, replace=p2)
    assert b.revision == 5
    link.update(p4)
    assert b.revision == 6
    link.detach()
    assert b.revision == 7
    b.detach(p3)
    assert b.revision == 8
    assert ids(b) == pids(p0)
    assert b.query().revision == b.revision


def test_query_changes_nothing(env):
    b, ps = env.chain(3)
    before = snapshot(b)
    b.query()
    b.query(count=0)
    b.query(count=10)
    with pytest.raises(OSError):
        b.query(count=1)
    assert snapshot(b) == before


@pytest.mark.parametrize("how", ["detach prog", "detach last", "link detach", "link close"])
def test_chain_emptied_is_freed_and_back_to_revision_1(env, how):
    b = env.bundle()
    p, q = env.progs(2)
    b.attach(p)
    link = env.link(b, q)
    assert b.revision == 3
    if how == "detach prog":
        link.detach()
        b.detach(p)
    elif how == "detach last":
        link.detach()
        b.detach()
    elif how == "link detach":
        b.detach(p)
        link.detach()
    else:
        b.detach(p)
        link.close()
    assert b.revision == 1
    assert b.query().count == 0 and ids(b) == []
    b.attach(p)
    assert b.revision == 2


@pytest.mark.parametrize("op", ["attach", "link", "detach"])
def test_expected_revision_current_succeeds_and_stale_is_ESTALE(env, op):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    rev = b.revision
    if op == "detach":
        assert_fails(b, ESTALE, b.detach, p1, expected_revision=rev - 1)
        assert_fails(b, ESTALE, b.detach, p1, expected_revision=rev + 1)
        b.detach(p1, expected_revision=rev)
        assert ids(b) == pids(p0)
    else:
        assert_fails(b, ESTALE, getattr(b, op), q, expected_revision=rev - 1)
        assert_fails(b, ESTALE, getattr(b, op), q, expected_revision=rev + 1)
        if op == "attach":
            b.attach(q, expected_revision=rev)
        else:
            env.track(b.link(q, expected_revision=rev))
        assert ids(b) == pids(p0, p1, q)
    assert b.revision == rev + 1


def test_expected_revision_1_on_a_never_used_chain(env):
    b = env.bundle()
    p = env.prog()
    assert_fails(b, ESTALE, b.attach, p, expected_revision=2)
    b.attach(p, expected_revision=1)
    assert ids(b) == pids(p)


# --------------------------------------------------------------------------------------------
# unknown flag bits: EINVAL before anything else (attach, detach); link create: see below

#: bits no upstream flag uses, that a u32 can hold
U32_UNKNOWN_BITS = [1 << 0, 1 << 1, 1 << 6, 1 << 7, 1 << 12, 1 << 14, 1 << 31]
#: flags no u32 can hold: the protocol's EINVAL, in every operation, before anything else
WIDE_BITS = [1 << 32, -1]


@pytest.mark.parametrize("bit", U32_UNKNOWN_BITS + WIDE_BITS, ids=hex)
@pytest.mark.parametrize("op", ["attach", "detach"])
def test_unknown_flag_bit_is_EINVAL(env, op, bit):
    b, (p0, p1) = env.chain(2)
    target = p1 if op == "detach" else env.prog("q")
    assert_fails(b, EINVAL, getattr(b, op), target, flags=bit)
    assert_fails(b, EINVAL, getattr(b, op), target, flags=int(F.AFTER) | bit)
    assert_fails(b, EINVAL, getattr(b, op), target, flags=int(F.BEFORE) | bit, relative=p0)


def test_unknown_flag_bit_comes_before_every_other_check(env):
    b, (p0, p1) = env.chain(2)
    # closed program, stale revision, already attached, closed relative: EINVAL still wins
    assert_fails(b, EINVAL, b.attach, env.closed_prog(), flags=1 << 6)
    assert_fails(b, EINVAL, b.attach, p0, flags=1 << 6, expected_revision=stale(b))
    assert_fails(b, EINVAL, b.attach, p0, flags=F.BEFORE | (1 << 7), relative=env.closed_prog())
    assert_fails(b, EINVAL, b.attach, p0, flags=F.REPLACE | (1 << 6), replace=None)


@pytest.mark.parametrize("bit", WIDE_BITS, ids=hex)
def test_link_flags_beyond_u32_are_EINVAL_first(env, bit):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags=bit)
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags=int(F.AFTER) | bit)
    assert_fails(b, EINVAL, b.link, env.closed_prog(), flags=bit)
    assert_fails(b, EINVAL, b.link, p0, flags=bit, expected_revision=stale(b))


# Linux 6.18 differs from SPEC's "unknown bits fail before anything else" for BPF_LINK_CREATE:
# tcx's link create never masks the flags (only BPF_PROG_ATTACH/DETACH do). An unknown bit is
# ignored, except that bpf_mprog_attach's last check ("no directive, yet a relative or any
# flag") turns a request without BEFORE/AFTER into EINVAL. The kernel is the authority for
# upstream, so these tests follow it (probed with raw bpf(2)).


@pytest.mark.parametrize("bit", U32_UNKNOWN_BITS, ids=hex)
def test_link_unknown_bit_without_a_directive_is_EINVAL(env, bit):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags=bit)


@pytest.mark.parametrize("bit", U32_UNKNOWN_BITS, ids=hex)
def test_link_create_ignores_unknown_bits_beside_a_directive(env, bit):
    b, (p0, p1) = env.chain(2)
    q, r = env.progs(2, "n")
    env.link(b, q, int(F.AFTER) | bit)
    env.link(b, r, int(F.BEFORE) | bit, relative=p1)
    assert ids(b) == pids(p0, r, p1, q)


def test_link_unknown_bits_are_looked_at_only_by_the_last_check(env):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    bit = 1 << 6
    assert_fails(b, EBADF, b.link, env.closed_prog(), flags=bit)
    assert_fails(b, ESTALE, b.link, q, flags=bit, expected_revision=stale(b))
    assert_fails(b, EEXIST, b.link, p0, flags=bit)
    assert_fails(b, EBADF, b.link, q, flags=int(F.BEFORE) | bit, relative=env.closed_prog())
    assert_fails(b, ENOENT, b.link, q, flags=int(F.REPLACE) | bit)
    assert_fails(b, ERANGE, b.link, q, flags=int(F.BEFORE | F.AFTER) | bit)
    assert_fails(b, EINVAL, b.link, q, flags=bit, relative=p0)


def test_unknown_flag_bit_comes_before_everything_in_detach(env):
    empty = env.bundle()
    assert_fails(empty, EINVAL, empty.detach, None, flags=1 << 6)  # before "empty: ENOENT"
    b, (p0, p1) = env.chain(2)
    assert_fails(b, EINVAL, b.detach, env.closed_prog(), flags=1 << 6)
    assert_fails(b, EINVAL, b.detach, p0, flags=F.REPLACE | (1 << 6),
                 expected_revision=stale(b))


@pytest.mark.parametrize("bit", [1 << 6, 1 << 7], ids=["v2-LAST", "v2-ID"])
def test_upstream_rejects_v2_only_bits(env, bit):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    assert_fails(b, EINVAL, b.attach, q, flags=bit)
    assert_fails(b, EINVAL, b.attach, q, flags=F.BEFORE | bit, relative=p0.id)


def test_upstream_bit_5_is_ID_not_FIRST(env):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    b.attach(q, flags=F.AFTER | (1 << 5), relative=p0.id)
    assert ids(b) == pids(p0, q, p1)
    assert set(b.query().prog_attach_flags) == {0}


# --------------------------------------------------------------------------------------------
# closed programs as the operand, and the replace= argument


@pytest.mark.parametrize("op", ["attach", "link", "detach"])
def test_closed_program_operand_is_EBADF(env, op):
    b, (p0,) = env.chain(1)
    assert_fails(b, EBADF, getattr(b, op), env.closed_prog())


def test_closed_program_comes_before_replace_and_revision(env):
    b, (p0,) = env.chain(1)
    assert_fails(b, EBADF, b.attach, env.closed_prog(), flags=F.REPLACE, replace=None)
    assert_fails(b, EBADF, b.attach, env.closed_prog(), expected_revision=stale(b))
    assert_fails(b, EBADF, b.link, env.closed_prog(), expected_revision=stale(b))
    assert_fails(b, EBADF, b.detach, env.closed_prog(), expected_revision=stale(b))


def test_detach_of_closed_program_on_an_empty_chain_is_EBADF(env):
    b = env.bundle()
    assert_fails(b, EBADF, b.detach, env.closed_prog())


@pytest.mark.parametrize("replace", ["none", "link", "int", "zero"])
def test_replace_that_is_not_a_program_is_EINVAL_before_ESTALE(env, replace):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    other = env.bundle()
    value = {"none": None, "link": env.link(other, env.prog("l")), "int": p0.id,
             "zero": 0}[replace]
    assert_fails(b, EINVAL, b.attach, q, flags=F.REPLACE, replace=value)
    assert_fails(b, EINVAL, b.attach, q, flags=F.REPLACE, replace=value,
                 expected_revision=stale(b))


def test_closed_replace_is_EBADF_before_ESTALE(env):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    assert_fails(b, EBADF, b.attach, q, flags=F.REPLACE, replace=env.closed_prog())
    assert_fails(b, EBADF, b.attach, q, flags=F.REPLACE, replace=env.closed_prog(),
                 expected_revision=stale(b))


@pytest.mark.parametrize("replace", ["program in chain", "closed program", "link", "int"])
def test_replace_argument_is_ignored_without_REPLACE(env, replace):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    other = env.bundle()
    value = {"program in chain": p0, "closed program": env.closed_prog(),
             "link": env.link(other, env.prog("l")), "int": 12345}[replace]
    b.attach(q, replace=value)
    assert ids(b) == pids(p0, p1, q)


# --------------------------------------------------------------------------------------------
# naming the relative


def _naming_fixture(env):
    """[p0, p1, p2(link)] and a fresh program q."""
    b, (p0, p1) = env.chain(2)
    p2 = env.prog("p2")
    link = env.link(b, p2)
    return b, [p0, p1, p2], link, env.prog("q")


def _freed_prog_id(env):
    p = env.prog("freed")
    p.close()
    return p.id


def _closed_link_id(env):
    return env.closed_link().id


# (flags beside the directive, relative maker, errno)
NAMING_ERRORS = {
    "program handle with LINK": (F.LINK, lambda env, ps, l: ps[1], EINVAL),
    "link handle without LINK": (0, lambda env, ps, l: l, EINVAL),
    "closed program": (0, lambda env, ps, l: env.closed_prog(), EBADF),
    "closed program with LINK": (F.LINK, lambda env, ps, l: env.closed_prog(), EBADF),
    "closed link with LINK": (F.LINK, lambda env, ps, l: env.closed_link(), EBADF),
    "closed link without LINK": (0, lambda env, ps, l: env.closed_link(), EBADF),
    "ID with a missing program id": (F.ID, lambda env, ps, l: MISSING_ID, ENOENT),
    "ID with a freed program's id": (F.ID, lambda env, ps, l: _freed_prog_id(env), ENOENT),
    "ID|LINK with a missing link id": (F.ID | F.LINK, lambda env, ps, l: MISSING_ID, ENOENT),
    "ID|LINK with a closed link's id": (F.ID | F.LINK, lambda env, ps, l: _closed_link_id(env),
                                        ENOENT),
    "ID with None": (F.ID, lambda env, ps, l: None, ENOENT),
    "ID|LINK with None": (F.ID | F.LINK, lambda env, ps, l: None, ENOENT),
    "ID with 0": (F.ID, lambda env, ps, l: 0, ENOENT),
    "LINK without ID and None": (F.LINK, lambda env, ps, l: None, EINVAL),
    "LINK without ID and 0": (F.LINK, lambda env, ps, l: 0, EINVAL),
    "int without ID (not a bpf fd)": (0, lambda env, ps, l: 7, EINVAL),
}

NAMING_OPS = ["attach", "link", "detach prog", "detach without prog"]


@pytest.mark.parametrize("case", list(NAMING_ERRORS))
@pytest.mark.parametrize("op", NAMING_OPS)
@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_naming_the_relative_errors(env, op, case, directive):
    b, ps, link, q = _naming_fixture(env)
    extra, make, err = NAMING_ERRORS[case]
    flags = F[directive] | extra
    relative = make(env, ps, link)
    if op == "attach":
        assert_fails(b, err, b.attach, q, flags=flags, relative=relative)
    elif op == "link":
        assert_fails(b, err, b.link, q, flags=flags, relative=relative)
    elif op == "detach prog":
        assert_fails(b, err, b.detach, ps[1], flags=flags, relative=relative)
    else:
        assert_fails(b, err, b.detach, None, flags=flags, relative=relative)


def test_none_relative_is_no_relative(env):
    b, (p0, p1) = env.chain(2)
    q, r = env.progs(2, "n")
    b.attach(q, F.BEFORE, relative=None)
    b.attach(r, F.BEFORE, relative=0)  # an int 0 without ID is "no fd": none as well
    assert ids(b) == pids(r, q, p0, p1)


@pytest.mark.parametrize("by", ["handle", "id"])
@pytest.mark.parametrize("directive,expected", [("BEFORE", "q p2"), ("AFTER", "p2 q")])
def test_program_relative_matches_a_link_held_slot(env, by, directive, expected):
    b, ps, link, q = _naming_fixture(env)
    p2 = ps[2]
    flags = F[directive] | (F.ID if by == "id" else 0)
    b.attach(q, flags, relative=p2 if by == "handle" else p2.id)
    names = {"q": q, "p2": p2}
    assert ids(b) == pids(ps[0], ps[1]) + [names[n].id for n in expected.split()]


@pytest.mark.parametrize("by", ["handle", "id"])
def test_link_relative_by_handle_and_by_id(env, by):
    b, ps, link, q = _naming_fixture(env)
    r = env.prog("r")
    rel = link if by == "handle" else link.id
    extra = F.LINK | (F.ID if by == "id" else 0)
    b.attach(q, F.BEFORE | extra, relative=rel)
    env.link(b, r, F.AFTER | extra, relative=rel)
    assert ids(b) == pids(ps[0], ps[1], q, ps[2], r)


@pytest.mark.parametrize("by", ["handle", "id"])
def test_detached_link_as_relative_is_not_in_the_chain(env, by):
    b, ps, link, q = _naming_fixture(env)
    link.detach()
    rel = link if by == "handle" else link.id
    extra = F.LINK | (F.ID if by == "id" else 0)
    assert_fails(b, ENOENT, b.attach, q, F.AFTER | extra, relative=rel)
    assert_fails(b, ENOENT, b.detach, None, F.AFTER | extra, relative=rel)


def test_closed_but_attached_program_can_be_named_by_id_until_it_leaves(env):
    b, (p0, p1) = env.chain(2)
    q, r = env.progs(2, "n")
    p0_id = p0.id
    p0.close()
    assert ids(b) == [p0_id, p1.id]  # closing a handle does not detach the program
    assert_fails(b, EBADF, b.attach, q, F.AFTER, relative=p0)
    b.attach(q, F.AFTER | F.ID, relative=p0_id)
    assert ids(b) == [p0_id, q.id, p1.id]
    b.detach(None, F.BEFORE)  # removes p0, the first entry; nothing holds it any more
    assert ids(b) == pids(q, p1)
    assert_fails(b, ENOENT, b.attach, r, F.AFTER | F.ID, relative=p0_id)


@pytest.mark.parametrize("relative", [-1, 1 << 32])
def test_ids_out_of_range_are_ValueError_and_change_nothing(env, relative):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    before = snapshot(b)
    with pytest.raises(ValueError):
        b.attach(q, F.BEFORE | F.ID, relative=relative)
    assert snapshot(b) == before


@pytest.mark.parametrize("revision", [-1, 1 << 64])
def test_expected_revision_out_of_range_is_ValueError(env, revision):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    before = snapshot(b)
    with pytest.raises(ValueError):
        b.attach(q, expected_revision=revision)
    assert snapshot(b) == before


def test_wrong_python_types_are_TypeError(env):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    before = snapshot(b)
    with pytest.raises(TypeError):
        b.attach(q, flags="BEFORE")
    with pytest.raises(TypeError):
        b.attach(q, F.BEFORE, relative="p0")
    with pytest.raises(TypeError):
        b.attach("q")
    assert snapshot(b) == before


# --------------------------------------------------------------------------------------------
# attach: checks in order, one pair of errors at a time


def test_order_stale_revision_before_already_attached(env):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, ESTALE, b.attach, p0, expected_revision=stale(b))
    assert_fails(b, ESTALE, b.link, p0, expected_revision=stale(b))


@pytest.mark.parametrize("relative", ["closed", "wrong kind", "missing id"])
@pytest.mark.parametrize("op", ["attach", "link"])
def test_order_already_attached_before_resolving_the_relative(env, op, relative):
    b, (p0, p1) = env.chain(2)
    flags, rel = {"closed": (F.BEFORE, env.closed_prog()),
                  "wrong kind": (F.BEFORE | F.LINK, p1),
                  "missing id": (F.BEFORE | F.ID, MISSING_ID)}[relative]
    assert_fails(b, EEXIST, getattr(b, op), p0, flags=flags, relative=rel)


@pytest.mark.parametrize("op", ["attach", "link"])
def test_already_attached_through_a_link_is_EEXIST(env, op):
    b, (p0,) = env.chain(1)
    q = env.prog("q")
    env.link(b, q)
    assert_fails(b, EEXIST, getattr(b, op), q)
    assert_fails(b, EEXIST, getattr(b, op), p0, flags=F.BEFORE)


def test_order_already_attached_with_REPLACE_of_itself(env):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, EEXIST, b.attach, p0, flags=F.REPLACE, replace=p0)
    assert_fails(b, EEXIST, b.attach, p0, flags=F.REPLACE, replace=p1)


def test_order_relative_resolved_before_REPLACE_lookup(env):
    b, (p0, p1) = env.chain(2)
    q, notin = env.progs(2, "n")
    # REPLACE of a program not in the chain would be ENOENT, but the relative is looked at first
    assert_fails(b, EBADF, b.attach, q, F.REPLACE | F.BEFORE, relative=env.closed_prog(),
                 replace=notin)
    assert_fails(b, EINVAL, b.attach, q, F.REPLACE | F.BEFORE | F.LINK, relative=p0,
                 replace=notin)


# --------------------------------------------------------------------------------------------
# a full chain: 63 programs


def test_full_chain_holds_63_and_the_64th_is_ERANGE(env):
    b, ps = env.chain(MAX)
    assert ids(b) == pids(*ps)
    assert b.revision == 1 + MAX
    extra = env.prog("extra")
    assert_fails(b, ERANGE, b.attach, extra)
    assert_fails(b, ERANGE, b.attach, extra, F.BEFORE)
    assert_fails(b, ERANGE, b.attach, extra, F.AFTER, relative=ps[10])
    assert_fails(b, ERANGE, b.link, extra)
    assert_fails(b, ERANGE, b.link, extra, F.BEFORE | F.ID, relative=ps[0].id)
    # order: already attached (EEXIST) before full; the relative's own errors before full
    assert_fails(b, EEXIST, b.attach, ps[5])
    assert_fails(b, EBADF, b.attach, extra, F.BEFORE, relative=env.closed_prog())
    assert_fails(b, ENOENT, b.attach, extra, F.BEFORE | F.ID, relative=MISSING_ID)
    assert_fails(b, EINVAL, b.attach, extra, F.BEFORE | F.LINK, relative=ps[0])
    assert_fails(b, ESTALE, b.attach, extra, expected_revision=stale(b))
    # full before the directive checks
    notin = env.prog("notin")
    assert_fails(b, ERANGE, b.attach, extra, F.BEFORE, relative=notin)
    assert_fails(b, ERANGE, b.attach, extra, 0, relative=ps[3])
    assert_fails(b, ERANGE, b.attach, extra, F.BEFORE | F.AFTER, relative=ps[3])
    assert_fails(b, ERANGE, b.link, extra, F.AFTER, relative=notin)


def test_full_chain_still_takes_REPLACE_and_frees_a_slot_on_detach(env):
    b, ps = env.chain(MAX)
    q, r = env.progs(2, "n")
    b.attach(q, F.REPLACE, replace=ps[30])
    assert ids(b)[30] == q.id and len(b) == MAX
    b.attach(r, F.REPLACE | F.AFTER, relative=ps[61], replace=ps[62])
    assert ids(b)[-1] == r.id
    # REPLACE errors on a full chain are the REPLACE ones, not ERANGE for fullness
    assert_fails(b, ENOENT, b.attach, ps[30], F.REPLACE, replace=env.prog("notin"))
    b.detach(ps[0])
    assert len(b) == MAX - 1
    b.attach(ps[30], F.BEFORE)
    assert ids(b)[0] == ps[30].id and len(b) == MAX
    assert_fails(b, ERANGE, b.attach, ps[0])


def test_full_chain_of_links(env):
    b = env.bundle()
    ps = env.progs(MAX)
    links = [env.link(b, p) for p in ps]
    assert list(b.query().link_ids) == [link.id for link in links]
    extra = env.prog("extra")
    assert_fails(b, ERANGE, b.link, extra)
    assert_fails(b, ERANGE, b.attach, extra, F.AFTER | F.LINK, relative=links[62])
    links[40].close()
    assert len(b) == MAX - 1
    env.link(b, extra, F.BEFORE | F.LINK, relative=links[41])
    assert ids(b)[40] == extra.id and len(b) == MAX


# --------------------------------------------------------------------------------------------
# REPLACE


@pytest.mark.parametrize("index", [0, 1, 2])
def test_replace_takes_the_slot_of_replace(env, index):
    b, ps = env.chain(3)
    q = env.prog("q")
    rev = b.revision
    b.attach(q, F.REPLACE, replace=ps[index])
    expected = pids(*ps)
    expected[index] = q.id
    assert ids(b) == expected
    assert b.revision == rev + 1
    assert list(b.query().link_ids) == [0, 0, 0]


@pytest.mark.parametrize("relative", ["in chain", "not in chain", "link", "id"])
def test_replace_without_directive_ignores_a_resolvable_relative(env, relative):
    b, (p0, p1, p2) = env.chain(3)
    q = env.prog("q")
    link = env.link(b, env.prog("l"))
    flags, rel = {"in chain": (0, p0), "not in chain": (0, env.prog("notin")),
                  "link": (F.LINK, link), "id": (F.ID, p2.id)}[relative]
    b.attach(q, F.REPLACE | flags, relative=rel, replace=p1)
    assert ids(b) == [p0.id, q.id, p2.id, link.prog.id]


def test_replace_of_a_program_not_in_the_chain_is_ENOENT(env):
    b, (p0, p1) = env.chain(2)
    q, notin = env.progs(2, "n")
    assert_fails(b, ENOENT, b.attach, q, F.REPLACE, replace=notin)
    # before the directive checks
    assert_fails(b, ENOENT, b.attach, q, F.REPLACE | F.BEFORE, replace=notin)
    assert_fails(b, ENOENT, b.attach, q, F.REPLACE | F.AFTER, relative=p0, replace=notin)


def test_replace_of_a_link_held_slot_is_EBUSY(env):
    b, (p0,) = env.chain(1)
    held, q = env.progs(2, "n")
    env.link(b, held)
    assert_fails(b, EBUSY, b.attach, q, F.REPLACE, replace=held)
    # before the directive checks (ERANGE/ENOENT would follow)
    assert_fails(b, EBUSY, b.attach, q, F.REPLACE | F.BEFORE, replace=held)
    assert_fails(b, EBUSY, b.attach, q, F.REPLACE | F.AFTER, relative=env.prog("x"),
                 replace=held)


def test_replace_with_BEFORE_X_requires_replace_right_before_X(env):
    b, (p0, p1, p2) = env.chain(3)
    q = env.prog("q")
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.BEFORE, relative=p2, replace=p0)
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.BEFORE, relative=p1, replace=p1)
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.BEFORE, relative=p0, replace=p1)
    assert_fails(b, ENOENT, b.attach, q, F.REPLACE | F.BEFORE, relative=env.prog("x"),
                 replace=p1)
    b.attach(q, F.REPLACE | F.BEFORE, relative=p2, replace=p1)
    assert ids(b) == pids(p0, q, p2)


def test_replace_with_AFTER_X_requires_replace_right_after_X(env):
    b, (p0, p1, p2) = env.chain(3)
    q = env.prog("q")
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.AFTER, relative=p0, replace=p2)
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.AFTER, relative=p2, replace=p1)
    assert_fails(b, ENOENT, b.attach, q, F.REPLACE | F.AFTER, relative=env.prog("x"),
                 replace=p1)
    b.attach(q, F.REPLACE | F.AFTER | F.ID, relative=p0.id, replace=p1)
    assert ids(b) == pids(p0, q, p2)


@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
@pytest.mark.parametrize("index", [0, 2])
def test_replace_with_a_directive_and_no_relative_is_ERANGE(env, directive, index):
    b, ps = env.chain(3)
    q = env.prog("q")
    # even where the slot is at the matching end: the position "before the first" is no slot
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F[directive], replace=ps[index])


def test_replace_with_BEFORE_and_AFTER_is_ERANGE(env):
    b, (p0, p1, p2) = env.chain(3)
    q = env.prog("q")
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.BEFORE | F.AFTER, relative=p1,
                 replace=p0)
    assert_fails(b, ERANGE, b.attach, q, F.REPLACE | F.BEFORE | F.AFTER, relative=p1,
                 replace=p2)


def test_replace_relative_may_be_a_link_held_slot(env):
    b, (p0,) = env.chain(1)
    held, q = env.progs(2, "n")
    link = env.link(b, held)
    b.attach(q, F.REPLACE | F.BEFORE, relative=held, replace=p0)
    assert ids(b) == pids(q, held)
    r = env.prog("r")
    b.attach(r, F.REPLACE | F.BEFORE | F.LINK, relative=link, replace=q)
    assert ids(b) == pids(r, held)


def test_replaced_program_leaves_and_can_come_back(env):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    b.attach(q, F.REPLACE, replace=p0)
    b.attach(p0, F.AFTER, relative=q)
    assert ids(b) == pids(q, p0, p1)


# --------------------------------------------------------------------------------------------
# directives (attach by program and through a new link)

VIA = ["attach", "link"]


def put(env, b, p, via, flags=0, relative=None):
    if via == "attach":
        b.attach(p, flags, relative=relative)
    else:
        env.link(b, p, flags, relative=relative)


@pytest.mark.parametrize("via", VIA)
def test_no_flags_and_AFTER_alone_append_BEFORE_alone_prepends(env, via):
    b, (p0, p1) = env.chain(2)
    a, z, first = env.progs(3, "n")
    put(env, b, a, via)
    put(env, b, z, via, F.AFTER)
    put(env, b, first, via, F.BEFORE)
    assert ids(b) == pids(first, p0, p1, a, z)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("flags", ["BEFORE", "AFTER", "none"])
def test_directive_without_relative_on_an_empty_chain(env, via, flags):
    b = env.bundle()
    p = env.prog()
    put(env, b, p, via, 0 if flags == "none" else F[flags])
    assert ids(b) == pids(p)
    assert b.revision == 2


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("x", [0, 1, 2])
def test_BEFORE_X_lands_right_before_X(env, via, x):
    b, ps = env.chain(3)
    q = env.prog("q")
    put(env, b, q, via, F.BEFORE, relative=ps[x])
    expected = pids(*ps)
    expected.insert(x, q.id)
    assert ids(b) == expected


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("x", [0, 1, 2])
def test_AFTER_X_lands_right_after_X(env, via, x):
    b, ps = env.chain(3)
    q = env.prog("q")
    put(env, b, q, via, F.AFTER, relative=ps[x])
    expected = pids(*ps)
    expected.insert(x + 1, q.id)
    assert ids(b) == expected


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("directive", ["BEFORE", "AFTER", "BEFORE|AFTER"])
def test_directive_relative_not_in_the_chain_is_ENOENT(env, via, directive):
    b, (p0, p1) = env.chain(2)
    q, notin = env.progs(2, "n")
    flags = F.BEFORE | F.AFTER if directive == "BEFORE|AFTER" else F[directive]
    # with both directives, ENOENT comes before their disagreement
    assert_fails(b, ENOENT, getattr(b, via), q, flags, relative=notin)
    assert_fails(b, ENOENT, getattr(b, via), q, flags | F.ID, relative=notin.id)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("relative", ["none", "first", "middle", "last", "link"])
def test_BEFORE_and_AFTER_together_never_agree(env, via, relative):
    b, (p0, p1, p2) = env.chain(3)
    q = env.prog("q")
    link = env.link(b, env.prog("l"))
    flags, rel = {"none": (0, None), "first": (0, p0), "middle": (0, p1), "last": (0, p2),
                  "link": (F.LINK, link)}[relative]
    assert_fails(b, ERANGE, getattr(b, via), q, F.BEFORE | F.AFTER | flags, relative=rel)


@pytest.mark.parametrize("via", VIA)
def test_BEFORE_and_AFTER_together_on_an_empty_chain_is_ERANGE(env, via):
    b = env.bundle()
    assert_fails(b, ERANGE, getattr(b, via), env.prog(), F.BEFORE | F.AFTER)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("relative", ["in chain", "not in chain", "link", "id", "link id"])
def test_relative_without_a_directive_is_EINVAL(env, via, relative):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    link = env.link(b, env.prog("l"))
    flags, rel = {"in chain": (0, p1), "not in chain": (0, env.prog("notin")),
                  "link": (F.LINK, link), "id": (F.ID, p0.id),
                  "link id": (F.LINK | F.ID, link.id)}[relative]
    assert_fails(b, EINVAL, getattr(b, via), q, flags, relative=rel)


# --------------------------------------------------------------------------------------------
# link create


def test_link_create_returns_an_attached_link_in_its_slot(env):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    rev = b.revision
    link = env.link(b, q, F.BEFORE, relative=p1)
    assert link.attached and not link.closed
    assert link.prog.id == q.id and link.id > 0
    assert b.revision == rev + 1
    qr = b.query()
    assert list(qr.prog_ids) == pids(p0, q, p1)
    assert list(qr.link_ids) == [0, link.id, 0]
    assert list(qr.prog_attach_flags) == [0, 0, 0] and list(qr.link_attach_flags) == [0, 0, 0]


@pytest.mark.parametrize("setup", ["empty", "chain", "full"])
def test_link_with_REPLACE_is_ENOENT(env, setup):
    if setup == "empty":
        b, ps = env.bundle(), []
    else:
        b, ps = env.chain(MAX if setup == "full" else 2)
    q = env.prog("q")
    assert_fails(b, ENOENT, b.link, q, F.REPLACE)
    if ps:
        assert_fails(b, ENOENT, b.link, q, F.REPLACE | F.BEFORE, relative=ps[0])


def test_link_with_REPLACE_follows_the_earlier_checks(env):
    b, (p0, p1) = env.chain(2)
    q = env.prog("q")
    assert_fails(b, ESTALE, b.link, q, F.REPLACE, expected_revision=stale(b))
    assert_fails(b, EEXIST, b.link, p0, F.REPLACE)
    assert_fails(b, EBADF, b.link, q, F.REPLACE | F.BEFORE, relative=env.closed_prog())


# --------------------------------------------------------------------------------------------
# link update


@pytest.fixture
def linked(env):
    """[p0, link(p1), p2]; returns (bundle, [p0, p1, p2], link, fresh program q)."""
    b, (p0,) = env.chain(1)
    p1, p2, q = env.prog("p1"), env.prog("p2"), env.prog("q")
    link = env.link(b, p1)
    b.attach(p2)
    return b, [p0, p1, p2], link, q


@pytest.mark.parametrize("with_replace", [False, True])
def test_update_swaps_the_program_in_place(linked, with_replace):
    b, (p0, p1, p2), link, q = linked
    rev = b.revision
    if with_replace:
        link.update(q, F.REPLACE, old_prog=p1)
    else:
        link.update(q)
    assert ids(b) == pids(p0, q, p2)
    assert list(b.query().link_ids) == [0, link.id, 0]
    assert link.prog.id == q.id and link.attached
    assert b.revision == rev + 1


def test_update_releases_the_old_program(linked):
    b, (p0, p1, p2), link, q = linked
    link.update(q)
    b.attach(p1, F.BEFORE)
    assert ids(b) == pids(p1, p0, q, p2)


@pytest.mark.parametrize("with_replace", [False, True])
def test_update_to_its_own_program_changes_nothing(linked, with_replace):
    b, (p0, p1, p2), link, q = linked
    before = snapshot(b)
    if with_replace:
        link.update(p1, F.REPLACE, old_prog=p1)
    else:
        link.update(p1)
    assert snapshot(b) == before
    assert link.prog.id == p1.id


@pytest.mark.parametrize("flags", [F.BEFORE, F.AFTER, F.ID, F.LINK, F.REPLACE | F.BEFORE,
                                   1 << 0, 1 << 6, 1 << 31, 1 << 32, -1], ids=hex)
def test_update_flags_other_than_REPLACE_are_EINVAL_first(env, linked, flags):
    b, (p0, p1, p2), link, q = linked
    assert_fails(b, EINVAL, link.update, q, flags, old_prog=p1)
    assert_fails(b, EINVAL, link.update, env.closed_prog(), flags)
    closed = env.link(b, env.prog("c"))
    closed.close()
    assert_fails(b, EINVAL, closed.update, q, flags)


def test_update_closed_link_is_EBADF(env, linked):
    b, (p0, p1, p2), link, q = linked
    link.close()
    assert ids(b) == pids(p0, p2)
    assert_fails(b, EBADF, link.update, q)
    assert_fails(b, EBADF, link.update, q, F.REPLACE, old_prog=None)
    assert_fails(b, EBADF, link.update, env.closed_prog())


def test_update_closed_new_program_is_EBADF(env, linked):
    b, (p0, p1, p2), link, q = linked
    assert_fails(b, EBADF, link.update, env.closed_prog())
    # before the old_prog checks
    assert_fails(b, EBADF, link.update, env.closed_prog(), F.REPLACE, old_prog=None)
    assert_fails(b, EBADF, link.update, env.closed_prog(), 0, old_prog=p1)


def test_update_REPLACE_old_prog_checks(env, linked):
    b, (p0, p1, p2), link, q = linked
    assert_fails(b, EBADF, link.update, q, F.REPLACE, old_prog=env.closed_prog())
    assert_fails(b, EINVAL, link.update, q, F.REPLACE, old_prog=None)
    assert_fails(b, EINVAL, link.update, q, F.REPLACE)
    assert_fails(b, EINVAL, link.update, q, 0, old_prog=p1)


def test_update_detached_link_is_ENOLINK(env, linked):
    b, (p0, p1, p2), link, q = linked
    link.detach()
    assert_fails(b, ENOLINK, link.update, q)
    assert_fails(b, ENOLINK, link.update, q, F.REPLACE, old_prog=p1)
    assert_fails(b, ENOLINK, link.update, p1)           # before "own program: no change"
    assert_fails(b, ENOLINK, link.update, q, F.REPLACE, old_prog=p0)  # before EPERM
    assert_fails(b, ENOLINK, link.update, p0)           # before EEXIST
    # argument errors still come first
    assert_fails(b, EINVAL, link.update, q, F.REPLACE, old_prog=None)
    assert_fails(b, EINVAL, link.update, q, 0, old_prog=p1)
    assert_fails(b, EINVAL, link.update, q, F.BEFORE)


def test_update_REPLACE_with_the_wrong_old_prog_is_EPERM(env, linked):
    b, (p0, p1, p2), link, q = linked
    assert_fails(b, EPERM, link.update, q, F.REPLACE, old_prog=p0)
    assert_fails(b, EPERM, link.update, q, F.REPLACE, old_prog=env.prog("x"))
    assert_fails(b, EPERM, link.update, p2, F.REPLACE, old_prog=p0)  # before EEXIST
    assert_fails(b, EPERM, link.update, p1, F.REPLACE, old_prog=q)   # before "own program"
    link.update(q)
    assert_fails(b, EPERM, link.update, p1, F.REPLACE, old_prog=p1)  # p1 is no longer its prog


def test_update_to_a_program_elsewhere_in_the_chain_is_EEXIST(env, linked):
    b, (p0, p1, p2), link, q = linked
    other = env.link(b, env.prog("o"))
    assert_fails(b, EEXIST, link.update, p0)
    assert_fails(b, EEXIST, link.update, p2, F.REPLACE, old_prog=p1)
    assert_fails(b, EEXIST, link.update, other.prog)


# --------------------------------------------------------------------------------------------
# link detach and link close


def test_link_detach_removes_its_slot_and_a_second_detach_changes_nothing(linked):
    b, (p0, p1, p2), link, q = linked
    rev = b.revision
    link.detach()
    assert not link.attached and not link.closed
    assert ids(b) == pids(p0, p2)
    assert list(b.query().link_ids) == [0, 0]
    assert b.revision == rev + 1
    before = snapshot(b)
    link.detach()
    assert snapshot(b) == before
    b.attach(p1, F.AFTER, relative=p0)  # its program is free to be attached again
    assert ids(b) == pids(p0, p1, p2)


def test_link_detach_of_the_last_entry_frees_the_chain(env):
    b = env.bundle()
    link = env.link(b, env.prog())
    link.detach()
    assert b.revision == 1 and ids(b) == []


def test_link_close_releases_its_slot(env, linked):
    b, (p0, p1, p2), link, q = linked
    rev = b.revision
    link_id = link.id
    link.close()
    assert link.closed and not link.attached
    assert ids(b) == pids(p0, p2)
    assert b.revision == rev + 1
    link.close()  # idempotent
    assert b.revision == rev + 1
    assert_fails(b, EBADF, link.detach)
    assert_fails(b, EBADF, link.update, q)
    assert_fails(b, EBADF, b.attach, q, F.BEFORE | F.LINK, relative=link)
    assert_fails(b, ENOENT, b.attach, q, F.BEFORE | F.LINK | F.ID, relative=link_id)


def test_link_close_after_detach_changes_nothing(linked):
    b, (p0, p1, p2), link, q = linked
    link.detach()
    before = snapshot(b)
    link.close()
    assert snapshot(b) == before


def test_closing_the_program_of_a_link_keeps_it_attached(env, linked):
    b, (p0, p1, p2), link, q = linked
    p1_id = p1.id
    p1.close()
    assert ids(b) == [p0.id, p1_id, p2.id]
    b.attach(q, F.AFTER | F.ID, relative=p1_id)
    assert ids(b) == [p0.id, p1_id, q.id, p2.id]
    link.detach()
    assert ids(b) == pids(p0, q, p2)


# --------------------------------------------------------------------------------------------
# detach: common checks


@pytest.mark.parametrize("used", [False, True])
def test_detach_on_an_empty_chain_is_ENOENT_first(env, used):
    b = env.bundle()
    p, q = env.progs(2)
    if used:
        b.attach(p)
        b.detach(p)
    assert_fails(b, ENOENT, b.detach, p)
    assert_fails(b, ENOENT, b.detach, None)
    assert_fails(b, ENOENT, b.detach, None, F.BEFORE)
    # before REPLACE, stale revision and the relative
    assert_fails(b, ENOENT, b.detach, p, F.REPLACE)
    assert_fails(b, ENOENT, b.detach, p, expected_revision=stale(b))
    assert_fails(b, ENOENT, b.detach, None, F.BEFORE, relative=env.closed_prog())
    assert_fails(b, ENOENT, b.detach, None, F.BEFORE | F.LINK, relative=q)


def test_detach_with_REPLACE_is_EINVAL_before_ESTALE(env):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, EINVAL, b.detach, p0, F.REPLACE)
    assert_fails(b, EINVAL, b.detach, None, F.REPLACE)
    assert_fails(b, EINVAL, b.detach, p0, F.REPLACE, expected_revision=stale(b))


def test_detach_stale_revision_before_relative_and_program(env):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, ESTALE, b.detach, p0, expected_revision=stale(b))
    assert_fails(b, ESTALE, b.detach, env.prog("notin"), expected_revision=stale(b))
    assert_fails(b, ESTALE, b.detach, p0, F.BEFORE, relative=env.closed_prog(),
                 expected_revision=stale(b))


def test_detach_relative_is_resolved_before_the_program_is_looked_up(env):
    b, (p0, p1) = env.chain(2)
    notin = env.prog("notin")
    assert_fails(b, EBADF, b.detach, notin, F.BEFORE, relative=env.closed_prog())
    assert_fails(b, EBADF, b.detach, notin, 0, relative=env.closed_prog())
    assert_fails(b, EINVAL, b.detach, notin, F.LINK, relative=p0)
    assert_fails(b, ENOENT, b.detach, notin, F.ID, relative=MISSING_ID)


# --------------------------------------------------------------------------------------------
# detach with a program


def test_detach_program_removes_it(env):
    b, (p0, p1, p2) = env.chain(3)
    rev = b.revision
    b.detach(p1)
    assert ids(b) == pids(p0, p2)
    assert b.revision == rev + 1


def test_detach_program_not_in_the_chain_is_ENOENT(env):
    b, (p0,) = env.chain(1)
    notin = env.prog("notin")
    assert_fails(b, ENOENT, b.detach, notin)
    assert_fails(b, ENOENT, b.detach, notin, F.BEFORE, relative=p0)


def test_detach_program_attached_through_a_link_is_EBUSY(env):
    b, (p0,) = env.chain(1)
    held = env.prog("held")
    env.link(b, held)
    assert_fails(b, EBUSY, b.detach, held)
    # before the directive checks
    assert_fails(b, EBUSY, b.detach, held, F.BEFORE)
    assert_fails(b, EBUSY, b.detach, held, F.AFTER, relative=env.prog("x"))


@pytest.mark.parametrize("relative", ["in chain", "not in chain", "link", "id"])
def test_detach_program_ignores_a_resolvable_relative_without_directive(env, relative):
    b, (p0, p1, p2) = env.chain(3)
    link = env.link(b, env.prog("l"))
    flags, rel = {"in chain": (0, p0), "not in chain": (0, env.prog("notin")),
                  "link": (F.LINK, link), "id": (F.ID, p2.id)}[relative]
    b.detach(p1, flags, relative=rel)
    assert ids(b) == [p0.id, p2.id, link.prog.id]


def test_detach_program_BEFORE_X_requires_it_right_before_X(env):
    b, (p0, p1, p2) = env.chain(3)
    assert_fails(b, ERANGE, b.detach, p0, F.BEFORE, relative=p2)
    assert_fails(b, ERANGE, b.detach, p1, F.BEFORE, relative=p1)
    assert_fails(b, ERANGE, b.detach, p2, F.BEFORE, relative=p1)
    assert_fails(b, ERANGE, b.detach, p0, F.BEFORE, relative=p0)  # X first: no slot before
    assert_fails(b, ENOENT, b.detach, p0, F.BEFORE, relative=env.prog("notin"))
    b.detach(p1, F.BEFORE, relative=p2)
    assert ids(b) == pids(p0, p2)


def test_detach_program_AFTER_X_requires_it_right_after_X(env):
    b, (p0, p1, p2) = env.chain(3)
    assert_fails(b, ERANGE, b.detach, p2, F.AFTER, relative=p0)
    assert_fails(b, ERANGE, b.detach, p0, F.AFTER, relative=p1)
    assert_fails(b, ERANGE, b.detach, p2, F.AFTER, relative=p2)  # X last: no slot after
    assert_fails(b, ENOENT, b.detach, p1, F.AFTER, relative=env.prog("notin"))
    b.detach(p1, F.AFTER | F.ID, relative=p0.id)
    assert ids(b) == pids(p0, p2)


def test_detach_program_next_to_a_link(env):
    b, (p0,) = env.chain(1)
    link = env.link(b, env.prog("l"))
    p2 = env.prog("p2")
    b.attach(p2)
    assert_fails(b, ERANGE, b.detach, p0, F.AFTER | F.LINK, relative=link)
    b.detach(p0, F.BEFORE | F.LINK, relative=link)
    b.detach(p2, F.AFTER, relative=link.prog)  # a program relative matches the link's slot
    assert ids(b) == [link.prog.id]


@pytest.mark.parametrize("n", [1, 3])
def test_detach_program_BEFORE_without_relative_always_fails(env, n):
    b, ps = env.chain(n)
    for p in ps:
        assert_fails(b, ERANGE, b.detach, p, F.BEFORE)


@pytest.mark.parametrize("n", [1, 3])
def test_detach_program_AFTER_without_relative_always_fails(env, n):
    # SPEC: "AFTER names the slot after the last"; Linux 6.18 agrees (ERANGE even for the last)
    b, ps = env.chain(n)
    for p in ps:
        assert_fails(b, ERANGE, b.detach, p, F.AFTER)


@pytest.mark.parametrize("relative", ["none", "middle"])
def test_detach_program_with_BEFORE_and_AFTER_is_ERANGE(env, relative):
    b, (p0, p1, p2) = env.chain(3)
    rel = None if relative == "none" else p1
    assert_fails(b, ERANGE, b.detach, p0, F.BEFORE | F.AFTER, relative=rel)
    assert_fails(b, ERANGE, b.detach, p2, F.BEFORE | F.AFTER, relative=rel)


# --------------------------------------------------------------------------------------------
# detach without a program


@pytest.mark.parametrize("flags", ["none", "AFTER"])
def test_detach_without_program_removes_the_last(env, flags):
    b, (p0, p1, p2) = env.chain(3)
    b.detach(None, 0 if flags == "none" else F.AFTER)
    assert ids(b) == pids(p0, p1)


def test_detach_without_program_BEFORE_removes_the_first(env):
    b, (p0, p1, p2) = env.chain(3)
    b.detach(None, F.BEFORE)
    assert ids(b) == pids(p1, p2)


@pytest.mark.parametrize("directive,x,removed", [
    ("BEFORE", 2, 1), ("BEFORE", 1, 0), ("AFTER", 0, 1), ("AFTER", 1, 2),
    ("BEFORE", 0, 0),  # clamped: the entry "before the first" is the first itself
    ("AFTER", 2, 2),   # clamped: the entry "after the last" is the last itself
])
def test_detach_without_program_next_to_a_relative(env, directive, x, removed):
    b, ps = env.chain(3)
    b.detach(None, F[directive], relative=ps[x])
    assert ids(b) == [p.id for i, p in enumerate(ps) if i != removed]


def test_detach_without_program_by_id_and_by_link(env):
    b, (p0, p1, p2) = env.chain(3)
    link = env.link(b, env.prog("l"), F.AFTER, relative=p0)
    b.detach(None, F.BEFORE | F.ID, relative=p2.id)
    assert ids(b) == [p0.id, link.prog.id, p2.id]
    b.detach(None, F.AFTER | F.LINK, relative=link)
    assert ids(b) == [p0.id, link.prog.id]
    b.detach(None, F.BEFORE | F.LINK | F.ID, relative=link.id)
    assert ids(b) == [link.prog.id]


@pytest.mark.parametrize("relative", ["in chain", "not in chain", "link", "id"])
def test_detach_without_program_relative_without_directive_is_EINVAL(env, relative):
    b, (p0, p1) = env.chain(2)
    link = env.link(b, env.prog("l"))
    flags, rel = {"in chain": (0, p0), "not in chain": (0, env.prog("notin")),
                  "link": (F.LINK, link), "id": (F.ID, p1.id)}[relative]
    assert_fails(b, EINVAL, b.detach, None, flags, relative=rel)


@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_detach_without_program_relative_not_in_chain_is_ENOENT(env, directive):
    b, (p0, p1) = env.chain(2)
    assert_fails(b, ENOENT, b.detach, None, F[directive], relative=env.prog("notin"))


@pytest.mark.parametrize("relative", ["none", "middle"])
def test_detach_without_program_BEFORE_and_AFTER_is_ERANGE(env, relative):
    # a corner case SPEC leaves to the kernel: Linux 6.18 answers ERANGE
    b, (p0, p1, p2) = env.chain(3)
    assert_fails(b, ERANGE, b.detach, None, F.BEFORE | F.AFTER,
                 relative=None if relative == "none" else p1)


@pytest.mark.parametrize("where", ["last", "first", "before X", "after X"])
def test_detach_without_program_of_a_link_held_entry_is_EBUSY(env, where):
    b, (p0,) = env.chain(1)
    link = env.link(b, env.prog("l"), F.BEFORE if where in ("first", "before X") else F.AFTER)
    flags, rel = {"last": (0, None), "first": (F.BEFORE, None), "before X": (F.BEFORE, p0),
                  "after X": (F.AFTER, p0)}[where]
    assert_fails(b, EBUSY, b.detach, None, flags, relative=rel)
    assert link.attached


# --------------------------------------------------------------------------------------------
# query


def test_query_reports_everything_in_order(env):
    b, (p0, p1) = env.chain(2)
    link = env.link(b, env.prog("l"), F.BEFORE, relative=p1)
    q = b.query()
    assert q.revision == 4 and q.count == 3
    assert list(q.prog_ids) == [p0.id, link.prog.id, p1.id]
    assert list(q.link_ids) == [0, link.id, 0]
    assert list(q.prog_attach_flags) == [0, 0, 0]
    assert list(q.link_attach_flags) == [0, 0, 0]


@pytest.mark.parametrize("count", [None, 3, 4, 63, 1000])
def test_query_with_room_for_everything(env, count):
    b, ps = env.chain(3)
    q = b.query(count=count)
    assert q == b.query()
    assert list(q.prog_ids) == pids(*ps) and q.count == 3


def test_query_count_zero_gives_the_total_and_no_entries(env):
    b, ps = env.chain(3)
    q = b.query(count=0)
    assert (q.revision, q.count) == (b.revision, 3)
    assert q.prog_ids == () and q.link_ids == ()
    assert q.prog_attach_flags == () and q.link_attach_flags == ()


@pytest.mark.parametrize("count", [1, 2, 3])
def test_query_count_too_small_is_ENOSPC_with_the_total_and_a_partial_result(env, count):
    b, (p0, p1) = env.chain(2)
    link = env.link(b, env.prog("l"), F.AFTER, relative=p0)
    b.attach(env.prog("p3"))
    full = b.query()
    e = assert_fails(b, ENOSPC, b.query, count=count)
    assert e.count == 4
    part = e.partial
    assert part.count == 4 and part.revision == full.revision
    assert part.prog_ids == full.prog_ids[:count]
    assert part.link_ids == full.link_ids[:count]
    assert part.prog_attach_flags == full.prog_attach_flags[:count]
    assert part.link_attach_flags == full.link_attach_flags[:count]
    assert list(full.link_ids) == [0, link.id, 0, 0]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_query_of_an_empty_chain(env, count):
    b = env.bundle()
    q = b.query(count=count)
    assert (q.revision, q.count, q.prog_ids) == (1, 0, ())


def test_query_negative_count_is_ValueError(env):
    b, ps = env.chain(1)
    with pytest.raises(ValueError):
        b.query(count=-1)


# --------------------------------------------------------------------------------------------
# run(ctx): the fast path (core and model call each program's callable)


# The kernel runs BPF, not Python callables: these tests take core and model only.
core_and_model = pytest.mark.parametrize("backend", ["core", "model"], indirect=True)


@pytest.fixture
def runner(backend, env):
    calls = []

    def make(name, verdict=NEXT):
        def fn(ctx):
            calls.append((name, ctx))
            return verdict
        return env.prog(name, fn=fn)

    return make, calls


@core_and_model
def test_run_calls_every_program_in_chain_order_and_returns_NEXT(env, runner):
    make, calls = runner
    b = env.bundle()
    a, c, m = make("a"), make("c"), make("m")
    b.attach(a)
    b.attach(c)
    env.link(b, m, F.AFTER, relative=a)
    assert b.run("ctx") == NEXT
    assert calls == [("a", "ctx"), ("m", "ctx"), ("c", "ctx")]


@core_and_model
@pytest.mark.parametrize("verdict", [0, 2, 7])
def test_run_stops_at_the_first_verdict_other_than_NEXT(env, runner, verdict):
    make, calls = runner
    b = env.bundle()
    for p in (make("a"), make("b", verdict), make("c", 1)):
        b.attach(p)
    assert b.run(42) == verdict
    assert calls == [("a", 42), ("b", 42)]


@core_and_model
def test_run_on_an_empty_chain_is_NEXT(env, runner):
    b = env.bundle()
    assert b.run(None) == NEXT
    a = runner[0]("a", 3)
    b.attach(a)
    b.detach(a)
    assert b.run(None) == NEXT
    assert runner[1] == []


@core_and_model
def test_run_follows_replace_update_and_detach(env, runner):
    make, calls = runner
    b = env.bundle()
    a, c, r, u = make("a"), make("c"), make("r"), make("u")
    b.attach(a)
    link = env.link(b, c)
    b.attach(r, F.REPLACE, replace=a)
    link.update(u)
    b.run(0)
    assert [n for n, _ in calls] == ["r", "u"]
    calls.clear()
    link.detach()
    b.run(0)
    assert [n for n, _ in calls] == ["r"]


# --------------------------------------------------------------------------------------------
# list(b), len(b)


def test_list_and_len_follow_the_chain(env):
    b = env.bundle()
    assert list(b) == [] and len(b) == 0
    p0, p1, p2 = env.progs(3)
    b.attach(p0)
    link = env.link(b, p1, F.BEFORE)
    b.attach(p2, F.AFTER, relative=p1)
    progs = list(b)
    assert [p.id for p in progs] == pids(p1, p2, p0)
    assert [p.name for p in progs] == ["p1", "p2", "p0"]
    assert len(b) == 3
    link.detach()
    assert [p.id for p in b] == pids(p2, p0) and len(b) == 2
