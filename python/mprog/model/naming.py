"""Turning protocol arguments into objects, with the errors the kernel gives for bad names.

Three layers, in the order an operation meets them:
- Python types and ranges (TypeError / ValueError): before anything else, so they change nothing;
- handles, as the kernel's fd lookups see them: closed is EBADF (before the kind is looked at),
  the wrong kind (or an int, "an fd that is no bpf object") is EINVAL;
- relatives, as ``bpf_mprog_tuple_relative()`` resolves them (kernel/bpf/mprog.c).
"""
from __future__ import annotations

import errno as E
from typing import Any, Optional, Type, Union

from .. import messages as M
from ..lifetime import uninitialized_argument
from ..errors import error
from .chain import Anchor, describe
from .handles import Link, Program, link_by_id, never_initialized, program_by_id

_U32 = 1 << 32
_U64 = 1 << 64
_REPLACE = 1 << 2  # a plain int: an IntFlag's & is slow


# -- Python types and ranges ---------------------------------------------------------------

def check_int(value: Any, name: str, limit: Optional[int] = None) -> None:
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if limit is not None and not 0 <= value < limit:
        raise ValueError(f"{name} must be in [0, {limit:#x}), got {value}")


def check_handle(value: Any, name: str) -> None:
    """A handle argument: None, a Program, a Link, or an int (an id, or an fd: a u32 either way)."""
    if isinstance(value, int):
        check_int(value, name, _U32)
    elif value is not None and not isinstance(value, (Program, Link)):
        raise TypeError(f"{name} must be a Program, a Link, an int or None, "
                        f"not {type(value).__name__}")
    elif never_initialized(value):
        raise uninitialized_argument(name, value)


def check_args(flags: Any, relative: Any, expected_revision: Any, prog: Any,
               replace: Any = None) -> None:
    """The Python types of an attach, link or detach (before anything else). The usual
    arguments (plain ints, no relative, a Program) pass without a call: every operation
    comes here."""
    if type(flags) is not int:
        check_int(flags, "flags")
    if relative is not None:
        check_handle(relative, "relative")
    if type(expected_revision) is not int or not 0 <= expected_revision < _U64:
        check_int(expected_revision, "expected_revision", _U64)
    if type(prog) is not Program or prog._closed:  # (closed: or never initialized)
        check_handle(prog, "prog")
    if replace is not None:
        check_handle(replace, "replace")


def check_count(count: Any) -> None:
    if count is not None:
        check_int(count, "count")
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")


def check_dialect(dialect: Any, known: Any) -> None:
    """A str (TypeError) naming a dialect this backend runs (ValueError)."""
    if not isinstance(dialect, str):
        raise TypeError(f"dialect must be a str, not {type(dialect).__name__}")
    if dialect not in known:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {tuple(known)}")


def is_none(value: Any) -> bool:
    """None and 0 both mean "nothing" where the kernel reads an fd (fd 0 is no bpf object)."""
    return value is None or (isinstance(value, int) and value == 0)


# -- flags and handles ---------------------------------------------------------------------

def check_known(flags: int, known: int, op: str) -> None:
    """Any bit outside the dialect's set (above 31 and the sign included) is EINVAL, first.

    Plain ints on purpose: ``~`` of an IntFlag only complements within its members."""
    if type(flags) is int and not flags & ~known:
        return  # the usual case, first
    unknown = int(flags) & ~int(known)
    if unknown:
        raise error(E.EINVAL, op, M.text("unknown_flags", bits=unknown))


def program_arg(value: Any, op: str, what: str) -> Program:
    """A program named by handle, as ``bpf_prog_get(fd)`` sees it."""
    if type(value) is Program and not value._closed:
        return value  # the usual case, first (``_closed``: no property to go through)
    if isinstance(value, (Program, Link)) and value.closed:
        raise error(E.EBADF, op, f"{what} ({describe(value)}) is closed")
    if not isinstance(value, Program):
        raise error(E.EINVAL, op, f"{what} must be a program, not {describe(value)}")
    return value


def closed_link(link: Any, op: str) -> Exception:
    return error(E.EBADF, op, M.text("link_closed", link=describe(link)))


def check_update(link: Any, new_prog: Any, flags: Any, old_prog: Any) -> Program:
    """link_update()'s checks up to the link's own (ENOLINK, EPERM), in order; the new
    program. What follows (``update_prog``) is each hook's."""
    op = "update"
    check_int(flags, "flags")
    check_handle(new_prog, "new_prog")
    check_handle(old_prog, "old_prog")
    check_known(flags, _REPLACE, op)  # REPLACE is 1<<2 in every dialect
    if link.closed:
        raise closed_link(link, op)
    new = program_arg(new_prog, op, "new program")
    if flags & _REPLACE:
        old_prog = program_arg(old_prog, op, "old program")
    elif not is_none(old_prog):  # an old_prog_fd of 0 is none, as the kernel reads it
        raise error(E.EINVAL, op, "old program given without REPLACE")
    if not link.attached:
        raise error(E.ENOLINK, op, M.text("link_detached", link=describe(link)))
    if flags & _REPLACE and old_prog is not link.prog:
        raise error(E.EPERM, op, M.text("wrong_old_prog", link=describe(link),
                                        program=describe(link.prog), old=describe(old_prog)))
    return new


# -- relatives -----------------------------------------------------------------------------

def resolve_relative(value: Any, flags: int, F: Any, op: str,
                     what: str = "relative") -> Optional[Anchor]:
    """``bpf_mprog_tuple_relative()``: LINK names a link, else a program; ID looks up by id.

    Without LINK and ID, None (fd 0) is "no relative": BEFORE/AFTER then mean first/last.
    """
    if value is None and not flags & (F.LINK | F.ID):
        return None  # the usual case, first
    if flags & F.LINK:
        link = _lookup(value, bool(flags & F.ID), Link, op, what)
        return Anchor(link.prog, link)
    if not flags & F.ID and is_none(value):
        return None
    return Anchor(_lookup(value, bool(flags & F.ID), Program, op, what))


def _lookup(value: Any, by_id: bool, kind: Type[Union[Program, Link]], op: str,
            what: str) -> Any:
    """The program or link a relative names (by handle, or by id with ``by_id``)."""
    noun = kind.__name__.lower()
    if by_id:
        return _by_id(value, kind, op, what)
    if isinstance(value, (Program, Link)):
        if value.closed:
            raise error(E.EBADF, op, f"{what} ({describe(value)}) is closed")
        if not isinstance(value, kind):
            raise error(E.EINVAL, op, f"{what} must be a {noun}, not {describe(value)}")
        return value._link if isinstance(value, Link) else value  # the chain holds BpfLinks
    # An int without ID is an fd that is no bpf object (and fd 0 is no link either).
    raise error(E.EINVAL, op, f"{what} {describe(value)} is not a {noun}")


def _by_id(value: Any, kind: Type[Union[Program, Link]], op: str, what: str) -> Any:
    """With ID the relative is an id (the kernel backend's mapping, kernel/args.py): an int as
    given, None is 0; a handle of the kind wanted stands for its id, closed or not (by id the
    object is found while it lives); a handle of the other kind for an id nothing has."""
    noun = kind.__name__.lower()
    if isinstance(value, (Program, Link)):
        if not isinstance(value, kind):
            raise error(E.ENOENT, op, f"{what}: {describe(value)} has no {noun} id")
        ident = value.id
    else:
        ident = value or 0  # id 0 is never given out
    found = link_by_id(ident) if kind is Link else program_by_id(ident)
    if found is None:
        raise error(E.ENOENT, op, f"{what}: no {noun} has id {ident}")
    return found


#: The cgroup dialect resolves its relatives itself (cgroup.c, not mprog.c) but names
#: them exactly as above.
lookup = _lookup
