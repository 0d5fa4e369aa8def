"""Failures as ``OSError`` subclasses whose ``errno`` is the kernel's.

Every backend raises these, so ``except mprog.AlreadyAttached`` and ``e.errno == EEXIST``
work the same on the core, the model and the live kernel. The class is chosen by errno (and,
for ``ERANGE`` on a full chain, by reason); the message names the operation and what was wrong.
"""
from __future__ import annotations

import errno as _errno
from typing import Any, Dict, Optional, Type


class MprogError(OSError):
    """Base of every mprog failure. ``op`` is the operation ("attach", "detach", ...)."""

    # (None where not given: ``error`` sets only what it was given, see ``_bare``)
    op: Optional[str] = None
    revision: Optional[int] = None
    anchor: Any = None

    def __init__(self, err: int, message: str, *, op: Optional[str] = None,
                 revision: Optional[int] = None, anchor: Any = None) -> None:
        super().__init__(err, message)
        self.op = op
        self.revision = revision
        self.anchor = anchor

    def __reduce__(self) -> Any:  # keep pickling (multiprocessing) working with keywords
        return (_rebuild, (type(self), self.errno, self.strerror, dict(self.__dict__)))


def _rebuild(cls: Type["MprogError"], err: int, message: str,
             state: Dict[str, Any]) -> "MprogError":
    e = _bare(cls, err, message)
    e.__dict__.update(state)
    return e


_OSERROR_NEW = OSError.__new__
_OSERROR_INIT = OSError.__init__


def _bare(cls: Type["MprogError"], err: int, message: str) -> "MprogError":
    """An instance of ``cls`` with its errno and message and nothing else, made without a
    call of its ``__init__``. (An OSError subclass with an ``__init__`` of its own takes its
    arguments there, through a Python frame and ``super()``: the usual refusal cost twice as
    much to build. The attributes ``__init__`` would set read as the class's None.)"""
    e: MprogError = _OSERROR_NEW(cls, err, message)
    _OSERROR_INIT(e, err, message)
    return e


class InvalidArgument(MprogError):
    """EINVAL: unknown flag bits, a handle of the wrong kind, a relative without a directive."""


class ClosedHandle(MprogError):
    """EBADF: a program or link handle that was closed."""


class NotFound(MprogError, FileNotFoundError):
    """ENOENT: the named program, link, id or relative is not there."""


NotAttached = NotFound


class AlreadyAttached(MprogError, FileExistsError):
    """EEXIST: the program is already in the chain."""


class StaleRevision(MprogError):
    """ESTALE: ``expected_revision`` is not the chain's current revision."""


class BadAnchor(MprogError):
    """ERANGE: the requested position does not exist or the directives disagree."""


class ChainFull(MprogError):
    """The chain already holds 63 programs (ERANGE upstream, ENOSPC in v2), or a cgroup's list
    holds 64 (E2BIG)."""


class Busy(MprogError):
    """EBUSY: the slot belongs to a link (or, in v2, to a pin holder)."""


class WrongProgram(MprogError, PermissionError):
    """EPERM: ``old_prog`` of a link update is not the link's program."""


class LinkDetached(MprogError):
    """ENOLINK: the link was already detached."""


class PinViolation(MprogError, PermissionError):
    """EACCES (v2): a REPLACE that would give a slot a pin away from its end."""


class QueryTooSmall(MprogError):
    """ENOSPC from query: ``count`` is the true total, ``partial`` holds the first entries."""

    def __init__(self, err: int, message: str, *, count: int = 0, partial: Any = None,
                 **kw: Any) -> None:
        super().__init__(err, message, **kw)
        self.count = count
        self.partial = partial


_BY_ERRNO = {
    _errno.EINVAL: InvalidArgument,
    _errno.EBADF: ClosedHandle,
    _errno.ENOENT: NotFound,
    _errno.EEXIST: AlreadyAttached,
    _errno.ESTALE: StaleRevision,
    _errno.ERANGE: BadAnchor,
    _errno.EBUSY: Busy,
    _errno.EPERM: WrongProgram,
    _errno.ENOLINK: LinkDetached,
    _errno.EACCES: PinViolation,
    _errno.ENOSPC: ChainFull,
    _errno.E2BIG: ChainFull,
}


def error(err: int, op: str, what: str, *, full: bool = False, **kw: Any) -> MprogError:
    """Build the exception for ``err`` raised by ``op``; ``what`` says what was wrong.

    ``full`` marks an ``ERANGE`` that comes from a full chain, so it is a ``ChainFull``.
    """
    cls = ChainFull if full else _BY_ERRNO.get(err, MprogError)
    if not kw:  # the usual refusal: the same exception, built without __init__ (_bare)
        e = _bare(cls, err, f"{op}: {what}")
        e.op = op
        return e
    return cls(err, f"{op}: {what}", op=op, **kw)
