"""The calls that put one program in its place, planned from one query, made by ``execute``.

A ``Plan`` lists protocol calls exactly as they will be made: ``attach``/``link`` with an
anchor and ``expected_revision``, ``detach`` by program, a link's ``detach``/``close``. A move
is a removal and an insertion: staged in one transaction (one change) where the backend has
transactions and both halves are by program; otherwise two guarded calls, the second expecting
the revision the first leaves (``dialects.revision_after_removal``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from ..anchors import Anchor, Head, Tail
from ..explain import Explanation
from . import dialects, policy
from .view import Key, View

#: Operations a call can be: the bundle's attach/link/detach and a link's own detach/close.
OPS = ("attach", "link", "detach", "link detach", "link close")


@dataclass(frozen=True)
class Call:
    """One protocol call: ``op`` on ``prog`` (or ``link``) at ``anchor``, guarded by
    ``expected_revision`` (0: unguarded, as a link's detach and close always are)."""

    op: str
    prog: Any = None
    anchor: Optional[Anchor] = None
    expected_revision: int = 0
    link: Any = None

    def __str__(self) -> str:
        if self.op.startswith("link "):
            return f"link {self.link.id}.{self.op[5:]}()"
        args = [f"prog {self.prog.id}"]
        if isinstance(self.anchor, (Head, Tail)) and self.anchor == type(self.anchor)():
            args.append(f"{type(self.anchor).__name__}()")  # the manager's: no options
        elif self.anchor is not None:
            args.append(repr(self.anchor))
        if self.expected_revision:
            args.append(f"expected_revision={self.expected_revision}")
        return f"{self.op}({', '.join(args)})"


@dataclass(frozen=True)
class Plan:
    """What placing one program takes, from the chain at ``revision``.

    ``calls`` in order (empty: it is already where it belongs); ``transaction``: they are
    staged in one ``bundle.transaction(expected_revision=revision)``; ``index``: where the
    program will sit afterwards; ``explanation``: the backend's dry run of the first call
    (``m.plan()`` fills it where ``explain`` exists, else None).
    """

    prog_id: int
    revision: int
    calls: Tuple[Call, ...] = ()
    transaction: bool = False
    index: Optional[int] = None
    explanation: Optional[Explanation] = field(default=None, compare=False)

    @property
    def changes(self) -> int:
        """How many changes (revision steps) the plan makes if nothing else intervenes."""
        if self.transaction:
            return 1 if self.calls else 0
        return sum(1 for c in self.calls if c.op != "link close")

    def __str__(self) -> str:
        if not self.calls:
            return f"revision {self.revision}: program {self.prog_id} stays at {self.index}"
        body = "; ".join(str(c) for c in self.calls)
        if self.transaction:
            body = f"transaction(expected_revision={self.revision}): {body}"
        return f"revision {self.revision}: {body}"


def placement(view: View, prog: Any, key: Key, *, link_mode: bool, link: Any,
              bound: Optional[Anchor], atomic: bool, move: bool = False) -> Plan:
    """The plan that leaves ``prog`` in its place for ``key`` in ``view``.

    ``link_mode``: it must sit in a slot of ``link`` (a new link if ``link`` is None or no
    longer holds it); ``atomic``: the backend has transactions; ``move``: take it out even if
    its place fits (a shared store changes its priority while it is out of the chain).
    """
    at = view.index(prog.id)
    rest = view.without(prog.id)
    if at is not None:
        slot = view.slots[at]
        ours = link is not None and not link.closed and slot.link_id == link.id
        right_kind = ours if link_mode else slot.link_id == 0
        if right_kind and not move and policy.fits(rest, at, key):
            return Plan(prog.id, view.revision, index=at)
    where, anchor = policy.insertion(rest, key, bound, link_mode=link_mode)
    if at is None:
        return Plan(prog.id, view.revision, (_insert(prog, anchor, view.revision, link_mode),),
                    index=where)
    out = _taking_out(view, at, prog, link)
    if atomic and not link_mode and out[0].op == "detach":
        # Each staged call is guarded too: a transaction stages on the chain as it is when it
        # begins, which may be newer than the query (ESTALE then, before any lookup).
        rev = view.revision
        return Plan(prog.id, rev, (Call("detach", prog, expected_revision=rev),
                                   Call("attach", prog, anchor, rev)), transaction=True,
                    index=where)
    after = dialects.revision_after_removal(view.dialect, view.revision, len(rest.slots))
    return Plan(prog.id, view.revision, out + (_insert(prog, anchor, after, link_mode),),
                index=where)


def removal(view: View, prog: Any, link: Any) -> Plan:
    """The plan that takes ``prog`` out of the chain (nothing if it is not there)."""
    at = view.index(prog.id)
    if at is None:
        return Plan(prog.id, view.revision)
    return Plan(prog.id, view.revision, _taking_out(view, at, prog, link))


def _taking_out(view: View, at: int, prog: Any, link: Any) -> Tuple[Call, ...]:
    """Take the program at ``at`` out: by its link if the slot is the manager's link (which
    is then closed: a move makes a new one), else by program, guarded."""
    if link is not None and not link.closed and view.slots[at].link_id == link.id:
        return (Call("link detach", link=link), Call("link close", link=link))
    return (Call("detach", prog, expected_revision=view.revision),)


def _insert(prog: Any, anchor: Anchor, revision: int, link_mode: bool) -> Call:
    return Call("link" if link_mode else "attach", prog, anchor, revision)
