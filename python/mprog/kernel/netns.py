"""Private network namespaces, held by fd, and a way to make a call from inside one.

A namespace is made by ``unshare(CLONE_NEWNET)`` on the calling thread, kept alive only by an
fd of ``/proc/thread-self/ns/net``, and the thread returns home at once. Nothing is named in
``/run/netns``, so nothing can outlive the process; closing the fd removes the namespace.

tcx's attach, detach, link-create and query resolve ``target_ifindex`` in the *calling task's*
namespace (``current->nsproxy->net_ns``), so those syscalls must run from inside: ``inside(fd)``
moves the calling thread in with ``setns`` and back afterwards (two setns calls, about a
microsecond each: cheaper than handing the call to a thread that lives there).
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
from typing import Iterator, Optional

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_home_fd: Optional[int] = None


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _home() -> int:
    """An fd of the process's own namespace, where every thread returns after a call.

    Opened once, by the first caller, which is home then (calls always return home); one
    fd for the process rather than one per thread, so threads that come and go leak none."""
    global _home_fd
    if _home_fd is None:
        _home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return _home_fd


def create() -> int:
    """A new network namespace with ``lo`` up; returns the fd that keeps it alive."""
    home = _home()
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    try:
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _bring_up("lo")
        except BaseException:
            os.close(fd)
            raise
    finally:
        _check(_libc.setns(home, CLONE_NEWNET), "setns(home)")
    return fd


def _bring_up(name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH22x", name.encode(), 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(s, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | _IFF_UP))


@contextlib.contextmanager
def inside(fd: int) -> Iterator[None]:
    """Run the body with the calling thread in namespace ``fd``, then go home."""
    home = _home()
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")
    try:
        yield
    finally:
        _check(_libc.setns(home, CLONE_NEWNET), "setns(home)")


def ifindex(fd: int, name: str = "lo") -> int:
    """The ifindex of ``name`` inside namespace ``fd``."""
    with inside(fd):
        return socket.if_nametoindex(name)


def inode(fd: int) -> int:
    """The namespace's identity (the inode of its nsfs file)."""
    return os.fstat(fd).st_ino


def referenced_by_this_process(ino: int) -> bool:
    """Whether any fd or thread of this process still refers to namespace ``ino``."""
    target = f"net:[{ino}]"
    for d in ("/proc/self/fd",):
        for name in os.listdir(d):
            try:
                if os.readlink(f"{d}/{name}") == target:
                    return True
            except OSError:
                pass
    for tid in os.listdir("/proc/self/task"):
        try:
            if os.readlink(f"/proc/self/task/{tid}/ns/net") == target:
                return True
        except OSError:
            pass
    return False
