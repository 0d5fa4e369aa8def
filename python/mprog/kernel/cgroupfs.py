"""Private cgroups under the cgroup2 mount, held by fd, removed when closed.

The cgroup2 hierarchy is wherever /proc/self/mounts says (``/sys/fs/cgroup`` on a unified
machine, ``/sys/fs/cgroup/unified`` in the hybrid layout, anything elsewhere): it is found,
never assumed. Every cgroup this module makes sits in a directory of its own below that
mount, named after the process, so nothing is shared with anyone else's cgroups; removing a
cgroup is ``rmdir`` (the kernel refuses while it has children or tasks, and this backend
never moves a task in).
"""
from __future__ import annotations

import itertools
import os
from typing import Optional

_serial = itertools.count(1)


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
        name = f"mprog-{os.getpid()}-{next(_serial)}"
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
