"""mprog.priority on the cgroup dialect, on the core, the model and the live kernel: the
managed list is an ALLOW_MULTI list; a list another program holds in mode none or
ALLOW_OVERRIDE, or that the hierarchy closes, is refused with nothing changed; relatives the
kernel refuses (a link's entry, a PREORDER program) are learned and avoided, each counted as a
retry; the manager tracks its links (query says link id 0); the revision never starts again.
(The scenarios every dialect shares run on cgroup too: tests/test_priority.py.)"""
from __future__ import annotations

import pytest

from mprog import After, Before, CgroupFlag, Head, MprogError, Tail
from mprog.priority import Manager
from mprog.priority.execute import execute
from mprog.priority.policy import NoAnchor
from priority_helpers import Recorder, managed_in_order

MULTI = int(CgroupFlag.ALLOW_MULTI)


def names(cg, bundle):
    return [p.name for p in cg.order(bundle)]


def test_every_managed_attach_carries_allow_multi(cg):
    b = cg.bundle()
    x, y, z = cg.programs(3, "m")
    rec = Recorder(b)
    m = Manager(rec)
    m.place(y, 2)
    m.place(x, 1)
    m.place(z, 3, link=True)
    m.reprioritize(x, 4)
    attaches = [c for c in rec.calls if c[0] == "attach"]
    assert len(attaches) == 3
    for _, _, anchor, _ in attaches:
        assert anchor.request("cgroup")[0] & MULTI
    q = b.query()
    assert q.attach_flags == MULTI and names(cg, b) == ["m1", "m2", "m0"]
    assert q.link_ids == (0, 0, 0)                  # the manager knows its link; query not
    assert m.link_of(z).attached


@pytest.mark.parametrize("mode", ["override", "none"])
def test_a_list_held_in_another_mode_is_refused_and_nothing_changes(cg, mode):
    b = cg.bundle()
    holder, x = cg.programs(2)
    b.attach(holder, Tail(mode=mode))
    rev = b.revision
    m = Manager(b)
    with pytest.raises(PermissionError, match="mode") as e:
        m.place(x, 1)
    assert e.value.errno == 1  # EPERM, as the kernel answers a MULTI attach to this list
    with pytest.raises(PermissionError):
        m.plan(x, 1)
    assert b.revision == rev and cg.order(b) == [holder] and x not in m
    b.detach(holder)                                 # freed: the manager may use it now
    m.place(x, 1)
    assert cg.order(b) == [x] and b.query().attach_flags == MULTI


def test_a_hierarchy_that_forbids_attaching_below_is_the_kernels_eperm(cg):
    root = cg.bundle()
    leaf = cg.bundle(parent=root)
    holder, x = cg.programs(2)
    root.attach(holder, Tail(mode="none"))           # a single program, no override below
    rev = leaf.revision
    m = Manager(leaf)
    with pytest.raises(PermissionError):
        m.place(x, 1)
    assert leaf.revision == rev and cg.order(leaf) == [] and x not in m


def test_a_foreign_preorder_relative_is_refused_once_then_avoided(cg):
    """The place between a PREORDER program and g is named After(it) first: the kernel refuses the
    relative (EINVAL, PREORDER differs); the manager counts a retry and names the other
    neighbour, and never names that program again while it stays."""
    b = cg.bundle()
    pre, g, x, y = cg.programs(4)
    b.attach(pre, Tail(preorder=True))
    b.attach(g, Tail())
    rec = Recorder(b)
    m = Manager(rec, anchor=Before(g))
    assert m.plan(x, 1).calls[0].anchor == After(prog_id=pre.id)
    m.place(x, 1)
    assert cg.order(b) == [pre, x, g]
    assert m.retries == rec.stale == 1
    assert [c[2] for c in rec.calls] == [After(prog_id=pre.id), Before(prog_id=g.id)]
    m.place(y, 0)                                    # before x: Before(x), its own
    assert cg.order(b) == [pre, y, x, g] and m.retries == 1
    assert cg.order(b, effective=True)[0] == pre     # PREORDER runs first wherever it sits


def test_a_foreign_links_entry_is_refused_as_a_program_relative(cg):
    b = cg.bundle()
    f, g, x = cg.programs(3)
    link = b.link(f, Tail())
    try:
        b.attach(g, Tail())
        rec = Recorder(b)
        m = Manager(rec, anchor=Before(g))             # After(f) first: f is a link's
        m.place(x, 1)
        assert cg.order(b) == [f, x, g] and m.retries == rec.stale == 1
        # A bound naming the link itself: links are named by link, programs by program.
        y = cg.programs(1, "y")[0]
        Manager(b, anchor=Before(link)).place(y, 1)
        assert cg.order(b) == [y, f, x, g]
    finally:
        link.close()


def test_a_place_no_anchor_can_name_is_refused_before_any_change(cg):
    """Between two of its links a manager cannot attach a program by program: a program
    attach names only programs attached by program, and the room is that one place."""
    b = cg.bundle()
    a, c, x = cg.programs(3)
    m = Manager(b)
    m.place(a, 1, link=True)
    m.place(c, 3, link=True)
    rev = b.revision
    with pytest.raises(NoAnchor) as e:
        m.place(x, 2)
    assert e.value.errno == 22 and b.revision == rev and x not in m
    assert m.link_of(a).attached and cg.order(b) == [a, c]
    m.place(x, 2, link=True)                          # as a link it is After(a's link)
    assert cg.order(b) == [a, x, c]
    y = cg.programs(1, "y")[0]
    m.place(y, 0)                                     # by program, at the head
    with pytest.raises(NoAnchor):
        m.reprioritize(y, 2)                          # after x, before c: it stays
    assert m.priority(y) == 0 and cg.order(b) == [y, a, x, c] and b.revision == rev + 2
    for prog in m.programs():                         # closes its links
        m.remove(prog)


def test_the_revision_goes_on_counting_after_the_list_empties(cg):
    """A move whose detach empties the list expects the next revision (tcx: 1, a new chain).
    The plan is made as planned, on every backend (docs/kernel-behaviour.md 4, item 13)."""
    b = cg.bundle()
    x = cg.programs(1)[0]
    m = Manager(b, {})                               # a store: a new priority is a move
    m.place(x, 1)
    m.remove(x)
    m.place(x, 1)
    rev = b.revision
    assert rev == 4                                  # 1, +attach, +detach, +attach
    plan = m.plan(x, 7)
    assert [(c.op, c.expected_revision) for c in plan.calls] == [("detach", rev),
                                                                ("attach", rev + 1)]
    execute(b, plan)
    assert b.revision == rev + 2 and cg.order(b) == [x]


def test_links_are_tracked_by_the_manager(cg):
    b = cg.bundle()
    x, y, z = cg.programs(3)
    m = Manager(b)
    lx = m.place(x, 1, link=True)
    lz = m.place(z, 3, link=True)
    ly = m.place(y, 2, link=True)                     # named After(link_id=lx.id)
    assert cg.order(b) == [x, y, z]
    new = m.reprioritize(x, 4)                        # a new link at the end
    assert lx.closed and new.attached and cg.order(b) == [y, z, x]
    m.remove(z)
    assert lz.closed and cg.order(b) == [y, x] and ly.attached


def test_shared_scenario_with_foreign_programs_of_every_kind(cg):
    """Foreign programs by program, through a link and PREORDER around three managed ones:
    the managed keep priority order in the list and in the effective array."""
    b = cg.bundle()
    f1, f2, pre, a, c, d = cg.programs(6)
    link = b.link(f2, Tail())
    try:
        b.attach(f1, Tail())
        b.attach(pre, Head(preorder=True))
        m = Manager(b)
        for prog, priority in ((c, 2), (a, 1), (d, 3)):
            m.place(prog, priority)
        m.reprioritize(a, 5)
        prio = {a.id: 5, c.id: 2, d.id: 3}
        ids = b.query().prog_ids
        assert managed_in_order(ids, prio)
        assert [i for i in ids if i in (f1.id, f2.id, pre.id)] == [pre.id, f2.id, f1.id]
        assert managed_in_order(b.query(effective=True).prog_ids, prio)
    finally:
        link.close()


def test_foreign_programs_may_be_refused_without_harm(cg):
    """Someone else's attach without ALLOW_MULTI to a managed list is EPERM (kernel rule):
    the managed list stays as it was."""
    b = cg.bundle()
    x, f = cg.programs(2)
    Manager(b).place(x, 1)
    with pytest.raises(MprogError):
        b.attach(f, Tail(mode="override"))
    assert cg.order(b) == [x]


def test_a_link_named_by_its_link_object(cg):
    """``Before(link)`` names a link on every backend (the kernel's cgroup links are Links
    too: before, the kernel backend sent it without BPF_F_LINK and got EINVAL)."""
    b = cg.bundle()
    x, y = cg.programs(2)
    lx = b.link(x, Tail())
    try:
        with b.link(y, Before(lx)) as ly:
            assert cg.order(b) == [y, x]
            ly.detach()
    finally:
        lx.close()


def test_a_second_handle_on_the_cgroup_shares_the_list(request):
    """Kernel-backend extra: ``CgroupBundle.open(path)`` speaks to the list of a cgroup
    another bundle (of any process) made; its close lets go of its handle only."""
    import os

    from conftest import load_backend
    kernel = load_backend("kernel")
    from mprog.kernel.cgroup import CgroupBundle
    b = kernel.Bundle("cgroup")
    x, y = (kernel.Program(n, dialect="cgroup") for n in "xy")
    try:
        other = CgroupBundle.open(b.path)
        m = Manager(other)
        m.place(y, 2)
        Manager(b, {y.id: 2}.get).place(x, 1)
        assert other.query() == b.query() and b.query().prog_ids == (x.id, y.id)
        other.close()
        assert b.query().prog_ids == (x.id, y.id) and os.path.isdir(b.path)
        with pytest.raises(ValueError):
            other.query()
        with pytest.raises(ValueError):
            CgroupBundle.open(b.path, ifindex=1)
        with pytest.raises(TypeError):
            CgroupBundle.open(3)
        with pytest.raises(FileNotFoundError):
            CgroupBundle.open(b.path + "-none")
    finally:
        b.close()
        x.close()
        y.close()
        kernel.assert_nothing_left()
    assert not os.path.exists(b.path)


def test_managed_programs_run_in_order_below_an_allow_multi_ancestor(cg):
    """Managed on a child cgroup under an ALLOW_MULTI parent with a PREORDER program and
    another one: what runs for the child is the parent's PREORDER program, the child's list in
    priority order, then the parent's other program."""
    root = cg.bundle()
    leaf = cg.bundle(parent=root)
    pre, up, a, c, d = cg.programs(5)
    root.attach(pre, Tail(preorder=True))
    root.attach(up, Tail())
    m = Manager(leaf)
    for prog, priority in ((d, 3), (a, 1), (c, 2)):
        m.place(prog, priority)
    assert cg.order(leaf, effective=True) == [pre, a, c, d, up]
    m.reprioritize(a, 9)
    assert cg.order(leaf, effective=True) == [pre, c, d, a, up]
