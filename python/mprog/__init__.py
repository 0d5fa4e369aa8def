"""mprog: the kernel's bpf_mprog multi-program semantics, as a C++ core with a Python face.

``mprog.Bundle``/``Program``/``Link`` are the C++ core; ``mprog.model`` is the reference model
and ``mprog.kernel`` the live kernel's tcx, with the same names (docs/protocol.md).
"""
from __future__ import annotations

from . import _core, errors, messages
from ._core import Bundle, Link, Program, Transaction
from .anchors import After, Anchor, Before, Head, Replace, Tail, to_cgroup_request, to_request
from .errors import (AlreadyAttached, BadAnchor, Busy, ChainFull, ClosedHandle,
                     InvalidArgument, LinkDetached, MprogError, NotAttached, NotFound,
                     PinViolation, QueryTooSmall, StaleRevision, WrongProgram)
from .explain import Explanation
from .flags import ALLOW, CGROUP_MAX_PROGRAMS, DENY, MAX_PROGRAMS, NEXT, CgroupFlag, Flag, V2Flag
from .query import QueryEntry, QueryResult
from .retry import retry

# What the C++ binding uses of this package, handed over once (it imports nothing by name).
_core._inject(error=errors.error, query_too_small=QueryTooSmall, query_result=QueryResult,
              explanation=Explanation, to_request=to_request, messages=messages,
              to_cgroup_request=to_cgroup_request)

__version__ = "0.1.0"
DIALECTS = ("upstream", "v2", "cgroup")

__all__ = [
    "ALLOW", "CGROUP_MAX_PROGRAMS", "CgroupFlag", "DENY",
    "After", "AlreadyAttached", "Anchor", "BadAnchor", "Before", "Bundle", "Busy", "ChainFull",
    "ClosedHandle", "DIALECTS", "Explanation", "Flag", "Head", "InvalidArgument", "Link",
    "LinkDetached", "MAX_PROGRAMS", "MprogError", "NEXT", "NotAttached", "NotFound",
    "PinViolation", "Program", "QueryEntry", "QueryResult", "QueryTooSmall", "Replace",
    "StaleRevision", "Tail", "Transaction", "V2Flag", "WrongProgram", "errors", "retry",
    "__version__",
]
