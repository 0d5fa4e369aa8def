"""mprog: the kernel's bpf_mprog multi-program semantics, as a C++ core with a Python face."""
from __future__ import annotations

from . import errors
from .errors import (AlreadyAttached, BadAnchor, Busy, ChainFull, ClosedHandle,
                     InvalidArgument, LinkDetached, MprogError, NotAttached, NotFound,
                     PinViolation, QueryTooSmall, StaleRevision, WrongProgram)
from .flags import MAX_PROGRAMS, NEXT, Flag, V2Flag
from .query import QueryResult

__version__ = "0.1.0"
DIALECTS = ("upstream", "v2")


from ._core import Bundle, Link, Program


