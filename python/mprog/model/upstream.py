"""The upstream dialect: what Linux 6.6+ does on a tcx hook (SPEC.md).

Mirrors kernel/bpf/mprog.c: each directive names a position on its own
(``bpf_mprog_pos_exact/before/after``), the positions must agree, then one insert, replace or
delete. The checks the syscall and tcx layers make first (unknown flags, the program's fd, an
empty chain on detach) are the bundle's; these functions start where ``tcx_prog_attach()`` and
``bpf_mprog_attach()/detach()`` do.
"""
from __future__ import annotations

import errno as E
from typing import Any, Optional

from .. import messages as M
from ..errors import error
from ..flags import MAX_PROGRAMS, Flag
from .chain import (Anchor, Slot, Slots, check_fresh, describe, find_anchor, find_prog,
                    inserted, plain, removed, replaced)
from .handles import BpfLink, Program
from .naming import program_arg, resolve_relative

F = plain(Flag)
KNOWN = F.REPLACE | F.BEFORE | F.AFTER | F.ID | F.LINK
# The live kernel (not SPEC): BPF_LINK_CREATE for tcx never masks its flags; only what no u32
# holds is refused up front. An unknown bit is then ignored, except by the last check of
# bpf_mprog_attach() ("no directive, yet a relative or any flag": EINVAL).
LINK_KNOWN = (1 << 32) - 1
#: The directives that place an entry, and the flags that say how a relative is named.
PLACING = F.BEFORE | F.AFTER
NAMING = F.LINK | F.ID


def attach(slots: Slots, revision: int, op: str, prog: Program, link: Optional[BpfLink],
           flags: int, relative: Any, replace: Any, expected_revision: int) -> Slots:
    """``attach`` (by program) and ``link`` (through the new link ``link``): the request's
    fields as ``bpf_mprog_attach()`` takes them (``relative`` and ``replace`` still raw)."""
    if flags & F.REPLACE and link is None:
        # tcx_prog_attach() fetches replace_bpf_fd before bpf_mprog_attach() looks at anything.
        replace = program_arg(replace, op, "replace")
    else:
        replace = None
    if expected_revision:  # (0: not checked; most operations give none)
        check_fresh(revision, expected_revision, op)
    if find_prog(slots, prog) is not None:
        raise error(E.EEXIST, op, M.text("exists", program=describe(prog)))
    new = Slot(prog, link)
    # (no relative, nothing naming one: no anchor; resolve_relative's own first test, without
    # the call)
    anchor = None if relative is None and not flags & NAMING else resolve_relative(
        relative, flags, F, op)
    if flags & F.REPLACE:
        slot = _replace_slot(slots, op, replace, link)
        # Any directive must name that same slot; a bare relative is ignored.
        _agree(slots, op, flags, anchor, slot, f"the slot of {describe(replace)}")
        return replaced(slots, slot, new)
    if len(slots) >= MAX_PROGRAMS:
        raise error(E.ERANGE, op, M.text("chain_full", limit=MAX_PROGRAMS), full=True)
    idx = _agree(slots, op, flags, anchor, None, "") if flags & PLACING else None
    if idx is None:
        # No directive: a relative has nothing to say (kernel: "rtuple.prog || flags"), else append.
        if anchor is not None or flags:
            raise error(E.EINVAL, op, f"{_unplaced(anchor, flags)} needs BEFORE or AFTER")
        return slots + (new,)  # an append
    # idx names the neighbour: BEFORE X gave the slot before X, so the new one goes after it.
    return inserted(slots, idx + 1 if flags & F.BEFORE else idx, new)


def detach(slots: Slots, revision: int, op: str, prog: Optional[Program], flags: int,
           relative: Any, expected_revision: int) -> Slots:
    """``detach`` by program (``prog``, or None), or of the entry the directives name (the
    chain is not empty)."""
    if flags & F.REPLACE:
        raise error(E.EINVAL, op, "REPLACE means nothing to detach")
    if expected_revision:
        check_fresh(revision, expected_revision, op)
    anchor = None if relative is None and not flags & NAMING else resolve_relative(
        relative, flags, F, op)
    idx: Optional[int] = None
    if prog is not None:
        idx = _exact(slots, op, prog)
    if flags & PLACING:
        idx = _agree(slots, op, flags, anchor, idx, describe(prog))
    if idx is None:
        if anchor is not None or flags:
            raise error(E.EINVAL, op, f"{_unplaced(anchor, flags)} needs BEFORE or AFTER")
        idx = len(slots)  # no directive: "after the last", i.e. the last entry
    if idx >= MAX_PROGRAMS:
        # bpf_mprog_detach() bounds idx by bpf_mprog_max() *before* clamping it, so on a full
        # chain every "after the last" (no flags, AFTER alone, AFTER the last) fails.
        raise error(E.ERANGE, op, f"position {idx} is past the end of a full chain")
    # bpf_mprog_fetch(): -1 is the first, total the last (two comparisons: calling min() and
    # max() cost a detach as much again)
    if idx < 0:
        idx = 0
    elif idx >= len(slots):
        idx = len(slots) - 1
    if slots[idx].link is not None:
        raise error(E.EBUSY, op, M.text("link_owned_detach", program=describe(slots[idx].prog),
                                        link=describe(slots[idx].link)))
    return removed(slots, idx)


def _unplaced(anchor: Optional[Anchor], flags: int) -> str:
    return M.unplaced(describe(anchor) if anchor is not None else None, flags)


def _replace_slot(slots: Slots, op: str, replace: Optional[Program],
                  link: Optional[BpfLink]) -> int:
    if link is not None:
        # A new link has no program to replace: bpf_mprog_pos_exact() looks for a NULL program.
        raise error(E.ENOENT, op, "REPLACE: a new link has no slot to replace")
    return _exact(slots, op, replace)


def _exact(slots: Slots, op: str, prog: Optional[Program]) -> int:
    """``bpf_mprog_pos_exact()`` for a program acting by program: its slot, not a link's."""
    idx = find_prog(slots, prog)
    if idx is None:
        raise error(E.ENOENT, op, M.text("absent", program=describe(prog)))
    if slots[idx].link is not None:
        raise error(E.EBUSY, op, M.text("link_owned", program=describe(prog),
                                        link=describe(slots[idx].link)))
    return idx


def _agree(slots: Slots, op: str, flags: int, anchor: Optional[Anchor], idx: Optional[int],
           held: str) -> Optional[int]:
    """Each directive names a position on its own; all of them must agree (else ERANGE).

    Positions are the kernel's: BEFORE X is the slot before X (-1 before the first), AFTER X
    the slot after X (the total after the last). A missing relative is ENOENT before any
    disagreement.
    """
    for name, directive, position in (("BEFORE", F.BEFORE, _before),
                                      ("AFTER", F.AFTER, _after)):
        if flags & directive:
            at = position(slots, op, anchor)
            claim = f"{name} {describe(anchor) if anchor else 'nothing'}"
            if idx is not None and at != idx:
                raise error(E.ERANGE, op, f"{claim} does not agree with {held}")
            idx, held = at, claim
    return idx


def _before(slots: Slots, op: str, anchor: Optional[Anchor]) -> int:
    if anchor is None:
        return -1
    return _position(slots, op, anchor) - 1


def _after(slots: Slots, op: str, anchor: Optional[Anchor]) -> int:
    if anchor is None:
        return len(slots)
    return _position(slots, op, anchor) + 1


def _position(slots: Slots, op: str, anchor: Anchor) -> int:
    idx = find_anchor(slots, anchor)
    if idx is None:
        raise error(E.ENOENT, op, M.text("relative_absent", relative=describe(anchor)))
    return idx
