"""The v2 series' ``kernel/bpf/mprog.c``, read again: one function per function of the patch.

"[PATCH bpf-next v2 1/7] bpf: Add generic attach/detach/query API for multi-progs" (June 2023)
built a new entry (the *peer*) for every insert and delete, rewrote a slot in place for a
replace, and answered with SWAP, FREE or 0. This module does the same on plain lists, so that
its order of checks is the patch's own, read line by line, not our rule list's summary of it:
``bpf_mprog_tuple_relative`` -> ``lookup``, ``bpf_mprog_replace`` -> ``replace``,
``bpf_mprog_head_tail`` -> ``head_tail``, ``bpf_mprog_add`` -> ``add``, ``bpf_mprog_del`` ->
``delete``, ``bpf_mprog_attach``/``_detach`` -> ``attach``/``detach``. The syscall and tcx
layers around it (which checks come before, what the link keeps) are in ``tcx.py``.

An entry is a list of ``Slot``s (the patch's fp/cp pair: program, link, flags), at most
``MAX`` long; reading past its end gives ``EMPTY``, as reading the zeroed tail of the patch's
fixed array did. Each function returns the entry the operation leaves (the patch's peer, or
the active entry rewritten in place); the tcx layer frees one left empty (the patch's FREE).
Failures raise ``Fail(errno, what)``; the caller names the operation.
"""
from __future__ import annotations

import errno as E
from typing import Any, Callable, List, NamedTuple

from ..flags import V2Flag as F

REPLACE, BEFORE, AFTER = int(F.REPLACE), int(F.BEFORE), int(F.AFTER)
FIRST, LAST, ID, LINK = int(F.FIRST), int(F.LAST), int(F.ID), int(F.LINK)

#: bpf_mprog_max(): 64 slots, the last always empty as the end marker.
MAX = 63

class Fail(Exception):
    """A negative errno of the patch, with what was wrong (for the message)."""

    def __init__(self, err: int, what: str) -> None:
        super().__init__(err, what)
        self.errno = err
        self.what = what


class Slot(NamedTuple):
    """One position: the fast-path program and the control-path link and flags."""

    prog: Any = None
    link: Any = None
    flags: int = 0


EMPTY = Slot()
Entry = List[Slot]


class Tuple(NamedTuple):
    """The patch's ``struct bpf_tuple``: a program and the link it came through, if any."""

    prog: Any = None
    link: Any = None


def read(entry: Entry, i: int) -> Slot:
    return entry[i] if 0 <= i < len(entry) else EMPTY


# -- the inline helpers of include/linux/bpf_mprog.h ----------------------------------------

def first(entry: Entry) -> Any:
    return read(entry, 0).prog


def last(entry: Entry) -> Any:
    return entry[-1].prog if entry else None


def exists(entry: Entry, prog: Any) -> bool:
    return any(slot.prog is prog for slot in entry)


def first_reg(entry: Entry) -> Any:
    """The first program that does not hold FIRST, or None."""
    for slot in entry:
        if not slot.flags & FIRST:
            return slot.prog
    return None


def last_reg(entry: Entry) -> Any:
    """The last program before the first LAST holder, or None."""
    prog = None
    for slot in entry:
        if slot.flags & LAST:
            break
        prog = slot.prog
    return prog


def with_flag(cur: int, req: int, flag: int) -> int:
    """bpf_mprog_flags(): ``flag`` of ``cur`` set as ``req`` has it."""
    return cur | flag if req & flag else cur & ~flag


def _matches(slot: Slot, rel: Tuple) -> bool:
    """The relative names this slot: its program, and its link when a link was named."""
    return slot.prog is rel.prog and (rel.link is None or rel.link is slot.link)


# -- bpf_mprog_tuple_relative ---------------------------------------------------------------

#: How the tcx layer looks objects up: ``(object, by_id, want_link) -> Tuple``, where
#: ``object`` is the raw relative field; raises Fail for a bad fd, a dead id, a wrong kind.
Lookup = Callable[[Any, bool, bool], Tuple]


def lookup(obj: Any, flags: int, find: Lookup, is_nothing: Callable[[Any], bool]) -> Tuple:
    """The relative named by ``relative_fd``/``relative_id``: a program, a link or none."""
    if not flags & (REPLACE | BEFORE | AFTER):
        if not is_nothing(obj) or flags & (ID | LINK):
            raise Fail(E.EINVAL, "a relative, ID or LINK without REPLACE, BEFORE or AFTER")
        return Tuple()
    if flags & LINK:
        return find(obj, bool(flags & ID), True)
    if is_nothing(obj) and not flags & ID:
        return Tuple()  # bpf_prog_get(0) failed, and fd 0 without ID means "none"
    return find(obj, bool(flags & ID), False)


# -- bpf_mprog_replace ----------------------------------------------------------------------

def replace(entry: Entry, new: Tuple, rel: Tuple, rflags: int) -> Entry:
    if rflags & (BEFORE | AFTER | LINK):
        raise Fail(E.EINVAL, "REPLACE cannot be combined with BEFORE, AFTER or LINK")
    if rel.prog is not new.prog and exists(entry, new.prog):
        raise Fail(E.EEXIST, "the new program is already in the chain")
    for i, slot in enumerate(entry):
        if slot.prog is not rel.prog:
            continue
        if slot.link is not new.link:
            raise Fail(E.EBUSY, "the slot to replace belongs to another link (or to none)")
        iflags = slot.flags
        if iflags & FIRST != rflags & FIRST:
            iflags = with_flag(iflags, rflags, FIRST)
            if iflags & FIRST and rel.prog is not first(entry):
                raise Fail(E.EACCES, "FIRST for a slot that is not the first")
        if iflags & LAST != rflags & LAST:
            iflags = with_flag(iflags, rflags, LAST)
            if iflags & LAST and rel.prog is not last(entry):
                raise Fail(E.EACCES, "LAST for a slot that is not the last")
        return entry[:i] + [Slot(new.prog, new.link, iflags)] + entry[i + 1:]
    raise Fail(E.ENOENT, "the program to replace is not in the chain")


# -- bpf_mprog_head_tail --------------------------------------------------------------------

def head_tail(entry: Entry, new: Tuple, rel: Tuple, aflags: int) -> Entry:
    if exists(entry, new.prog):
        raise Fail(E.EEXIST, "the program is already in the chain")
    items = len(entry)
    if aflags & FIRST:
        if aflags & AFTER:
            raise Fail(E.EINVAL, "FIRST with AFTER")
        head = read(entry, 0)
        if head.flags & FIRST:
            raise Fail(E.EBUSY, "FIRST is held")
        if aflags & LAST:
            if aflags & BEFORE:
                raise Fail(E.EINVAL, "FIRST|LAST with BEFORE")
            if items:
                raise Fail(E.EBUSY, "FIRST|LAST needs an empty chain")
            return [Slot(new.prog, new.link, FIRST | LAST)]
        if aflags & BEFORE and (head.prog is not rel.prog
                                or (rel.link is not None and rel.link is not head.link)):
            raise Fail(E.EBUSY, "FIRST|BEFORE: the relative is not the first entry")
        if items >= MAX:
            raise Fail(E.ENOSPC, "the chain is full")
        return [Slot(new.prog, new.link, FIRST)] + entry
    if aflags & LAST:
        if aflags & BEFORE:
            raise Fail(E.EINVAL, "LAST with BEFORE")
        if items:
            tail = read(entry, items - 1)
            if tail.flags & LAST:
                raise Fail(E.EBUSY, "LAST is held")
            if aflags & AFTER and (tail.prog is not rel.prog
                                   or (rel.link is not None and rel.link is not tail.link)):
                raise Fail(E.EBUSY, "LAST|AFTER: the relative is not the last entry")
            if items >= MAX:
                raise Fail(E.ENOSPC, "the chain is full")
        elif aflags & AFTER:
            raise Fail(E.EBUSY, "LAST|AFTER on an empty chain")
        return entry + [Slot(new.prog, new.link, LAST)]
    raise Fail(E.ENOENT, "neither FIRST nor LAST")  # unreachable: attach() chose this path


# -- bpf_mprog_add --------------------------------------------------------------------------

def add(entry: Entry, new: Tuple, rel: Tuple, aflags: int) -> Entry:
    items = len(entry)
    if items >= MAX:
        raise Fail(E.ENOSPC, "the chain is full")
    if aflags & (BEFORE | AFTER) == BEFORE | AFTER:
        raise Fail(E.EINVAL, "BEFORE and AFTER together")
    if exists(entry, new.prog):
        raise Fail(E.EEXIST, "the program is already in the chain")
    if rel.prog is None and aflags & (BEFORE | AFTER):
        if not items:
            aflags &= ~(BEFORE | AFTER)
        if aflags & BEFORE:
            rel = Tuple(first_reg(entry), rel.link)
        if aflags & AFTER:
            rel = Tuple(last_reg(entry), rel.link)
        if rel.prog is None:
            aflags &= ~(BEFORE | AFTER)
    # The peer is filled slot by slot: i reads the active entry, j writes the peer.
    peer: List[Slot] = [EMPTY] * (MAX + 1)
    found = False
    i = j = 0
    while i < MAX:
        src = read(entry, i)
        if src.prog is None:
            if i != j:
                break  # the new program went in already
            if i > 0:
                prev = read(entry, i - 1)
                if prev.flags & LAST:
                    if prev.flags & FIRST:
                        raise Fail(E.EBUSY, "an append cannot pass a sole FIRST|LAST holder")
                    peer[j] = prev  # the LAST holder moves up one; the new one lands before
                    j -= 1
            peer[j] = Slot(new.prog, new.link, 0)
            break
        if aflags & (BEFORE | AFTER) and _matches(src, rel):
            found = True
            if aflags & BEFORE:
                if src.flags & FIRST:
                    raise Fail(E.EBUSY, "BEFORE a FIRST holder")
                peer[j] = Slot(new.prog, new.link, 0)
                j += 1
            else:
                if src.flags & LAST:
                    raise Fail(E.EBUSY, "AFTER a LAST holder")
                peer[j] = src
                j += 1
                peer[j] = Slot(new.prog, new.link, 0)
                i += 1
                j += 1
                continue
        peer[j] = src
        i += 1
        j += 1
    if rel.prog is not None and not found:
        raise Fail(E.ENOENT, "the relative is not in the chain")
    return [slot for slot in peer if slot.prog is not None]


# -- bpf_mprog_del --------------------------------------------------------------------------

def delete(entry: Entry, target: Tuple, rel: Tuple, dflags: int) -> Entry:
    if dflags & REPLACE:
        raise Fail(E.EINVAL, "REPLACE on detach")
    prog = target.prog
    if dflags & FIRST:
        if prog is not None and prog is not first(entry):
            raise Fail(E.ENOENT, "the program is not the first entry")
        prog = first(entry)
    if dflags & LAST:
        if prog is not None and prog is not last(entry):
            raise Fail(E.ENOENT, "the program is not the last entry")
        prog = last(entry)
    if rel.prog is None and dflags & (BEFORE | AFTER):
        if prog is not None:
            raise Fail(E.EINVAL, "BEFORE/AFTER without a relative, yet a program is named")
        if dflags & BEFORE:
            prog = first_reg(entry)
        if dflags & AFTER:
            prog = last_reg(entry)
        if prog is not None:
            dflags &= ~(BEFORE | AFTER)
    found = False
    for i, src in enumerate(entry):
        if not dflags & (BEFORE | AFTER) or not _matches(src, rel):
            continue
        found = True
        if dflags & BEFORE:
            if i == 0:
                raise Fail(E.ENOENT, "nothing before the first entry")
            neighbour = read(entry, i - 1).prog
        else:
            neighbour = read(entry, i + 1).prog
        if prog is not None and prog is not neighbour:
            raise Fail(E.ENOENT, "the program is not next to the relative")
        prog = neighbour
        break
    if prog is None or (rel.prog is not None and not found):
        raise Fail(E.ENOENT, "nothing to detach there")
    peer: Entry = []
    removed = False
    for src in entry:
        if src.prog is not prog:
            peer.append(src)
        elif src.link is not target.link:
            raise Fail(E.EBUSY, "the slot belongs to a link" if src.link is not None
                       else "the slot was attached by program, not by this link")
        else:
            removed = True
    if not removed:
        raise Fail(E.ENOENT, "the program is not in the chain")
    return peer


# -- bpf_mprog_attach / bpf_mprog_detach ----------------------------------------------------

def stale(revision: int, expected: int) -> None:
    if expected and expected != revision:
        raise Fail(E.ESTALE, f"expected revision {expected}, the chain is at {revision}")


def attach(entry: Entry, revision: int, new: Tuple, flags: int, obj: Any, expected: int,
           find: Lookup, is_nothing: Callable[[Any], bool]) -> Entry:
    stale(revision, expected)
    rel = lookup(obj, flags, find, is_nothing)
    if flags & REPLACE:
        return replace(entry, new, rel, flags)
    if flags & (FIRST | LAST):
        return head_tail(entry, new, rel, flags)
    return add(entry, new, rel, flags)


def detach(entry: Entry, revision: int, target: Tuple, flags: int, obj: Any, expected: int,
           find: Lookup, is_nothing: Callable[[Any], bool]) -> Entry:
    stale(revision, expected)
    rel = lookup(obj, flags, find, is_nothing)
    return delete(entry, target, rel, flags)


def query_flags(slot: Slot) -> "tuple[int, int]":
    """(prog_attach_flags, link_attach_flags) of a slot: its flags go to the array of how it
    was attached, the other stays 0 (bpf_mprog_query)."""
    return (0, slot.flags) if slot.link is not None else (slot.flags, 0)


__all__ = ["Fail", "Slot", "Tuple", "Entry", "MAX", "attach", "detach", "query_flags"]
