"""What the manager needs to know of each dialect, in one place.

``upstream`` and ``v2`` (tcx): a chain emptied by a detach is freed and starts again at
revision 1; query reports link ids; a program relative finds a slot held by a link.

``cgroup`` (cgroup-bpf on mprog, Linux 6.17+; docs/cgroup.md): a list's revision never goes
back to 1; query reports link id 0 for every entry (the manager knows its own links, no
others'); a program relative names only an entry attached *by program* (ENOENT otherwise) whose
PREORDER equals the request's (EINVAL otherwise), and PREORDER never shows in a query. The
manager's lists are ALLOW_MULTI lists: every managed attach carries ALLOW_MULTI (the anchors'
default mode), none carries PREORDER, and a list some other program holds in mode none or
ALLOW_OVERRIDE is refused before anything is changed (``check_mode``). There are no
transactions, so a move is a detach and a guarded attach on every backend.
"""
from __future__ import annotations

import errno

from .. import errors
from ..flags import CgroupFlag

SUPPORTED = ("upstream", "v2", "cgroup")
_MULTI = int(CgroupFlag.ALLOW_MULTI)
_MODES = {0: "none", int(CgroupFlag.ALLOW_OVERRIDE): "ALLOW_OVERRIDE"}


def check(dialect: str) -> None:
    if dialect not in SUPPORTED:
        raise NotImplementedError(f"mprog.priority handles the {', '.join(SUPPORTED)} "
                                  f"dialects, not {dialect!r}")


def revision_after_removal(dialect: str, revision: int, remaining: int) -> int:
    """The revision a chain at ``revision`` has after one detach leaves ``remaining``
    programs: tcx frees a chain emptied by a detach, and a new one starts at revision 1; a
    cgroup's revision goes on counting."""
    return revision + 1 if remaining or dialect == "cgroup" else 1


def relatives_can_vanish(dialect: str) -> bool:
    """Whether a relative read at a revision can be gone at that same revision (a tcx chain
    freed and refilled to it: the revision's ABA). A cgroup's revision never comes back, so
    there a refused relative is the relative's own fault (a link's entry, or PREORDER)."""
    return dialect != "cgroup"


def check_mode(dialect: str, state: object, op: str) -> None:
    """cgroup: a managed chain is an ALLOW_MULTI list. A non-empty list in mode none or
    ALLOW_OVERRIDE holds one program that is not the manager's to replace (an attach without
    ALLOW_MULTI would replace it; one with it is EPERM): refuse with the kernel's errno for a
    mode mismatch, EPERM, before any change."""
    if dialect != "cgroup":
        return
    mode = getattr(state, "attach_flags", _MULTI)
    if state.count and mode != _MULTI:  # type: ignore[attr-defined]
        holder = state.prog_ids[0]  # type: ignore[attr-defined]
        raise errors.error(errno.EPERM, op, f"the cgroup list is in mode {_MODES.get(mode, mode)}"
                           f", held by program {holder}: programs are managed in an "
                           "ALLOW_MULTI list only; nothing was changed")
