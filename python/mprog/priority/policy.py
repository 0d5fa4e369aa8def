"""Where a managed program goes: the placement policy, as pure functions of a ``View``.

An insertion index ``i`` of a view (the chain without the program being placed) means "between
slot ``i - 1`` and slot ``i``". The rules, strongest first:

1. Priority order: after every managed program with a smaller key, before every one with a
   larger key. Foreign programs may sit anywhere in between; they are never moved.
2. Pins (v2): never before a FIRST holder, never after a LAST holder (the dialect refuses
   those places with EBUSY).
3. The bound (the manager's ``anchor=``): ``Head()`` before every foreign program, ``Tail()``
   after every foreign program, ``Before(x)``/``After(x)`` before/after program or link ``x``.
   A bound naming something that is not in the chain bounds nothing. A bound never breaks 1
   or 2: when they leave no room inside it, the program goes as near to it as they allow.
4. Within the room left: right after the managed program before it in order; if there is
   none, right before the managed program after it; if no program is managed, at the end of
   the room (an append, within the bound).

5. The anchor (cgroup, whose kernel lets an attach by program name only an entry attached by
   program with the same PREORDER, a link only a link, and shows neither in a query):
   ``Head()``/``Tail()`` at either end of the list (no relative, so nothing is compared);
   inside, a link names a link this manager knows (its own, the bound's), an attach by
   program the surest neighbour: one of this manager's programs, else one another manager
   placed, else a foreign one, never one the kernel already refused as a relative. When rule
   4's place cannot be named so, the nearest place that can, within rule 1's room (inside the
   bound first); none: ``NoAnchor`` (EINVAL) before any change. Managed programs carry no
   PREORDER; a foreign PREORDER program runs before the list's other programs wherever it
   sits, and is a foreign program like any other here.

A program already in the chain stays where it is as long as 1 and 2 hold there (the bound
applies to placing, not to programs already placed). If the managed programs are out of order
(someone else moved them), rule 1 has no room: the program goes right after every managed
program with a smaller key, and nothing else is moved.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple, Type

import errno

from .. import errors
from ..anchors import After, Anchor, Before, Head, Tail, _Relative
from .view import REFUSED, Key, Slot, View

BOUNDS = (Head, Tail, Before, After)


def check_bound(anchor: Optional[Anchor]) -> None:
    """A bound is None, Head(), Tail(), Before(x) or After(x), without v2 pins."""
    if anchor is None:
        return
    if not isinstance(anchor, BOUNDS):
        raise TypeError(f"anchor= bounds where managed programs go: Head(), Tail(), Before(x) "
                        f"or After(x), not {anchor!r}")
    if anchor.first or anchor.last:
        raise ValueError(f"{anchor!r}: a bound takes no pins")


def insertion_index(view: View, key: Key, bound: Optional[Anchor] = None) -> int:
    """Where a program with ``key`` goes in ``view`` (which does not hold it)."""
    lo_prio, hi_prio = _priority_room(view, key)
    lo_pin, hi_pin = _pin_room(view)
    lo, hi = max(lo_prio, lo_pin), min(hi_prio, hi_pin)
    if lo > hi:  # out of order, or pins leave no room: after every smaller key, if allowed
        return max(lo_pin, min(lo, hi_pin))
    blo, bhi = bound_room(view, bound)
    a, b = max(lo, blo), min(hi, bhi)
    if a > b:  # the bound is outside the room: as near to it as the room allows
        return lo if bhi < lo else hi
    # Next to the managed program before it; else before the one after it; else an append.
    return a if lo_prio > 0 else b


def fits(view: View, index: int, key: Key) -> bool:
    """Whether a program with ``key`` may stay at insertion ``index`` of ``view`` (rules 1-2)."""
    lo_prio, hi_prio = _priority_room(view, key)
    lo_pin, hi_pin = _pin_room(view)
    lo, hi = max(lo_prio, lo_pin), min(hi_prio, hi_pin)
    if lo > hi:
        return index == insertion_index(view, key)
    return lo <= index <= hi


class NoAnchor(errors.InvalidArgument):
    """cgroup: no place the priority allows can be named to the kernel (see rule 5)."""


def insertion(view: View, key: Key, bound: Optional[Anchor] = None, *,
              link_mode: bool = False) -> Tuple[int, Anchor]:
    """Where a program with ``key`` goes in ``view`` (which does not hold it) and the anchor
    that puts it there. cgroup: the nearest place to ``insertion_index`` within the priority
    room (inside the bound first) that an anchor the kernel takes can name (rule 5)."""
    where = insertion_index(view, key, bound)
    if view.dialect != "cgroup":
        return where, anchor_at(view, where)
    lo, hi = _priority_room(view, key)
    blo, bhi = bound_room(view, bound)
    room = range(lo, hi + 1) if lo <= hi else range(where, where + 1)
    for index in sorted(room, key=lambda i: (not blo <= i <= bhi, abs(i - where), i)):
        anchor = _cgroup_anchor(view, index, link_mode)
        if anchor is not None:
            return index, anchor
    raise NoAnchor(errno.EINVAL, f"place: no place between indexes {room.start} and "
                   f"{room.stop - 1} of the cgroup list can be named (a program attach names "
                   "only programs attached by program without PREORDER, a link only links "
                   "this manager knows); nothing was changed", op="place")


def anchor_at(view: View, index: int) -> Anchor:
    """The anchor that inserts at ``index``: after the slot before it, or before the first
    slot, or (empty chain) a plain append. Named by program id: it finds the slot whether it
    was attached by program or by link, in the tcx dialects (cgroup: ``_cgroup_anchor``)."""
    if index > 0:
        return After(prog_id=view.slots[index - 1].prog_id)
    if view.slots:
        return Before(prog_id=view.slots[0].prog_id)
    return Tail()


def _cgroup_anchor(view: View, index: int, link_mode: bool) -> Optional[Anchor]:
    """Rule 5: an end of the list takes no relative; inside, a link names a link this manager
    knows, an attach by program the surest neighbour that may sit there by program."""
    if index == 0:
        return Head()
    if index == len(view.slots):
        return Tail()
    sides: Tuple[Tuple[Slot, Type[_Relative]], ...] = ((view.slots[index - 1], After),
                                                       (view.slots[index], Before))
    if link_mode:
        for slot, side in sides:
            if slot.link_id:
                return side(link_id=slot.link_id)
        return None
    named = [(slot.rank, n) for n, (slot, _) in enumerate(sides)
             if not slot.link_id and slot.rank != REFUSED]
    if not named:
        return None
    slot, side = sides[min(named)[1]]
    return side(prog_id=slot.prog_id)


def bound_room(view: View, bound: Optional[Anchor]) -> Tuple[int, int]:
    """The insertion indexes a bound allows: ``(first, last)``."""
    n = len(view.slots)
    if bound is None:
        return 0, n
    foreign = [i for i, s in enumerate(view.slots) if s.key is None]
    if isinstance(bound, Head):
        return 0, (foreign[0] if foreign else n)
    if isinstance(bound, Tail):
        return (foreign[-1] + 1 if foreign else 0), n
    at = _slot_named(view, bound)
    if at is None:
        return 0, n
    return (0, at) if isinstance(bound, Before) else (at + 1, n)


def _priority_room(view: View, key: Key) -> Tuple[int, int]:
    managed = view.managed()
    smaller = [i for i, k in managed if k < key]
    larger = [i for i, k in managed if k > key]
    return (smaller[-1] + 1 if smaller else 0), (larger[0] if larger else len(view.slots))


def _pin_room(view: View) -> Tuple[int, int]:
    n = len(view.slots)
    lo = 1 if n and view.slots[0].first else 0
    hi = n - 1 if n and view.slots[-1].last else n
    return lo, hi


def _slot_named(view: View, bound: Any) -> Optional[int]:
    """The index of the slot a Before/After bound names (by program or link), if present."""
    if bound.prog_id is not None:
        return view.index(bound.prog_id)
    if bound.link_id is not None:
        link_id = bound.link_id
    elif is_link(bound.target):
        link_id = bound.target.id
    else:
        return view.index(bound.target.id)
    return next((i for i, s in enumerate(view.slots) if s.link_id == link_id), None)


def is_link(x: Any) -> bool:
    # Every backend's link class is a Link (the kernel's cgroup links subclass it).
    return any(c.__name__ == "Link" for c in type(x).__mro__) and hasattr(x, "prog")
