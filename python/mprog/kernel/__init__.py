"""mprog on the live kernel: the same protocol as ``mprog`` and ``mprog.model``, carried out
by bpf(2) on the tcx ingress hook of ``lo`` in a private network namespace per Bundle, and
for the cgroup dialect on BPF_CGROUP_INET_INGRESS of a private cgroup per Bundle.

It is the authority for the upstream dialect: whatever the kernel answers is what upstream
means (docs/kernel-behaviour.md lists where that differs from SPEC.md).
"""
from __future__ import annotations

from ..errors import (AlreadyAttached, BadAnchor, Busy, ChainFull, ClosedHandle,
                      InvalidArgument, LinkDetached, MprogError, NotAttached, NotFound,
                      PinViolation, QueryTooSmall, StaleRevision, WrongProgram)
from ..flags import ALLOW, CGROUP_MAX_PROGRAMS, DENY, MAX_PROGRAMS, NEXT, CgroupFlag, Flag, V2Flag
from ..query import QueryResult
from . import handles
from .backend import DIALECTS, Bundle, Link, Program, program_name
from .grace import expedited_grace_periods, grace_periods
from .probe import available


def assert_nothing_left() -> None:
    """Close every program, link and namespace the backend opened that is still open, and
    fail (AssertionError) if there was any: each must be closed by whoever opened it."""
    left = handles.close_everything()
    if left:
        raise AssertionError("left open by the test: " + ", ".join(sorted(left)))


__all__ = [
    "Bundle", "Program", "Link", "Flag", "V2Flag", "CgroupFlag", "QueryResult", "DIALECTS",
    "MAX_PROGRAMS", "CGROUP_MAX_PROGRAMS", "ALLOW", "DENY",
    "NEXT", "available", "assert_nothing_left", "expedited_grace_periods", "grace_periods",
    "program_name",
    "AlreadyAttached", "BadAnchor", "Busy", "ChainFull", "ClosedHandle", "InvalidArgument",
    "LinkDetached", "MprogError", "NotAttached", "NotFound", "PinViolation", "QueryTooSmall",
    "StaleRevision", "WrongProgram",
]
