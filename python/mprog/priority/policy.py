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

A program already in the chain stays where it is as long as 1 and 2 hold there (the bound
applies to placing, not to programs already placed). If the managed programs are out of order
(someone else moved them), rule 1 has no room: the program goes right after every managed
program with a smaller key, and nothing else is moved.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from ..anchors import After, Anchor, Before, Head, Tail
from .view import Key, View

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


def anchor_at(view: View, index: int) -> Anchor:
    """The anchor that inserts at ``index``: after the slot before it, or before the first
    slot, or (empty chain) a plain append. Named by program id: it finds the slot whether it
    was attached by program or by link, in every dialect."""
    if index > 0:
        return After(prog_id=view.slots[index - 1].prog_id)
    if view.slots:
        return Before(prog_id=view.slots[0].prog_id)
    return Tail()


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
    elif type(bound.target).__name__ == "Link":
        link_id = bound.target.id
    else:
        return view.index(bound.target.id)
    return next((i for i, s in enumerate(view.slots) if s.link_id == link_id), None)
