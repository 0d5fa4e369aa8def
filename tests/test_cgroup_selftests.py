"""The kernel's own selftests of the cgroup mprog API, as scenarios on every cgroup backend.

tools/testing/selftests/bpf/prog_tests/cgroup_mprog_opts.c and cgroup_mprog_ordering.c
(Linux 6.17), retold step by step in the protocol: their programs were getsockopt ones, ours
are CGROUP_SKB on BPF_CGROUP_INET_INGRESS (the rules are the same for every cgroup attach
type). Where the C test passes ``relative_id``, libbpf adds BPF_F_ID: so do these.
"""
from __future__ import annotations

import errno

import pytest

from mprog.flags import CgroupFlag as F

MU = F.ALLOW_MULTI


def fails(errno_name, fn, *args, **kw):
    with pytest.raises(OSError) as e:
        fn(*args, **kw)
    assert errno.errorcode[e.value.errno] == errno_name


def test_prog_attach_detach(cg):
    b = cg.bundle()
    p1, p2, p3, p4 = cg.programs(4)
    assert len(b) == 0
    b.attach(p1, MU | F.BEFORE | F.AFTER, expected_revision=1)
    assert len(b) == 1
    b.attach(p2, MU | F.BEFORE, expected_revision=2)
    assert len(b) == 2
    b.attach(p3, MU | F.AFTER, relative=p2, expected_revision=3)
    assert len(b) == 3
    b.attach(p4, MU, expected_revision=4)
    assert len(b) == 4
    q = b.query()
    assert (q.count, q.revision) == (4, 5)
    assert cg.order(b) == [p2, p3, p1, p4]
    assert q.link_ids == (0, 0, 0, 0)  # the C test: link_ids stays NULL
    b.detach(p4, expected_revision=5)
    assert len(b) == 3
    b.detach(p3)
    assert len(b) == 2
    assert b.query().revision == 7  # after two detaches
    b.detach(p2)
    assert len(b) == 1
    b.detach(p1)
    assert len(b) == 0


def test_link_attach_detach(cg):
    b = cg.bundle()
    p1, p2, p3, p4 = cg.programs(4)
    assert len(b) == 0
    link1 = b.link(p1, expected_revision=1)
    assert len(b) == 1
    link2 = b.link(p2, F.BEFORE | F.LINK | F.ID, relative=link1.id, expected_revision=2)
    assert len(b) == 2
    link3 = b.link(p3, F.AFTER | F.LINK, relative=link2, expected_revision=3)
    assert len(b) == 3
    link4 = b.link(p4, expected_revision=4)
    assert len(b) == 4
    q = b.query()
    assert (q.count, q.revision) == (4, 5)
    assert cg.order(b) == [p2, p3, p1, p4]
    assert q.link_ids == (0, 0, 0, 0)
    link4.close()
    assert len(b) == 3
    link3.close()
    assert len(b) == 2
    assert b.query().revision == 7  # after two link releases
    link2.close()
    assert len(b) == 1
    link1.close()
    assert len(b) == 0


def test_preorder_prog_attach_detach(cg):
    b = cg.bundle()
    p1, p2, p3, p4 = cg.programs(4)
    b.attach(p1, MU, expected_revision=1)
    b.attach(p2, MU | F.PREORDER, expected_revision=2)
    assert len(b) == 2
    fails("EINVAL", b.attach, p3, MU | F.AFTER, relative=p2, expected_revision=3)
    assert len(b) == 2
    b.attach(p3, MU | F.AFTER | F.PREORDER, relative=p2, expected_revision=3)
    assert len(b) == 3
    b.attach(p4, MU, expected_revision=4)
    assert len(b) == 4
    assert cg.order(b) == [p1, p2, p3, p4]
    assert cg.order(b, effective=True) == [p2, p3, p1, p4]  # the C test's "ordering"
    for p, left in ((p4, 3), (p3, 2), (p2, 1), (p1, 0)):
        b.detach(p)
        assert len(b) == left


def test_preorder_link_attach_detach(cg):
    b = cg.bundle()
    p1, p2, p3, p4 = cg.programs(4)
    link1 = b.link(p1, expected_revision=1)
    link2 = b.link(p2, F.PREORDER, expected_revision=2)
    assert len(b) == 2
    fails("EINVAL", b.link, p3, F.AFTER, relative=p2, expected_revision=3)
    assert len(b) == 2
    link3 = b.link(p3, F.AFTER | F.PREORDER | F.LINK, relative=link2, expected_revision=3)
    assert len(b) == 3
    link4 = b.link(p4, expected_revision=4)
    assert len(b) == 4
    assert cg.order(b, effective=True) == [p2, p3, p1, p4]
    for link, left in ((link4, 3), (link3, 2), (link2, 1), (link1, 0)):
        link.close()
        assert len(b) == left


def test_invalid_attach_detach(cg):
    b = cg.bundle()
    p1, p2 = cg.programs(2)
    for flags, relative, err in (
            (MU | F.BEFORE | F.AFTER | F.ID, p2.id, "EINVAL"),
            (MU | F.BEFORE | F.ID, None, "ENOENT"),
            (MU | F.AFTER | F.ID, None, "ENOENT"),
            (MU | F.BEFORE | F.AFTER | F.ID, p2.id, "EINVAL"),
            (MU | F.LINK | F.ID, p2.id, "EINVAL"),
            (MU | F.ID, p2.id, "EINVAL"),
            (MU | F.BEFORE, p1, "ENOENT"),
            (MU | F.AFTER, p1, "ENOENT")):
        fails(err, b.attach, p1, flags, relative=relative)
        assert len(b) == 0
    b.attach(p1, MU)
    assert len(b) == 1
    fails("EINVAL", b.attach, p1, MU | F.AFTER)
    assert len(b) == 1
    fails("EINVAL", b.attach, p1, MU | F.REPLACE | F.AFTER, replace=p1)
    assert len(b) == 1


@pytest.mark.parametrize("with_relative", [False, True])
def test_ordering_parent_programs(cg, with_relative):
    """cgroup_mprog_ordering.c: the second program, attached BEFORE (the first, or with no
    relative: the head), runs first."""
    ran = []

    def program(name):
        p = cg.module.Program(name, fn=lambda ctx: ran.append(name) or 1, dialect="cgroup")
        cg.keep(p)
        return p

    parent = cg.bundle()
    child = cg.bundle(parent=parent)  # the test's socket lives below the cgroup
    first, second = program("parent"), program("parent_2")
    parent.attach(first, MU)
    parent.attach(second, MU | F.BEFORE, relative=first if with_relative else None)
    assert child.run(None) == 1
    assert ran == ["parent_2", "parent"]
    parent.detach(second)
    parent.detach(first)
