"""Can this machine run the live-kernel backend? Asked once, answered from a cache after."""
from __future__ import annotations

import os
from typing import Callable, Dict, Tuple

from . import cgroupfs, netns, syscall

_answers: Dict[str, Tuple[bool, str]] = {}


def available(dialect: str = "upstream") -> Tuple[bool, str]:
    """(True, "") if the live kernel can run ``dialect`` here, otherwise (False, the reason).

    upstream: bpf(2) loads a SCHED_CLS program and tcx attaches it in a throwaway namespace.
    cgroup: a cgroup2 mount is found, a throwaway cgroup is made under it, and a CGROUP_SKB
    program attaches to it with ALLOW_MULTI and shows in a query with its revision."""
    tries: Dict[str, Callable[[], Tuple[bool, str]]] = {"upstream": _try, "cgroup": _try_cgroup}
    if dialect not in tries:
        return False, f"the live kernel does not run the {dialect!r} dialect"
    if dialect not in _answers:
        _answers[dialect] = tries[dialect]()
    return _answers[dialect]


def _try_cgroup() -> Tuple[bool, str]:
    step = "finding the cgroup2 mount in /proc/self/mounts"
    if cgroupfs.mount_point() is None:
        return False, f"{step}: none is mounted"
    prog = cg = -1
    path = None
    try:
        step = "mkdir of a cgroup under the cgroup2 mount"
        path = cgroupfs.make(None)
        cg = cgroupfs.open_dir(path)
        step = "bpf(BPF_PROG_LOAD) of a CGROUP_SKB program"
        prog = syscall.prog_load(b"mprog_probe", syscall.ALLOW_PROGRAM,
                                 prog_type=syscall.PROG_TYPE_CGROUP_SKB,
                                 expected_attach_type=syscall.CGROUP_INET_INGRESS)
        step = "cgroup attach (ALLOW_MULTI)/query/detach"
        ingress = syscall.CGROUP_INET_INGRESS
        syscall.prog_attach(cg, prog, 1 << 1, 0, 0, 1, ingress)
        _, q = syscall.prog_query(cg, 64, 64, ingress)
        syscall.prog_detach(cg, prog, 0, 0, 0, ingress)
        if q.prog_ids != [syscall.obj_id(prog)] or q.revision != 2:
            return False, f"{step}: the query did not show the program at revision 2 " \
                          "(a kernel before 6.17 has no cgroup revisions)"
        return True, ""
    except OSError as e:
        return False, f"{step} failed: {e.strerror or e} (errno {e.errno})"
    except Exception as e:  # no bpf syscall number, no /proc, ...
        return False, f"{step} failed: {e!r}"
    finally:
        for fd in (cg, prog):
            if fd >= 0:
                os.close(fd)
        if path is not None:
            cgroupfs.remove(path)


def _try() -> Tuple[bool, str]:
    step = "bpf(BPF_PROG_LOAD)"
    prog = ns = -1
    try:
        prog = syscall.prog_load(b"mprog_probe")
        step = "unshare(CLONE_NEWNET)"
        ns = netns.create()
        step = "tcx attach/query/detach on lo"
        ifindex = netns.ifindex(ns)
        with netns.inside(ns):
            syscall.prog_attach(ifindex, prog, 0, 0, 0, 0)
            _, q = syscall.prog_query(ifindex, 64, 64)
            syscall.prog_detach(ifindex, prog, 0, 0, 0)
        if q.count != 1 or q.prog_ids != [syscall.obj_id(prog)]:
            return False, f"{step}: the query did not show the attached program"
        return True, ""
    except OSError as e:
        return False, f"{step} failed: {e.strerror or e} (errno {e.errno})"
    except Exception as e:  # no bpf syscall number, no /proc, ...
        return False, f"{step} failed: {e!r}"
    finally:
        for fd in (ns, prog):
            if fd >= 0:
                os.close(fd)
