"""Placement as values: ``Head()``, ``Tail()``, ``Before(x)``, ``After(x)``, ``Replace(p)``.

An anchor knows how to say itself in the kernel's terms (flags, relative, replace) for a
dialect, so users never compose raw flags (cilium/ebpf's ``Anchor`` is the model). Every
backend accepts an anchor where the protocol takes ``flags``::

    b.attach(p, Before(q), expected_revision=rev)
    b.link(p, Tail())
    b.detach(None, After(prog_id=7))          # what sits right after program 7
    b.attach(p, Head(first=True))               # v2: pin p first

``first=``/``last=`` are the v2 dialect's sticky pins (off upstream's ABI: the upstream dialect
refuses them with a ``ValueError`` before anything is looked at). ``mode=`` (``"multi"``, the
default, ``"override"`` or ``"none"``) and ``preorder=`` are the cgroup dialect's options
(docs/cgroup.md); the other dialects refuse them the same way::

    cg.attach(p, Before(q, preorder=True))      # ALLOW_MULTI|BEFORE|PREORDER, relative q
    cg.attach(p, Tail(mode="override"))         # ALLOW_OVERRIDE|AFTER
    cg.link(p, After(link))                     # AFTER|LINK (a link is always ALLOW_MULTI)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

from .flags import CgroupFlag, Flag, V2Flag

__all__ = ["Anchor", "Head", "Tail", "Before", "After", "Replace", "to_request",
           "to_cgroup_request"]

Request = Tuple[int, Any, Any]  # (flags, relative, replace)


#: The cgroup dialect's modes by the name ``mode=`` takes.
MODES = {"multi": int(CgroupFlag.ALLOW_MULTI), "override": int(CgroupFlag.ALLOW_OVERRIDE),
         "none": 0}


def _flags(dialect: str) -> Any:
    return V2Flag if dialect == "v2" else CgroupFlag if dialect == "cgroup" else Flag


@dataclass(frozen=True)
class Anchor:
    """Base of the placement values. ``first``/``last`` pin the program (v2 only);
    ``mode``/``preorder`` are the cgroup dialect's (mode None means ``"multi"``)."""

    first: bool = False
    last: bool = False
    mode: Optional[str] = None
    preorder: bool = False

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    def request(self, dialect: str) -> Request:
        raise NotImplementedError

    def options(self, dialect: str) -> int:
        """The bits the options add: pins (v2), or mode and PREORDER (cgroup)."""
        cgroup = self.mode is not None or self.preorder
        if cgroup and dialect != "cgroup":
            raise ValueError(f"{self!r}: mode=/preorder= exist only in the cgroup dialect")
        if dialect != "cgroup":
            return self._pins(dialect)
        if self.first or self.last:
            raise ValueError(f"{self!r}: first=/last= pins exist only in the v2 dialect")
        bits = MODES[self.mode or "multi"]
        return bits | (int(CgroupFlag.PREORDER) if self.preorder else 0)

    def _pins(self, dialect: str) -> int:
        if not (self.first or self.last):
            return 0
        if dialect != "v2":
            raise ValueError(f"{self!r}: first=/last= pins exist only in the v2 dialect")
        return (int(V2Flag.FIRST) if self.first else 0) | (int(V2Flag.LAST) if self.last else 0)


@dataclass(frozen=True)
class Head(Anchor):
    """At the front of the chain (inside a FIRST pin in v2). ``Head(first=True)`` takes the pin."""

    def request(self, dialect: str) -> Request:
        if dialect == "cgroup":
            return self.options(dialect) | int(CgroupFlag.BEFORE), None, None
        pins = self.options(dialect)
        return pins or int(_flags(dialect).BEFORE), None, None


@dataclass(frozen=True)
class Tail(Anchor):
    """At the end of the chain (inside a LAST pin in v2). ``Tail(last=True)`` takes the pin."""

    def request(self, dialect: str) -> Request:
        if dialect == "cgroup":
            return self.options(dialect) | int(CgroupFlag.AFTER), None, None
        pins = self.options(dialect)
        return pins or int(_flags(dialect).AFTER), None, None


@dataclass(frozen=True, init=False)
class _Relative(Anchor):
    target: Any = None
    prog_id: Optional[int] = None
    link_id: Optional[int] = None

    def __init__(self, target: Any = None, *, prog_id: Optional[int] = None,
                 link_id: Optional[int] = None, first: bool = False, last: bool = False,
                 mode: Optional[str] = None, preorder: bool = False) -> None:
        named = [x is not None for x in (target, prog_id, link_id)]
        if sum(named) != 1:
            raise TypeError(f"{type(self).__name__}() takes exactly one of a program or link, "
                            "prog_id= or link_id=")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "prog_id", prog_id)
        object.__setattr__(self, "link_id", link_id)
        object.__setattr__(self, "first", first)
        object.__setattr__(self, "last", last)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "preorder", preorder)
        self.__post_init__()

    _direction = "BEFORE"

    def request(self, dialect: str) -> Request:
        f = _flags(dialect)
        flags = int(getattr(f, self._direction)) | self.options(dialect)
        if self.prog_id is not None:
            return flags | int(f.ID), self.prog_id, None
        if self.link_id is not None:
            return flags | int(f.ID | f.LINK), self.link_id, None
        if _is_link(self.target):
            return flags | int(f.LINK), self.target, None
        return flags, self.target, None

    def __repr__(self) -> str:
        if self.prog_id is not None:
            what = f"prog_id={self.prog_id}"
        elif self.link_id is not None:
            what = f"link_id={self.link_id}"
        else:
            what = repr(self.target)
        return f"{type(self).__name__}({what})"


class Before(_Relative):
    """Right before a program or link (``Before(p)``, ``Before(prog_id=7)``, ``Before(link_id=3)``)."""

    _direction = "BEFORE"


class After(_Relative):
    """Right after a program or link (``After(p)``, ``After(prog_id=7)``, ``After(link_id=3)``)."""

    _direction = "AFTER"


@dataclass(frozen=True, init=False)
class Replace(Anchor):
    """In the slot of program ``prog``, which leaves the chain."""

    prog: Any = None

    def __init__(self, prog: Any, *, first: bool = False, last: bool = False,
                 mode: Optional[str] = None, preorder: bool = False) -> None:
        object.__setattr__(self, "prog", prog)
        object.__setattr__(self, "first", first)
        object.__setattr__(self, "last", last)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "preorder", preorder)
        self.__post_init__()

    def request(self, dialect: str) -> Request:
        flags = int(_flags(dialect).REPLACE) | self.options(dialect)
        if dialect == "v2":
            # The v2 ABI had one field for relative and replace_bpf_fd, so the program to
            # replace is the relative too: link(), which has no replace=, still names it.
            return flags, self.prog, self.prog
        return flags, None, self.prog

    def __repr__(self) -> str:
        return f"Replace({self.prog!r})"


def _is_link(x: Any) -> bool:
    # Links of every backend are Links (the kernel's cgroup links subclass its Link) and have
    # a `prog`; programs have neither.
    return any(c.__name__ == "Link" for c in type(x).__mro__) and hasattr(x, "prog")


def to_request(anchor: Any, relative: Any, replace: Any, dialect: str) -> Request:
    """(flags, relative, replace) for an anchor given where the protocol takes ``flags``.

    Called by every backend when ``flags`` is not an int. An anchor together with an explicit
    ``relative=`` or ``replace=`` is a ``TypeError``: the anchor already says where.
    """
    if not isinstance(anchor, Anchor):
        raise TypeError(f"flags must be an int or an anchor (Head, Tail, Before, After, Replace), "
                        f"not {type(anchor).__name__}")
    if relative is not None or replace is not None:
        raise TypeError(f"{anchor!r} already names the place: do not pass relative= or replace=")
    return anchor.request(dialect)


def to_cgroup_request(flags: Any, relative: Any, replace: Any, op: str) -> Request:
    """The cgroup dialect's ``to_request``: flags as given, or what the anchor says. A link
    is always ALLOW_MULTI (BPF_LINK_CREATE refuses the mode bits), so a link's anchor says no
    mode, and one that asks for another mode is a ``ValueError``."""
    if isinstance(flags, int):
        return flags, relative, replace
    bits, relative, replace = to_request(flags, relative, replace, "cgroup")
    if op == "link":
        if flags.mode not in (None, "multi"):
            raise ValueError(f"{flags!r}: a link is always ALLOW_MULTI")
        bits &= ~int(CgroupFlag.ALLOW_MULTI)
    return bits, relative, replace
