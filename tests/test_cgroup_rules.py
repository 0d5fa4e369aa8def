"""The cgroup dialect's rules, each with its errno and order of checks (docs/cgroup.md).

Every rule here was settled on the live kernel (6.18) and runs on every backend that
implements the cgroup dialect (``cgroup`` fixture in conftest.py), so the kernel pins the
model and the model's rules are checked against the kernel on each run.
"""
from __future__ import annotations

import errno

import pytest

from mprog.flags import CgroupFlag as F

OV, MU, RE, BE, AF, ID, PRE, LK = (F.ALLOW_OVERRIDE, F.ALLOW_MULTI, F.REPLACE, F.BEFORE,
                                   F.AFTER, F.ID, F.PREORDER, F.LINK)
UNUSED_ID = 0x7FFFFFF0  # an id no program or link has (kernel ids are handed out from 1)


def outcome(fn, *args, **kw):
    """"ok" or the errno's name: what one operation did."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


def unchanged(b, fn, *args, **kw):
    """The errno's name of an operation that must fail and change nothing."""
    before = b.query()
    got = outcome(fn, *args, **kw)
    assert got != "ok", f"{fn.__name__}{args} succeeded"
    assert b.query() == before
    return got


# -- revision -----------------------------------------------------------------------------

def test_revision_counts_from_1_and_does_not_reset_when_the_list_empties(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    assert (b.query().revision, b.query().count, b.query().attach_flags) == (1, 0, 0)
    b.attach(p, MU)
    b.attach(q, MU | BE, relative=p)
    assert cg.order(b) == [q, p] and b.revision == 3
    b.detach(p)
    b.detach(q)
    assert (b.revision, len(b), b.query().attach_flags) == (5, 0, 0)
    b.attach(p)  # the mode is free again once the list is empty
    assert (b.revision, b.query().attach_flags) == (6, 0)


# -- modes --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0, OV])
def test_a_single_mode_attach_replaces_the_one_program(cg, mode):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, mode)
    b.attach(p, mode)  # the same program again: replaced by itself, a change all the same
    assert (cg.order(b), b.revision, b.query().attach_flags) == ([p], 3, mode)
    b.attach(q, mode | BE | AF, relative=UNUSED_ID)  # the relative is never looked at
    assert (cg.order(b), b.revision) == ([q], 4)


@pytest.mark.parametrize("mode,other", [(0, OV), (0, MU), (OV, 0), (OV, MU), (MU, 0), (MU, OV)])
def test_mode_must_match_a_non_empty_list(cg, mode, other):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, mode)
    assert unchanged(b, b.attach, q, other) == "EPERM"
    if mode != MU:
        assert unchanged(b, b.link, q) == "EPERM"  # a link always attaches with ALLOW_MULTI


def test_mode_combinations_the_kernel_refuses(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    assert unchanged(b, b.attach, p, OV | MU) == "EINVAL"
    assert unchanged(b, b.attach, p, RE, replace=q) == "EINVAL"         # REPLACE needs MULTI
    assert unchanged(b, b.attach, p, OV | RE, replace=q) == "EINVAL"
    assert unchanged(b, b.attach, p, MU | RE | BE, replace=q) == "EINVAL"
    assert unchanged(b, b.attach, p, MU | RE | AF, replace=q) == "EINVAL"
    for bits in (OV, MU, RE, 1 << 7, 1 << 14):
        assert unchanged(b, b.link, p, bits) == "EINVAL"                  # link flags mask
    for bit in (7, 8, 12, 14, 31):
        assert unchanged(b, b.attach, p, MU | 1 << bit) == "EINVAL"      # unknown bits


def test_link_checks_its_program_before_its_flags_attach_the_other_way(cg):
    b = cg.bundle()
    closed = cg.closed_program()
    assert unchanged(b, b.link, closed, OV) == "EBADF"
    assert unchanged(b, b.attach, closed, MU | 1 << 7) == "EINVAL"
    assert unchanged(b, b.attach, closed, MU) == "EBADF"
    assert unchanged(b, b.link, closed, 0, expected_revision=9) == "EBADF"


# -- capacity and duplicates ------------------------------------------------------------

def test_a_list_holds_64_then_e2big_before_anything_but_estale(cg):
    b = cg.bundle()
    progs = cg.programs(66)
    for p in progs[:64]:
        b.attach(p, MU)
    extra, spare = progs[64], progs[65]
    assert unchanged(b, b.attach, extra, MU) == "E2BIG"
    assert unchanged(b, b.attach, progs[0], MU) == "E2BIG"                  # before EINVAL dup
    assert unchanged(b, b.attach, extra, MU | RE, replace=progs[0]) == "E2BIG"  # even REPLACE
    assert unchanged(b, b.attach, extra, MU, expected_revision=3) == "ESTALE"
    assert unchanged(b, b.attach, extra, OV) == "EPERM"
    assert unchanged(b, b.link, spare) == "E2BIG"
    b.detach(progs[0])
    b.attach(extra, MU)
    assert len(b) == 64


def test_duplicates_are_einval_but_a_program_may_sit_by_program_and_by_links(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, MU)
    assert unchanged(b, b.attach, p, MU) == "EINVAL"
    assert unchanged(b, b.attach, p, MU | BE, relative=cg.closed_program()) == "EINVAL"
    assert unchanged(b, b.attach, p, MU | BE, relative=q) == "EINVAL"   # before ENOENT
    with b.link(p) as l1, b.link(p) as l2:
        assert cg.order(b) == [p, p, p]
        assert len({l1.id, l2.id}) == 2
        b.attach(q, MU)
        assert cg.order(b) == [p, p, p, q]


# -- the hierarchy ------------------------------------------------------------------------

def test_an_ancestor_with_one_program_without_override_forbids_attaching_below(cg):
    a = cg.bundle()
    b = cg.bundle(parent=a)
    c = cg.bundle(parent=b)
    p, q, r = cg.programs(3)
    a.attach(p)
    for bundle in (b, c):  # through an empty parent too
        assert unchanged(bundle, bundle.attach, q, MU) == "EPERM"
        assert unchanged(bundle, bundle.link, q) == "EPERM"
    # ESTALE comes first, the mode combinations before that
    assert unchanged(c, c.attach, q, MU, expected_revision=9) == "ESTALE"
    assert unchanged(c, c.attach, q, OV | MU, expected_revision=9) == "EINVAL"
    a.detach()
    a.attach(p, OV)
    c.attach(q)
    b.attach(r)  # an overridable ancestor allows it; now b holds one program without override
    assert unchanged(c, c.attach, q) == "EPERM"  # which forbids even c's own replace
    b.detach()
    a.detach()
    a.attach(p, MU)
    c.attach(r)
    assert cg.order(c) == [r]


def test_the_nearest_ancestor_that_holds_anything_decides(cg):
    a = cg.bundle()
    b = cg.bundle(parent=a)
    c = cg.bundle(parent=b)
    p, q, r = cg.programs(3)
    b.attach(q, MU)
    a.attach(p)  # one program without override, above b's ALLOW_MULTI list
    c.attach(r)  # b decides (ALLOW_MULTI), not a
    assert cg.order(c, effective=True) == [r, q]
    b.detach(q)
    assert unchanged(c, c.attach, q) == "EPERM"  # b is empty now: a decides


def test_attaching_above_is_never_refused_for_what_is_below(cg):
    a = cg.bundle()
    c = cg.bundle(parent=a)
    p, q, r = cg.programs(3)
    c.attach(q, MU)
    a.attach(p)  # fine, although c now sits below a single non-override program
    assert unchanged(c, c.attach, r, MU) == "EPERM"
    assert cg.order(c, effective=True) == [q]  # and a's program does not run for c


# -- relatives ----------------------------------------------------------------------------

def test_program_relatives(cg):
    b = cg.bundle()
    p, q, r, s, t = cg.programs(5)
    b.attach(p, MU)
    b.attach(q, MU)
    assert unchanged(b, b.attach, r, MU | BE | AF) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | BE | AF, relative=p) == "EINVAL"
    assert unchanged(b, b.attach, r, MU, relative=p) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | ID, relative=p.id) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | BE, relative=s) == "ENOENT"
    assert unchanged(b, b.attach, r, MU | AF, relative=r) == "ENOENT"
    assert unchanged(b, b.attach, r, MU | BE, relative=cg.closed_program()) == "EBADF"
    assert unchanged(b, b.attach, r, MU | BE | ID) == "ENOENT"
    assert unchanged(b, b.attach, r, MU | BE | ID, relative=UNUSED_ID) == "ENOENT"
    assert unchanged(b, b.attach, r, MU | BE | LK) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | LK) == "EINVAL"
    b.attach(r, MU | BE | ID, relative=q.id)
    b.attach(s, MU | AF)
    b.attach(t, MU | BE)
    assert cg.order(b) == [t, p, r, q, s]


def test_both_directions_without_relative_are_fine_on_an_empty_list_only(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, MU | BE | AF, expected_revision=1)
    assert unchanged(b, b.attach, q, MU | BE | AF) == "EINVAL"


def test_a_program_relative_names_an_entry_attached_by_program(cg):
    b = cg.bundle()
    p, q, r = cg.programs(3)
    with b.link(p), b.link(q) as lq:
        assert unchanged(b, b.attach, r, MU | BE, relative=p) == "ENOENT"
        assert unchanged(b, b.attach, r, MU | BE | LK, relative=lq) == "EINVAL"
        b.attach(p, MU)  # p once more, by program: now it can be named
        b.attach(r, MU | BE, relative=p)
        assert cg.order(b) == [p, q, r, p]


def test_link_relatives(cg):
    b = cg.bundle()
    p, q, r, s = cg.programs(4)
    with b.link(p) as lp:
        assert unchanged(b, b.link, q, BE, relative=p) == "EINVAL"   # a program: needs LINK
        b.attach(s, MU)
        assert unchanged(b, b.link, q, BE | LK, relative=s) == "EINVAL"
        assert unchanged(b, b.link, q, LK, relative=lp) == "EINVAL"
        assert unchanged(b, b.link, q, BE | LK) == "EINVAL"
        assert unchanged(b, b.link, q, BE | LK | ID) == "ENOENT"
        with b.link(q, BE | LK, relative=lp), b.link(r, AF | LK | ID, relative=lp.id):
            assert cg.order(b) == [q, p, r, s]


# -- PREORDER -----------------------------------------------------------------------------

def test_a_relative_must_match_preorder(cg):
    b = cg.bundle()
    p, q, r, s = cg.programs(4)
    b.attach(p, MU)
    b.attach(q, MU | PRE)
    assert unchanged(b, b.attach, r, MU | AF, relative=q) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | PRE | AF, relative=p) == "EINVAL"
    assert unchanged(b, b.attach, r, MU | PRE | AF, relative=s) == "ENOENT"
    b.attach(r, MU | PRE | AF, relative=q)
    b.attach(s, MU | BE)  # no relative: PREORDER is not looked at
    assert cg.order(b) == [s, p, q, r]
    assert cg.order(b, effective=True) == [q, r, s, p]


# -- REPLACE ------------------------------------------------------------------------------

def test_replace(cg):
    b = cg.bundle()
    p, q, r, s, t = cg.programs(5)
    b.attach(p, MU)
    b.attach(q, MU)
    with b.link(t):
        assert unchanged(b, b.attach, r, MU | RE, replace=t) == "ENOENT"  # a link's entry
        assert unchanged(b, b.attach, r, MU | RE, replace=s) == "ENOENT"
        assert unchanged(b, b.attach, q, MU | RE, replace=p) == "EINVAL"  # q is there
        assert unchanged(b, b.attach, r, MU | RE, replace=cg.closed_program()) == "EBADF"
        rev = b.revision
        b.attach(p, MU | RE, replace=p)  # itself: a change all the same
        assert b.revision == rev + 1
        b.attach(r, MU | RE | ID, relative=UNUSED_ID, replace=p)  # the relative is ignored
        assert cg.order(b) == [r, q, t]
        b.attach(s, MU | RE | PRE, replace=q)  # the slot takes the request's PREORDER
        assert cg.order(b, effective=True) == [s, r, t]


# -- detach -------------------------------------------------------------------------------

def test_detach_takes_no_flags_and_no_relative(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    assert unchanged(b, b.detach, p, expected_revision=9) == "ESTALE"  # before ENOENT
    assert unchanged(b, b.detach, p) == "ENOENT"
    b.attach(p, MU)
    for bits in (MU, BE, AF, RE, ID):
        assert unchanged(b, b.detach, p, bits) == "EINVAL"
    assert unchanged(b, b.detach, p, 0, relative=q) == "EINVAL"
    assert unchanged(b, b.detach, p, MU, expected_revision=9) == "EINVAL"  # before ESTALE
    assert unchanged(b, b.detach, p, expected_revision=9) == "ESTALE"


def test_detach_in_multi_mode_names_a_program_attached_by_program(cg):
    b = cg.bundle()
    p, q, r = cg.programs(3)
    b.attach(p, MU)
    with b.link(q):
        assert unchanged(b, b.detach) == "EINVAL"
        assert unchanged(b, b.detach, cg.closed_program()) == "EINVAL"  # a bad fd is none
        assert unchanged(b, b.detach, r) == "ENOENT"
        assert unchanged(b, b.detach, q) == "ENOENT"  # only through its link
        b.detach(p)
        assert cg.order(b) == [q]


@pytest.mark.parametrize("mode", [0, OV])
def test_detach_without_multi_removes_the_one_program_whatever_is_named(cg, mode):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, mode)
    b.detach(q)
    assert (len(b), b.revision) == (0, 3)
    b.attach(p, mode)
    b.detach()
    assert (len(b), b.revision) == (0, 5)


# -- links --------------------------------------------------------------------------------

def test_link_update_and_detach(cg):
    b = cg.bundle()
    p, q, r = cg.programs(3)
    b.attach(q, MU)
    link = b.link(p)
    rev = b.revision
    link.update(p)  # its own program: still a change
    assert b.revision == rev + 1
    link.update(q)  # q is in the list already: allowed
    assert cg.order(b) == [q, q]
    assert unchanged(b, link.update, r, RE, old_prog=p) == "EPERM"
    assert unchanged(b, link.update, r, BE) == "EINVAL"
    link.update(r, RE, old_prog=q)
    rev = b.revision
    link.detach()
    assert (b.revision, link.attached) == (rev + 1, False)
    link.detach()  # detached already: nothing changes
    assert b.revision == rev + 1
    assert unchanged(b, link.update, p) == "ENOLINK"
    assert unchanged(b, link.update, p, BE) == "EINVAL"  # flags first
    link.close()
    with b.link(p):
        rev = b.revision
    assert b.revision == rev + 1  # closing an attached link detaches it


# -- query --------------------------------------------------------------------------------

def test_query_shows_the_mode_and_no_link_ids(cg):
    b = cg.bundle()
    p, q = cg.programs(2)
    b.attach(p, MU | PRE)
    with b.link(q):
        res = b.query()
        assert res.link_ids == (0, 0)  # cgroup-bpf never reports link ids
        assert res.prog_attach_flags == (MU, MU)  # the mode per entry, not the entry's flags
        assert res.link_attach_flags == (0, 0)
        assert res.attach_flags == MU
        eff = b.query(effective=True)
        assert (eff.revision, eff.attach_flags, eff.count) == (0, 0, 2)
        assert eff.prog_attach_flags == (0, 0)
        with pytest.raises(OSError) as e:
            b.query(1)
        assert e.value.errno == errno.ENOSPC and e.value.count == 2
        with pytest.raises(OSError) as e:
            b.query(1, effective=True)
        assert e.value.errno == errno.ENOSPC
        assert e.value.partial.prog_ids == (p.id,)
        assert b.query(0).prog_ids == () and b.query(0).count == 2


# -- effective arrays ---------------------------------------------------------------------

def test_effective_array_across_three_levels(cg):
    a = cg.bundle()
    b = cg.bundle(parent=a)
    c = cg.bundle(parent=b)
    p = cg.programs(9)
    a.attach(p[0], MU)
    a.attach(p[1], MU | PRE)
    a.attach(p[2], MU)
    b.attach(p[3], MU | PRE)
    b.attach(p[4], MU)
    b.attach(p[5], MU | PRE)
    c.attach(p[6], MU)
    c.attach(p[7], MU | PRE)
    c.attach(p[8], MU | PRE)
    at = cg.indices(p)
    # PREORDER programs root-most level first (each level in list order), then the
    # cgroup's own list, then its ancestors' upward.
    assert at(c, effective=True) == [1, 3, 5, 7, 8, 6, 4, 0, 2]
    assert at(b, effective=True) == [1, 3, 5, 4, 0, 2]
    assert at(a, effective=True) == [1, 0, 2]


def test_effective_array_follows_the_modes(cg):
    a = cg.bundle()
    b = cg.bundle(parent=a)
    c = cg.bundle(parent=b)
    p = cg.programs(4)
    at = cg.indices(p)
    a.attach(p[0], MU)
    a.attach(p[1], MU | PRE)
    b.attach(p[2], OV)
    assert at(c, effective=True) == [1, 2, 0]  # an empty cgroup runs its parent's
    c.attach(p[3])
    assert at(c, effective=True) == [1, 3, 0]  # b's overridable program yields to c's
    c.detach()
    b.detach()
    b.attach(p[2])
    assert at(c, effective=True) == [1, 2, 0]
    a.detach(p[0])
    a.detach(p[1])
    a.attach(p[0], OV)
    assert at(b, effective=True) == [2]  # a's single program yields to b's
    assert at(c, effective=True) == [2]


# -- anchors (the Python API on top of the flags) ----------------------------------------

def test_anchors_say_mode_and_preorder(cg):
    from mprog.anchors import After, Before, Head, Replace, Tail
    b = cg.bundle()
    p, q, r, s, t, u = cg.programs(6)
    b.attach(p, Tail())                          # ALLOW_MULTI|AFTER
    b.attach(q, Head(preorder=True))             # ALLOW_MULTI|BEFORE|PREORDER
    b.attach(r, After(q, preorder=True))
    with b.link(s, Tail()) as ls:                # a link's anchor says no mode
        assert unchanged(b, b.link, t, Before(p)) == "EINVAL"  # a program relative
        assert unchanged(b, b.attach, t, Before(p, preorder=True)) == "EINVAL"
        with b.link(t, Before(link_id=ls.id)):
            b.attach(u, Replace(p))              # ALLOW_MULTI|REPLACE, replace=p
            assert cg.order(b) == [q, r, u, t, s]
            assert b.query().attach_flags == MU
            assert cg.order(b, effective=True) == [q, r, u, t, s]
            with pytest.raises(ValueError):
                b.link(p, Tail(mode="override"))
            assert unchanged(b, b.attach, p, Tail(mode="override")) == "EPERM"
    with pytest.raises(ValueError):
        Tail(mode="sometimes")
    c = cg.bundle()
    c.attach(p, Head(mode="none"))
    assert c.query().attach_flags == 0


def test_anchor_options_belong_to_their_dialect():
    from mprog.anchors import Head, Tail
    for dialect in ("upstream", "v2"):
        with pytest.raises(ValueError):
            Tail(preorder=True).request(dialect)
        with pytest.raises(ValueError):
            Head(mode="multi").request(dialect)
    with pytest.raises(ValueError):
        Head(first=True).request("cgroup")
