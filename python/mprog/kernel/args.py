"""Turn protocol arguments into the numbers bpf(2) takes, passing invalid ones on as given.

Only what docs/protocol.md makes a Python error (``TypeError``, ``ValueError``) is raised
here, and flags that a u32 cannot hold (negative, or >= 2**32): the EINVAL of unknown bits,
without a call. Everything else is handed to the kernel so that it decides:

- a handle (Program or Link) is its fd, whatever kind the kernel wants there: the kernel
  finds the wrong kind (EINVAL); a closed handle is an fd that is never open (EBADF);
- an int where an fd is read is "an fd that is no bpf object": 0 is "none" where the kernel
  reads 0 as none (relative, detach's program, update's old program), any other int (and
  None or 0 where a program is required) an open fd of /dev/null (EINVAL);
- with ID the relative is an id: an int as given; a handle of the kind the flags name its
  id (closed or not: by id the kernel finds the object while it lives); a handle of the other
  kind an id no object has (ENOENT), since its own id would be looked up in the wrong id
  space and could name an unrelated object.
"""
from __future__ import annotations

import errno
from typing import Any, cast

from .. import errors
from ..flags import Flag
from ..lifetime import initialized, uninitialized_argument
from . import handles

U32 = 1 << 32
U64 = 1 << 64
#: Kernel ids come from idr_alloc_cyclic(.., 1, INT_MAX): this one is never given out.
NEVER_USED_ID = 0xFFFFFFFF


def flags(value: Any) -> int:
    """The flags as given (a TypeError for a non-int); see ``expressible``."""
    _int(value, "flags")
    return cast(int, value)  # checked by _int; returned as given (an IntFlag stays one)


def expressible(value: int, op: str) -> int:
    """Bits a u32 cannot carry (32 and up, the sign) are unknown bits that never reach the
    kernel: EINVAL, as for any unknown bit, without a call, for every operation (link too,
    although BPF_LINK_CREATE does not mask the bits it can see; docs/kernel-behaviour.md).

    Call this after every TypeError/ValueError check, which come before anything else."""
    if not 0 <= value < U32:
        raise errors.error(errno.EINVAL, op, f"unknown flag bits in {value:#x} (EINVAL; "
                           "beyond the kernel's u32)")
    return value


def expected_revision(value: Any) -> int:
    _int(value, "expected_revision")
    if not 0 <= value < U64:
        raise ValueError(f"expected_revision must be 0 <= r < 2**64, not {value}")
    return cast(int, value)  # checked by _int; returned as given


def count(value: Any) -> Any:
    if value is None:
        return value
    _int(value, "count")
    if value < 0:
        raise ValueError(f"count must be >= 0, not {value}")
    return value


def program(value: Any, what: str = "prog") -> int:
    """Where a program is required (attach, link, update's new program): an fd, never 0."""
    fd = _fd(value, what)
    return handles.devnull_fd() if fd == 0 else fd


def optional_program(value: Any, what: str = "prog") -> int:
    """detach's program: 0 (None, or the int 0) means none, as the kernel reads it."""
    return _fd(value, what)


def replace(value: Any, flag_bits: int) -> int:
    """replace_bpf_fd: read by the kernel only under REPLACE, where it must be a program."""
    fd = _fd(value, "replace")
    if not flag_bits & Flag.REPLACE:
        return 0
    return handles.devnull_fd() if fd == 0 else fd


def old_program(value: Any, flag_bits: int) -> int:
    """old_prog_fd of a link update: none (0) is fine without REPLACE, EINVAL under it."""
    fd = _fd(value, "old_prog")
    if fd == 0 and flag_bits & Flag.REPLACE:
        return handles.devnull_fd()
    return fd


def relative(value: Any, flag_bits: int) -> int:
    """relative_fd / relative_id as the kernel reads it under ``flag_bits``."""
    from .backend import Link
    if not flag_bits & Flag.ID:
        return _fd(value, "relative")
    _check(value, "relative")
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    wants_link = bool(flag_bits & Flag.LINK)
    return value.id if isinstance(value, Link) == wants_link else NEVER_USED_ID


def _fd(value: Any, what: str) -> int:
    """A handle's fd (a closed one: never open); None/0: 0; another int: /dev/null's fd."""
    _check(value, what)
    if value is None or value == 0:
        return 0
    if isinstance(value, int):
        return handles.devnull_fd()
    return handles.NEVER_OPEN_FD if value.fd is None else value.fd


def _check(value: Any, what: str) -> None:
    """None, a Program, a Link, or an int that a u32 holds (docs/protocol.md)."""
    from .backend import Link, Program
    if value is None:
        return
    if isinstance(value, (Program, Link)):
        if not initialized(value):  # made by T.__new__(T): docs/protocol.md, rule 14
            raise uninitialized_argument(what, value)
        return
    if not isinstance(value, int):
        raise TypeError(f"{what} must be a Program, a Link, an int or None, "
                        f"not {type(value).__name__}")
    if not 0 <= value < U32:
        raise ValueError(f"{what} must be 0 <= value < 2**32, not {value}")


def _int(value: Any, name: str) -> None:
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
