"""A second, independent reading of the v2 series: the v2 dialect's counterpart of the kernel.

No kernel runs the v2 proposal, so the differential fuzzer's v2 campaigns used to compare only
our two readings of docs/v2-rules.md (the C++ core and ``mprog.model``). This oracle was
written from the v2 patch code itself ("[PATCH bpf-next v2 1/7]" ``kernel/bpf/mprog.c`` and the
syscall/tcx part of 2/7), function for function, and from docs/protocol.md for the Python
surface, never from the core or the model. It offers the v2 dialect only.

- ``v2``: ``kernel/bpf/mprog.c`` of the series (replace, head_tail, add, del, the relative);
- ``tcx``: the syscall and tcx layers around it, ``Bundle`` and ``Link``;
- ``objects``: ``Program`` and the protocol's argument rules.

Where the patch cannot answer a question of the protocol, the oracle follows docs/v2.md's
choice explicitly: look for ``CHOICE`` in ``tcx.py``.
"""
from __future__ import annotations

from ..anchors import After, Anchor, Before, Head, Replace, Tail
from ..errors import (AlreadyAttached, BadAnchor, Busy, ChainFull, ClosedHandle,
                      InvalidArgument, LinkDetached, MprogError, NotAttached, NotFound,
                      PinViolation, QueryTooSmall, StaleRevision, WrongProgram)
from ..flags import MAX_PROGRAMS, NEXT, Flag, V2Flag
from ..query import QueryEntry, QueryResult
from .objects import Program
from .tcx import DIALECTS, Bundle, Link

__all__ = [
    "Bundle", "Program", "Link", "Flag", "V2Flag", "QueryResult", "DIALECTS", "NEXT",
    "MAX_PROGRAMS", "MprogError", "InvalidArgument", "ClosedHandle", "NotFound", "NotAttached",
    "AlreadyAttached", "StaleRevision", "BadAnchor", "ChainFull", "Busy", "WrongProgram",
    "LinkDetached", "PinViolation", "QueryTooSmall", "After", "Anchor", "Before", "Head",
    "Replace", "Tail", "QueryEntry",
]
