"""Programs and the protocol's argument rules, for the v2 oracle (docs/protocol.md).

A ``Program`` is like a program fd: closing the handle stops it being named by handle (EBADF),
but the program lives on while a chain holds it (attached by program) or an open link has it;
while it lives it can be named by id (the kernel's ``bpf_prog_by_id``). Nothing here decides
an errno of the v2 rules; ``v2.py`` and ``tcx.py`` do.
"""
from __future__ import annotations

import errno as E
import itertools
import weakref
from typing import Any, Callable, Optional

from ..errors import error
from ..flags import NEXT
from ..lifetime import Unique, initialized, refuses_uninitialized, uninitialized_argument


@refuses_uninitialized("_id")  # T.__new__(T): docs/protocol.md, rule 14
class Program(Unique):
    """A program handle: ``id`` (> 0, never reused), ``name``, ``closed``; ``fn(ctx)`` runs it."""

    _ids = itertools.count(1)
    _by_id: "weakref.WeakValueDictionary[int, Program]" = weakref.WeakValueDictionary()
    #: who may hold a program: every bundle and every link of this backend (weakly)
    holders: "weakref.WeakSet[Any]" = weakref.WeakSet()

    def __init__(self, name: str = "", fn: Optional[Callable[[Any], int]] = None,
                 dialect: str = "upstream") -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be callable or None, not {type(fn).__name__}")
        if dialect not in ("upstream", "v2"):  # (a tcx program; the oracle has no cgroup)
            raise ValueError(f"the v2 oracle makes tcx programs (dialect 'upstream' or 'v2'), "
                             f"not {dialect!r}")
        self._dialect = dialect
        self._id = next(Program._ids)
        self._name = name
        self._fn = fn
        self._closed = False
        Program._by_id[self._id] = self

    # Read-only, as on every backend.
    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    fn = property(lambda self: self._fn)
    closed = property(lambda self: self._closed)
    dialect = property(lambda self: self._dialect)

    def close(self) -> None:
        self._closed = True

    def alive(self) -> bool:
        """Open, or held by a chain slot or an open link (bpf_prog_by_id finds it)."""
        return not self.closed or any(h.holds(self) for h in list(Program.holders))

    def run(self, ctx: Any) -> int:
        """The verdict, a C int (docs/protocol.md, "Bad input", rule 11)."""
        if self.fn is None:
            return NEXT
        verdict = self.fn(ctx)
        if not isinstance(verdict, int):
            raise TypeError(f"run: program {self.id} ({self.name!r}) returned "
                            f"{type(verdict).__name__}, not an int")
        if not -2**31 <= verdict < 2**31:
            raise ValueError(f"run: program {self.id} ({self.name!r}) returned {verdict}, "
                             "which is no C int")
        return int(verdict)

    @classmethod
    def by_id(cls, prog_id: int) -> Optional["Program"]:
        prog = cls._by_id.get(prog_id)
        return prog if prog is not None and prog.alive() else None

    def __enter__(self) -> "Program":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<oracle Program {self.id}{' ' + repr(self.name) if self.name else ''}{state}>"


# -- arguments (docs/protocol.md, "Arguments"): TypeError/ValueError before anything else --

def integer(value: Any, what: str) -> int:
    if not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return int(value)


def revision_arg(value: Any) -> int:
    revision = integer(value, "expected_revision")
    if not 0 <= revision < 2**64:
        raise ValueError(f"expected_revision {revision} is not in 0..2**64-1")
    return revision


def count_arg(value: Any) -> Optional[int]:
    if value is None:
        return None
    count = integer(value, "count")
    if count < 0:
        raise ValueError(f"count {count} is negative")
    return count


def handle_arg(value: Any, what: str, link_type: type) -> Any:
    """Rule 3: None, a Program or Link of this backend, or an int 0 <= v < 2**32; rule 14:
    not one whose ``__init__`` never ran (``T.__new__(T)``)."""
    if value is None:
        return value
    if isinstance(value, (Program, link_type)):
        if not initialized(value):
            raise uninitialized_argument(what, value)
        return value
    value = integer(value, what)
    if not 0 <= value < 2**32:
        raise ValueError(f"{what} {value} is not in 0..2**32-1")
    return value


def program_fd(value: Any, op: str, what: str) -> Program:
    """Rule 4: a program read as the kernel reads a program fd (after the type checks and the
    flag mask): a closed handle of either kind EBADF; an open link, None or an int EINVAL."""
    if isinstance(value, Program) and not value.closed:
        return value
    if getattr(value, "closed", False):
        raise error(E.EBADF, op, f"the {what} handle is closed")
    raise error(E.EINVAL, op, f"the {what} is not a program fd")


def is_nothing(value: Any) -> bool:
    """Field value 0: no object named (None, or the int 0)."""
    return value is None or (isinstance(value, int) and value == 0)

