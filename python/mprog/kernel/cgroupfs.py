"""Private cgroups under the cgroup2 mount, held by fd, removed when closed.

The cgroup2 hierarchy is wherever /proc/self/mounts says (``/sys/fs/cgroup`` on a unified
machine, ``/sys/fs/cgroup/unified`` in the hybrid layout, anything elsewhere): it is found,
never assumed. Every cgroup this module makes sits in a directory of its own below that
mount, named after the process, so nothing is shared with anyone else's cgroups; removing a
cgroup is ``rmdir`` (the kernel refuses while it has children or tasks, and this backend
never moves a task in). A process that died without closing its bundles leaves its
directories behind (a cgroup, unlike a network namespace held by fd, is named in a file
system): the first bundle a process makes removes those of processes that are gone.
"""
from __future__ import annotations

import itertools
import os
import re
from typing import Optional

_serial = itertools.count(1)
_swept = False
_OURS = re.compile(r"mprog-(\d+)-(\d+)-\d+")


def _pid_namespace() -> int:
    """Which pid namespace our pids are numbers in (a pid means nothing outside it)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _unescape(field: str) -> str:
    """/proc/self/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_point() -> Optional[str]:
    """Where cgroup2 is mounted (the first such line of /proc/self/mounts), or None."""
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3 and fields[2] == "cgroup2":
                    return _unescape(fields[1])
    except OSError:
        return None
    return None


def make(parent: Optional[str]) -> str:
    """A new, empty cgroup directory: below ``parent``, or at the top of a private subtree
    directly under the cgroup2 mount. Returns its path."""
    if parent is None:
        root = mount_point()
        if root is None:
            raise OSError(2, "no cgroup2 file system is mounted (/proc/self/mounts)")
        parent = root
        sweep(root)
        name = f"mprog-{_pid_namespace()}-{os.getpid()}-{next(_serial)}"
    else:
        name = f"c{next(_serial)}"
    path = os.path.join(parent, name)
    os.mkdir(path, 0o755)
    return path


def open_dir(path: str) -> int:
    """The fd bpf(2) takes as the cgroup (target_fd)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def remove(path: str) -> None:
    """Remove an empty cgroup; one that is already gone is fine."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def sweep(root: str) -> None:
    """Remove (once per process) the private trees of mprog processes that no longer run.

    Only directories named ``mprog-<pid namespace>-<pid>-<n>`` directly under the mount, of
    our pid namespace (another namespace's pids cannot be checked from here), whose pid is
    gone; children first. A cgroup with tasks cannot be removed (EBUSY): it is left alone."""
    global _swept
    if _swept:
        return
    _swept = True
    try:
        names = os.listdir(root)
    except OSError:
        return
    namespace = _pid_namespace()
    for name in names:
        match = _OURS.fullmatch(name)
        if match is None or int(match.group(1)) != namespace or _running(int(match.group(2))):
            continue
        for path, _, _ in os.walk(os.path.join(root, name), topdown=False):
            try:
                os.rmdir(path)
            except OSError:
                pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (EPERM: someone else's)
    return True
