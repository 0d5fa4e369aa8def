"""mprog's reference model: the executable specification, in plain Python.

Written from SPEC.md, docs/v2-rules.md and docs/protocol.md (never from the C++ core) and compared with the
core and the live kernel by differential fuzzing. Short and plain on purpose; speed is not a goal.

- ``handles``: Program and Link, their ids and lifetimes;
- ``naming``: arguments to objects (types, handles, relatives);
- ``chain``: slots and the pure helpers the rules use;
- ``upstream``, ``v2``: each dialect's rules, check by check;
- ``bundle``: the public protocol, committing what the rules return.
"""
from __future__ import annotations

from ..anchors import After, Anchor, Before, Head, Replace, Tail
from ..errors import (AlreadyAttached, BadAnchor, Busy, ChainFull, ClosedHandle,
                      InvalidArgument, LinkDetached, MprogError, NotAttached, NotFound,
                      PinViolation, QueryTooSmall, StaleRevision, WrongProgram)
from ..explain import Explanation
from ..flags import ALLOW, CGROUP_MAX_PROGRAMS, DENY, MAX_PROGRAMS, NEXT, CgroupFlag, Flag, V2Flag
from ..query import QueryEntry, QueryResult
from ..retry import retry
from .bundle import DIALECTS, Bundle, Transaction
from .handles import Link, Program, handle_states

__all__ = [
    "Bundle", "Program", "Link", "Transaction", "Flag", "V2Flag", "QueryResult", "DIALECTS",
    "NEXT", "MAX_PROGRAMS", "CgroupFlag", "CGROUP_MAX_PROGRAMS", "ALLOW", "DENY", "MprogError", "InvalidArgument", "ClosedHandle", "NotFound",
    "NotAttached", "AlreadyAttached", "StaleRevision", "BadAnchor", "ChainFull", "Busy",
    "WrongProgram", "LinkDetached", "PinViolation", "QueryTooSmall",
    # the Python API's shared helpers, so that code written for ``mprog`` runs unchanged
    "After", "Anchor", "Before", "Head", "Replace", "Tail", "Explanation", "QueryEntry",
    "retry",
    # read by the differential engine's full snapshot (as the core's _core.handle_states)
    "handle_states",
]
