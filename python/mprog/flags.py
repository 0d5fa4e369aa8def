"""Attach flags of the two dialects, as the kernel's uapi spells them."""
from __future__ import annotations

import enum


class Flag(enum.IntFlag):
    """Upstream (Linux 6.6+) flag values."""

    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    LINK = 1 << 13


class V2Flag(enum.IntFlag):
    """Flag values of the v2 proposal, which pins FIRST/LAST and moved ID to bit 7."""

    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    FIRST = 1 << 5
    LAST = 1 << 6
    ID = 1 << 7
    LINK = 1 << 13


class CgroupFlag(enum.IntFlag):
    """cgroup-bpf attach flags (Linux 6.17+): the modes, PREORDER and the mprog directives."""

    ALLOW_OVERRIDE = 1 << 0
    ALLOW_MULTI = 1 << 1
    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    PREORDER = 1 << 6
    LINK = 1 << 13


#: A chain has 64 slots; one stays empty as the end marker.
MAX_PROGRAMS = 63
#: tcx's TCX_NEXT: "go on to the next program".
NEXT = -1
#: A cgroup's list for one attach type holds at most 64 programs (BPF_CGROUP_MAX_PROGS).
CGROUP_MAX_PROGRAMS = 64
#: What a cgroup program returns to let the packet through (bit 0 set); 0 denies.
ALLOW = 1
DENY = 0
