"""The backend's bookkeeping: every program, link and bundle it opened, until closed.

Each open object holds one fd (a namespace for a bundle). ``assert_nothing_left`` closes what
is still open and fails if there was anything: a test that forgets to close is a bug. All of
it is weak: an object dropped without ``close()`` is collected and closes its fd itself
(mprog.lifetime), so nothing here grows through a long campaign.
"""
from __future__ import annotations

import fcntl
import os
import weakref
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:  # backend imports this module; the annotation only needs the name
    from .backend import Program

#: An fd number that is never open: above any possible RLIMIT_NOFILE (nr_open tops out at
#: 2**31 - 64), so the kernel's fdget() fails with EBADF. A closed handle is passed as this,
#: never as its old number, which another object may have reused by now.
NEVER_OPEN_FD = 0x7FFFFFFF

_devnull = -1

open_programs: "weakref.WeakSet[object]" = weakref.WeakSet()
open_links: "weakref.WeakSet[object]" = weakref.WeakSet()
open_bundles: "weakref.WeakSet[object]" = weakref.WeakSet()
#: kernel program id -> the Program object that loaded it (for ``list(bundle)``; a bundle
#: holds the Program objects of its chain).
programs_by_id: "weakref.WeakValueDictionary[int, Program]" = weakref.WeakValueDictionary()


def devnull_fd() -> int:
    """An open fd that is not a bpf object: the kernel answers EINVAL where it wants one."""
    global _devnull
    if _devnull < 0:
        _devnull = above_zero(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
    return _devnull


def close_devnull() -> None:
    global _devnull
    if _devnull >= 0:
        os.close(_devnull)
        _devnull = -1


def above_zero(fd: int) -> int:
    """``fd``, moved off 0 if it landed there (stdin closed): bpf_attr reads fd 0 as "none"."""
    if fd != 0:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def describe(obj: object) -> str:
    """How an error message names an argument: by kernel id where it has one."""
    if obj is None:
        return "none"
    kind = type(obj).__name__.lower()
    return f"{kind} {obj.id}" if hasattr(obj, "id") else f"{kind} {obj!r}"


def close_everything() -> List[str]:
    """Close every open link, bundle and program (in that order); name what was open."""
    left = [repr(o) for o in (*open_links, *open_bundles, *open_programs)]
    for group in (open_links, open_bundles, open_programs):
        for obj in list(group):
            obj.close()  # type: ignore[attr-defined]
    programs_by_id.clear()
    close_devnull()
    return left
