"""The cgroup dialect's kernel backend itself: where its cgroups live and that it leaves
nothing behind. The rules are in test_cgroup_rules.py (run on every cgroup backend)."""
from __future__ import annotations

import os

import pytest

import mprog.kernel as kernel
from mprog.kernel import cgroupfs

ok, why = kernel.available("cgroup")
pytestmark = pytest.mark.skipif(not ok, reason=f"live kernel cgroup backend unavailable: {why}")
F = kernel.CgroupFlag


@pytest.fixture
def k():
    yield kernel
    kernel.assert_nothing_left()


def test_the_cgroup2_mount_is_read_from_proc_mounts():
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[2] == "cgroup2"]
    assert cgroupfs.mount_point() == points[0]


def test_bundles_make_a_private_tree_and_remove_it(k):
    a = k.Bundle("cgroup")
    b = k.Bundle("cgroup", parent=a)
    c = k.Bundle("cgroup", parent=b)
    assert os.path.dirname(a.path) == cgroupfs.mount_point()
    assert os.path.dirname(c.path) == b.path and os.path.dirname(b.path) == a.path
    p = k.Program("p", dialect="cgroup")
    a.attach(p, F.ALLOW_MULTI)
    link = c.link(p)
    b.close()  # a parent closed first: its directory goes once its children are gone
    assert os.path.isdir(b.path)
    with pytest.raises(ValueError):
        b.attach(p)
    with pytest.raises(ValueError):
        k.Bundle("cgroup", parent=b)
    c.close()
    assert not link.attached and not os.path.exists(c.path) and not os.path.exists(b.path)
    a.close()
    assert not os.path.exists(a.path)
    link.close()
    p.close()


def test_close_detaches_every_kind_of_entry(k):
    for mode in (0, F.ALLOW_OVERRIDE, F.ALLOW_MULTI):
        b = k.Bundle("cgroup")
        p, q = k.Program("p", dialect="cgroup"), k.Program("q", dialect="cgroup")
        b.attach(p, mode)
        link = b.link(q) if mode == F.ALLOW_MULTI else None
        p.close()  # attached programs live on; close finds them by id
        b.close()
        assert not os.path.exists(b.path)
        if link is not None:
            assert not link.attached
            link.close()
        q.close()


def test_parent_must_be_an_open_cgroup_bundle(k):
    with pytest.raises(TypeError):
        k.Bundle("cgroup", parent=object())
    tcx = k.Bundle()
    with pytest.raises(TypeError):
        k.Bundle("cgroup", parent=tcx)
    with pytest.raises(ValueError):
        k.Bundle("upstream", parent=tcx)
    tcx.close()


def test_a_tcx_program_is_not_a_cgroup_program(k):
    with k.Bundle("cgroup") as b:
        p = k.Program("tcx")
        with pytest.raises(OSError) as e:
            b.attach(p, F.ALLOW_MULTI)
        assert e.value.errno == 22
        p.close()


def test_available_names_the_dialect():
    assert kernel.available("cgroup") == (True, "")
    assert kernel.available("v2")[0] is False


def test_trees_of_processes_that_died_are_removed():
    import subprocess
    import sys
    code = ("import os, mprog.kernel as k; b = k.Bundle('cgroup'); c = k.Bundle('cgroup', parent=b);"
            "p = k.Program('p', dialect='cgroup'); c.attach(p, k.CgroupFlag.ALLOW_MULTI);"
            "print(b.path, flush=True); os._exit(0)")  # dies without closing anything
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    left = out.stdout.strip().splitlines()[-1]
    assert os.path.isdir(left)
    cgroupfs._swept = False
    cgroupfs.sweep(cgroupfs.mount_point())
    assert not os.path.exists(left)
