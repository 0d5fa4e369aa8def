"""What the manager needs to know of each dialect, in one place.

Only the ``upstream`` and ``v2`` dialects are handled. The ``cgroup`` dialect is a follow-up:
its lists need the ALLOW_MULTI mode on every attach, may hold PREORDER programs (which run
before the others whatever their place), report no link ids, cap at 64 and never start the
revision again at 1; each of those has its place here or in ``policy``.
"""
from __future__ import annotations

SUPPORTED = ("upstream", "v2")


def check(dialect: str) -> None:
    if dialect not in SUPPORTED:
        raise NotImplementedError(f"mprog.priority handles the {' and '.join(SUPPORTED)} "
                                  f"dialects, not {dialect!r} (its modes and PREORDER are a "
                                  "follow-up)")


def revision_after_removal(dialect: str, revision: int, remaining: int) -> int:
    """The revision a chain at ``revision`` has after one detach leaves ``remaining``
    programs: tcx frees a chain emptied by a detach, and a new one starts at revision 1."""
    return revision + 1 if remaining else 1
