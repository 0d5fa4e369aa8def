"""Make a plan's calls on a bundle, through the public protocol only."""
from __future__ import annotations

import errno
from typing import Any, Optional

from .. import errors
from ..anchors import Anchor, Head, Tail
from . import dialects
from .plan import Call, Plan


class RefusedRelative(errors.StaleRevision):
    """cgroup: the kernel refused the program named as relative at the revision it was read
    at (ENOENT: the program sits there only through a link; EINVAL: its PREORDER differs).
    Nothing changed; the manager remembers ``prog_id`` and reads and plans again."""

    def __init__(self, prog_id: int, cause: errors.MprogError) -> None:
        super().__init__(errno.ESTALE, f"{cause.op}: program {prog_id} cannot be named as a "
                         f"relative here ({cause.strerror})", op=cause.op)
        self.prog_id = prog_id


def execute(bundle: Any, plan: Plan) -> Optional[Any]:
    """Make the calls of ``plan``; returns the Link a ``link`` call made, if any.

    A ``StaleRevision`` leaves the chain as the calls before it left it (on a transaction:
    untouched); the caller reads again and plans from there.
    """
    if plan.transaction:
        with bundle.transaction(expected_revision=plan.revision) as tx:
            for call in plan.calls:
                _make(tx, call)
        return None
    made = None
    for call in plan.calls:
        made = _make(bundle, call, bundle.dialect) or made
    return made


def _make(target: Any, call: Call, dialect: str = "upstream") -> Optional[Any]:
    """Make one call on ``target`` (a bundle, or a transaction staging it)."""
    if call.op == "link detach":
        call.link.detach()
    elif call.op == "link close":
        call.link.close()
    elif call.op == "detach":
        target.detach(call.prog, expected_revision=call.expected_revision)
    else:
        try:
            if call.op == "link":
                return target.link(call.prog, call.anchor,
                                   expected_revision=call.expected_revision)
            target.attach(call.prog, call.anchor, expected_revision=call.expected_revision)
        except (errors.NotFound, errors.InvalidArgument) as e:
            if not _names_relative(call.anchor):
                raise
            if not dialects.relatives_can_vanish(dialect):
                # The revision was checked before the relative (ESTALE comes first), so the
                # relative itself was refused, as it is in the list at that revision.
                prog_id = call.anchor.prog_id  # type: ignore[union-attr]
                if prog_id is None:
                    raise
                raise RefusedRelative(prog_id, e) from e
            if not isinstance(e, errors.NotFound):
                raise
            # Every backend checks the revision before looking up the relative, so a relative
            # that is gone at the expected revision means the chain was emptied (freed: back
            # to revision 1) and refilled to that revision: another chain. Read it again.
            raise errors.error(errno.ESTALE, call.op, "the chain was freed and refilled since "
                               f"it was read ({e})", revision=call.expected_revision) from e
    return None


def _names_relative(anchor: Optional[Anchor]) -> bool:
    return anchor is not None and not isinstance(anchor, (Head, Tail))
