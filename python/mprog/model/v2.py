"""The v2 dialect: the June 2023 proposal with sticky FIRST/LAST pins (docs/v2-rules.md, rule by rule).

Its own order of checks: ESTALE first, then the relative, then exactly one of REPLACE, pin or
plain insert (the v2 patch's ``bpf_mprog_replace/_head_tail/_add``). Each slot keeps its pins
for as long as it is attached; nothing goes before a FIRST holder or after a LAST holder.
"""
from __future__ import annotations

import errno as E
from typing import Any, Optional

from .. import messages as M
from ..errors import error
from ..flags import MAX_PROGRAMS, V2Flag
from .chain import (Anchor, Request, Slot, Slots, check_fresh, describe, find_anchor, find_prog,
                    holds, inserted, plain, removed, replaced)
from .handles import BpfLink, Program
from .naming import is_none, resolve_relative

F = plain(V2Flag)
KNOWN = F.REPLACE | F.BEFORE | F.AFTER | F.FIRST | F.LAST | F.ID | F.LINK
# The v2 series masked flags only in BPF_PROG_ATTACH/DETACH: its link_create handed the u32
# flags on to bpf_mprog_attach, which never tests a bit it does not know. So a link ignores
# them (attach() drops them); only what no u32 holds is refused up front.
LINK_KNOWN = (1 << 32) - 1
PINS = F.FIRST | F.LAST
#: What gives a relative something to position against, and what says how it is named.
DIRECTIVES = F.REPLACE | F.BEFORE | F.AFTER
NAMING = F.ID | F.LINK


def attach(slots: Slots, revision: int, op: str, prog: Program, link: Optional[BpfLink],
           flags: int, relative: Any, replace: Any, expected_revision: int) -> Slots:
    """``attach`` (by program) and ``link`` (through the new link ``link``); the arguments
    are upstream's (``upstream.attach``)."""
    req = Request(op, prog, link, flags, relative, replace, expected_revision)
    if req.flags & ~KNOWN:  # only a link gets here with them (LINK_KNOWN): dropped
        req = req.with_flags(req.flags & KNOWN)
    if expected_revision:  # (0: not checked; most operations give none)
        check_fresh(revision, expected_revision, op)
    # Under REPLACE the relative *is* the program to replace. attach() names it replace=; a new
    # link has only its relative (the v2 ABI had one field for both).
    if req.flags & F.REPLACE and req.link is None:
        anchor = _resolve(req.replace, req.flags, req.op, "replace")
    else:
        anchor = _resolve(req.relative, req.flags, req.op, "relative")
    if req.flags & F.REPLACE:
        return _replace(slots, req, anchor)
    if req.flags & PINS:
        return _pin(slots, req, anchor)
    return _insert(slots, req, anchor)


def detach(slots: Slots, revision: int, op: str, prog: Optional[Program], flags: int,
           relative: Any, expected_revision: int) -> Slots:
    """``detach``: the target is the named program (``prog``, or None), a pinned end, or a
    relative's neighbour."""
    if expected_revision:
        check_fresh(revision, expected_revision, op)
    anchor = _resolve(relative, flags, op, "relative")
    if flags & F.REPLACE:
        raise error(E.EINVAL, op, "REPLACE means nothing to detach")
    target = _pinned_target(slots, op, flags, prog)
    direction = flags & (F.BEFORE | F.AFTER)
    found = False
    if direction and anchor is None:
        if target is not None:
            raise error(E.EINVAL, op, "BEFORE/AFTER without a relative takes no program")
        # BEFORE is the first entry not holding FIRST, AFTER the last before any LAST holder;
        # with both, AFTER's choice wins (the v2 code sets one after the other).
        if direction & F.BEFORE:
            target = _first_regular(slots)
        if direction & F.AFTER:
            target = _last_regular(slots)
    elif direction and anchor is not None:
        idx = find_anchor(slots, anchor)
        if idx is not None:
            found = True
            target = _neighbour(slots, op, direction, idx, target)
    if target is None:
        raise error(E.ENOENT, op, "there is no entry there to detach")
    if anchor is not None and not found:
        raise error(E.ENOENT, op, M.text("relative_absent", relative=describe(anchor)))
    idx = find_prog(slots, target)
    if idx is None:
        raise error(E.ENOENT, op, M.text("absent", program=describe(target)))
    if slots[idx].link is not None:
        raise error(E.EBUSY, op, M.text("link_owned_detach", program=describe(target),
                                        link=describe(slots[idx].link)))
    # A pinned program may leave by program: the owner may always go.
    return removed(slots, idx)


def _resolve(value: Any, flags: int, op: str, what: str) -> Optional[Anchor]:
    # Without REPLACE, BEFORE or AFTER there is nothing to position against: naming something
    # (a relative, ID or LINK) is EINVAL before any lookup.
    if not flags & DIRECTIVES:
        if (value is not None and not is_none(value)) or flags & NAMING:
            raise error(E.EINVAL, op, f"{what} {describe(value)} needs REPLACE, BEFORE or AFTER")
        return None
    return resolve_relative(value, flags, F, op, what)


# -- REPLACE -------------------------------------------------------------------------------

def _replace(slots: Slots, req: Request, anchor: Optional[Anchor]) -> Slots:
    op, flags, prog = req.op, req.flags, req.adding
    if flags & (F.BEFORE | F.AFTER | F.LINK):
        raise error(E.EINVAL, op, "REPLACE takes no BEFORE, AFTER or LINK")
    old = anchor.prog if anchor is not None else None
    if old is not prog and find_prog(slots, prog) is not None:  # itself is no conflict
        raise error(E.EEXIST, op, M.text("exists", program=describe(prog)))
    idx = find_prog(slots, old)
    if idx is None:
        raise error(E.ENOENT, op, M.text("replace_absent", program=describe(old)))
    slot = slots[idx]
    if slot.link is not req.link:
        owner = describe(slot.link) if slot.link is not None else M.PROGRAM_ATTACH
        raise error(E.EBUSY, op, M.text("slot_owned", program=describe(old), owner=owner))
    pins = _repinned(slot.pins, flags, idx, len(slots), op)
    return replaced(slots, idx, Slot(prog, req.link, pins))


def _repinned(pins: int, flags: int, idx: int, total: int, op: str) -> int:
    """The slot's pins become what the request asks: leaving one out drops it (the admin
    override); taking one is allowed only where it holds (FIRST first, LAST last), else EACCES."""
    for pin, end, name in ((F.FIRST, 0, "first"), (F.LAST, total - 1, "last")):
        if (pins ^ flags) & pin:
            pins ^= pin
            if pins & pin and idx != end:
                raise error(E.EACCES, op, M.text("pin_position", end=name, pin=name.upper()))
    return pins


# -- pins: FIRST and/or LAST ---------------------------------------------------------------

def _pin(slots: Slots, req: Request, anchor: Optional[Anchor]) -> Slots:
    op, flags, prog, total = req.op, req.flags, req.adding, len(slots)
    if find_prog(slots, prog) is not None:
        raise error(E.EEXIST, op, M.text("exists", program=describe(prog)))
    if flags & F.FIRST:
        if flags & F.AFTER:
            raise error(E.EINVAL, op, "FIRST cannot go AFTER anything")
        if total and slots[0].pins & F.FIRST:
            raise error(E.EBUSY, op, f"{describe(slots[0].prog)} already holds FIRST")
        if flags & F.LAST:
            if flags & F.BEFORE:
                raise error(E.EINVAL, op, "FIRST|LAST cannot go BEFORE anything")
            if total:
                raise error(E.EBUSY, op, "FIRST|LAST means the sole program; the chain is not empty")
            return (Slot(prog, req.link, F.FIRST | F.LAST),)
        if flags & F.BEFORE and not _is_at(slots, 0, anchor):
            raise error(E.EBUSY, op, f"FIRST BEFORE {describe(anchor)}: it is not the first entry")
        _check_room(total, op)
        return inserted(slots, 0, Slot(prog, req.link, F.FIRST))
    if flags & F.BEFORE:
        raise error(E.EINVAL, op, "LAST cannot go BEFORE anything")
    if total:
        if slots[-1].pins & F.LAST:
            raise error(E.EBUSY, op, f"{describe(slots[-1].prog)} already holds LAST")
        if flags & F.AFTER and not _is_at(slots, total - 1, anchor):
            raise error(E.EBUSY, op, f"LAST AFTER {describe(anchor)}: it is not the last entry")
        _check_room(total, op)
    elif flags & F.AFTER:
        raise error(E.EBUSY, op, "LAST AFTER something, but the chain is empty")
    return inserted(slots, total, Slot(prog, req.link, F.LAST))


def _is_at(slots: Slots, idx: int, anchor: Optional[Anchor]) -> bool:
    """The pin path's check that the relative is the entry at idx. As in the v2 code, no
    relative matches only an empty chain (there is no entry at idx either)."""
    if not slots:
        return anchor is None
    return anchor is not None and holds(slots[idx], anchor)


# -- plain insert --------------------------------------------------------------------------

def _insert(slots: Slots, req: Request, anchor: Optional[Anchor]) -> Slots:
    op, flags = req.op, req.flags
    _check_room(len(slots), op)
    if flags & F.BEFORE and flags & F.AFTER:
        raise error(E.EINVAL, op, "BEFORE and AFTER together")
    new = Slot(req.adding, req.link)
    if find_prog(slots, new.prog) is not None:
        raise error(E.EEXIST, op, M.text("exists", program=describe(new.prog)))
    direction = int(flags & (F.BEFORE | F.AFTER))
    if direction and anchor is None:
        # No relative: before the first entry not holding FIRST, or after the last one before a
        # LAST holder; where there is none (or the chain is empty), a plain append.
        regular = _first_regular(slots) if direction & F.BEFORE else _last_regular(slots)
        if regular is None:
            direction = 0
        else:
            anchor = Anchor(regular)
    if direction and anchor is not None:
        idx = find_anchor(slots, anchor)
        if idx is not None:
            return inserted(slots, _beside(slots, op, direction, idx), new)
    # Append (also where the v2 code lands when the relative was not found: its append step can
    # fail with EBUSY before the ENOENT is noticed).
    at = _append_index(slots, op)
    if direction:
        raise error(E.ENOENT, op, M.text("relative_absent", relative=describe(anchor)))
    return inserted(slots, at, new)


def _beside(slots: Slots, op: str, direction: int, idx: int) -> int:
    """Where BEFORE/AFTER the entry at idx lands; nothing goes before FIRST or after LAST."""
    if direction & F.BEFORE:
        if slots[idx].pins & F.FIRST:
            raise error(E.EBUSY, op, f"nothing goes before {describe(slots[idx].prog)} (FIRST)")
        return idx
    if slots[idx].pins & F.LAST:
        raise error(E.EBUSY, op, f"nothing goes after {describe(slots[idx].prog)} (LAST)")
    return idx + 1


def _append_index(slots: Slots, op: str) -> int:
    """An append lands inside the pins: just before a LAST holder, unless that is the sole
    program holding FIRST too (it cannot be stepped over either way)."""
    if slots and slots[-1].pins & F.LAST:
        if slots[-1].pins & F.FIRST:
            raise error(E.EBUSY, op, f"{describe(slots[-1].prog)} holds FIRST and LAST")
        return len(slots) - 1
    return len(slots)


def _check_room(total: int, op: str) -> None:
    if total >= MAX_PROGRAMS:
        raise error(E.ENOSPC, op, M.text("chain_full", limit=MAX_PROGRAMS))


# -- detach helpers ------------------------------------------------------------------------

def _pinned_target(slots: Slots, op: str, flags: int,
                   prog: Optional[Program]) -> Optional[Program]:
    """FIRST targets the first entry, LAST the last (pinned or not); a named program must be it."""
    if not flags & PINS:
        return prog  # the usual case, first
    target = prog
    for pin, idx, name in ((F.FIRST, 0, "first"), (F.LAST, -1, "last")):
        if flags & pin:
            end = slots[idx].prog
            if target is not None and target is not end:
                raise error(E.ENOENT, op, f"{describe(target)} is not the {name} entry")
            target = end
    return target


def _neighbour(slots: Slots, op: str, direction: int, idx: int,
               target: Optional[Program]) -> Optional[Program]:
    """BEFORE X targets the entry right before X, AFTER X the one right after (BEFORE wins if
    both are given); a program already targeted must be that entry."""
    if direction & F.BEFORE:
        if idx == 0:
            raise error(E.ENOENT, op, f"nothing is before {describe(slots[0].prog)}")
        neighbour: Optional[Program] = slots[idx - 1].prog
    else:
        neighbour = slots[idx + 1].prog if idx + 1 < len(slots) else None
    if target is not None and target is not neighbour:
        raise error(E.ENOENT, op, f"{describe(target)} is not the entry "
                                  f"{'before' if direction & F.BEFORE else 'after'} the relative")
    return neighbour


def _first_regular(slots: Slots) -> Optional[Program]:
    return next((s.prog for s in slots if not s.pins & F.FIRST), None)


def _last_regular(slots: Slots) -> Optional[Program]:
    last = None
    for s in slots:
        if s.pins & F.LAST:
            break
        last = s.prog
    return last
