"""The chain as a manager sees it: one query, each slot managed (with its order key) or foreign.

A slot's key is ``(priority, prog_id)``: lower runs first, and equal priorities run in order of
program id. Program ids are the same number for every manager of a chain (the kernel's ids are
machine-wide), so managers that agree on priorities agree on the order, ties included.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import AbstractSet, Callable, Mapping, NamedTuple, Optional, Tuple

from ..flags import V2Flag
from ..query import QueryResult

Key = Tuple[int, int]
_FIRST, _LAST = int(V2Flag.FIRST), int(V2Flag.LAST)  # plain ints: IntFlag's & is slow


#: How surely a slot can be named as a relative (cgroup; lower is surer): by this manager's own
#: program or link; a program another manager placed (it may sit there through a link); a
#: foreign program (a link's entry, or PREORDER: neither shows in a query); one the kernel
#: already refused as a relative.
OWN, MANAGED, FOREIGN, REFUSED = range(4)


class Slot(NamedTuple):
    """One entry of the chain: its program, its link (0: attached by program, or in the cgroup
    dialect a link this manager does not know), its order key (None: a foreign program), the
    v2 pins it holds and (cgroup) how surely it can be named as a relative."""

    prog_id: int
    link_id: int
    key: Optional[Key]
    first: bool = False
    last: bool = False
    rank: int = OWN


@dataclass(frozen=True)
class View:
    """The chain at one revision, as ``Slot``\\ s in chain order."""

    revision: int
    slots: Tuple[Slot, ...]
    dialect: str = "upstream"

    def index(self, prog_id: int) -> Optional[int]:
        return next((i for i, s in enumerate(self.slots) if s.prog_id == prog_id), None)

    def without(self, prog_id: int) -> "View":
        """The chain with that program's slot left out (what a move plans against)."""
        return View(self.revision, tuple(s for s in self.slots if s.prog_id != prog_id),
                    self.dialect)

    def managed(self) -> Tuple[Tuple[int, Key], ...]:
        """(index, key) of each managed slot, in chain order."""
        return tuple((i, s.key) for i, s in enumerate(self.slots) if s.key is not None)

    def in_order(self) -> bool:
        """Whether the managed slots run in key order (foreign ones anywhere between)."""
        keys = [k for _, k in self.managed()]
        return all(a < b for a, b in zip(keys, keys[1:]))


class Known(NamedTuple):
    """What a cgroup query does not say and the manager knows: the programs it attached by
    program, the link ids of links it knows (its own; a bound's) by program id, and the
    programs the kernel refused as a relative."""

    by_program: AbstractSet[int] = frozenset()
    links: Mapping[int, int] = {}
    refused: AbstractSet[int] = frozenset()


def view_of(state: QueryResult, priority_of: Callable[[int], Optional[int]],
            dialect: str, known: Known = Known()) -> View:
    """Classify each slot of ``state``: ``priority_of(prog_id)`` is its priority, or None for
    a program nobody manages. Pins are read only where the dialect has them (v2: FIRST/LAST in
    the flags of whichever array the slot was attached through); cgroup slots take their link
    ids and ranks from ``known``."""
    keys = []
    for prog_id in state.prog_ids:
        p = priority_of(prog_id)
        keys.append(None if p is None else (p, prog_id))
    if dialect == "cgroup":
        ids, no = state.prog_ids, repeat(False)
        links = [known.links.get(prog_id, 0) for prog_id in ids] if known.links else repeat(0)
        ranks = map(_rank, ids, keys, repeat(known))
        return View(state.revision, tuple(map(Slot, ids, links, keys, no, no, ranks)), dialect)
    if dialect != "v2":
        return View(state.revision, tuple(map(Slot, state.prog_ids, state.link_ids, keys)),
                    dialect)
    pins = [a | b for a, b in zip(state.prog_attach_flags, state.link_attach_flags)]
    return View(state.revision, tuple(
        Slot(prog_id, link_id, key, bool(pin & _FIRST), bool(pin & _LAST))
        for prog_id, link_id, key, pin in zip(state.prog_ids, state.link_ids, keys, pins)),
        dialect)


def _rank(prog_id: int, key: Optional[Key], known: Known) -> int:
    if prog_id in known.refused:
        return REFUSED
    if prog_id in known.by_program or prog_id in known.links:
        return OWN
    return FOREIGN if key is None else MANAGED
