"""Can this machine run the live-kernel backend? Asked once, answered from a cache after."""
from __future__ import annotations

import os
from typing import Optional, Tuple

from . import netns, syscall

_answer: Optional[Tuple[bool, str]] = None


def available() -> Tuple[bool, str]:
    """(True, "") if bpf(2) loads a SCHED_CLS program and tcx attaches it in a throwaway
    namespace; otherwise (False, the reason)."""
    global _answer
    if _answer is None:
        _answer = _try()
    return _answer


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
