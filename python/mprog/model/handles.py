"""Programs and links: their ids, closing them, and how long they live.

A handle is like an fd: once closed it can no longer be named (EBADF). The object behind it
lives on while something holds it, as a ``bpf_prog`` lives while its refcount is positive: a
chain slot that attached it by program, or a link that is not closed (attached or not). While
it lives it can be named by id; afterwards its id finds nothing (ENOENT). The model asks the
holders when an id is looked up (``program_by_id``) instead of counting on every change: a
closed program can never be held again (attaching needs its handle), so once nothing holds
it, it is gone for good.

Ids count from 1 and are never reused; programs and links have separate id spaces, shared by
every bundle of this backend (as the kernel's idr is shared by every device).

Lifetimes (mprog.lifetime): a Program dropped without ``close()`` lives while a chain or a
link holds it, then is gone (the registry holds it weakly). A ``Link`` is only the handle (the
fd); the chain holds the ``BpfLink`` behind it, so a Link dropped unclosed is collected and
releases its BpfLink, as closing the last fd does; the BpfLink knows its bundle weakly, as a
Bundle dropped unclosed is released too.
"""
from __future__ import annotations

import itertools
import weakref
from operator import attrgetter
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..lifetime import (LinkScope, Unique, initialized, refuses_uninitialized, uninitialized,
                        warn_unclosed)

PROGRAM_DIALECTS = ("upstream", "v2", "cgroup")
_program_ids = itertools.count(1)
_link_ids = itertools.count(1)


class _ProgramRef(weakref.ref["Program"]):
    """A weak reference to a program that knows its id, so that the program's collection
    takes its entry out of ``_live_programs`` (what ``WeakValueDictionary`` does, without
    its Python-level bookkeeping on every new program: the fuzzer makes one every other op)."""

    __slots__ = ("prog_id",)
    prog_id: int


def _collected(ref: _ProgramRef) -> None:
    _live_programs.pop(ref.prog_id, None)


# Programs that may still live, by id (a collected one leaves by itself: ``_collected``).
_live_programs: Dict[int, _ProgramRef] = {}
_open_links: Dict[int, "BpfLink"] = {}  # links that are not released, by id
#: Every bundle (tcx and cgroup) made, while it lives: their chains hold programs. Each has
#: ``holds(prog)``: whether its chain holds ``prog`` by program.
chains: "weakref.WeakSet[Any]" = weakref.WeakSet()


def program_by_id(prog_id: int) -> Optional["Program"]:
    """bpf_prog_by_id(): only a living program is found (id 0 never is).

    Living is asked at each lookup: an open handle, a chain or an open link holds it
    (docs/lifetimes.md, rule 6). A closed program that a transaction only staged is not
    found, and is found again once the commit puts it in the chain."""
    ref = _live_programs.get(prog_id)
    prog = ref() if ref is not None else None
    if prog is not None and prog._closed and not prog._links \
            and not any(chain.holds(prog) for chain in list(chains)):
        return None
    return prog


def link_by_id(link_id: int) -> Optional["BpfLink"]:
    """bpf_link_by_id(): an open link is found, attached or not; a closed one is gone."""
    return _open_links.get(link_id)


def handle_states(programs: List["Program"], links: List["Link"],
                  bundle: Any = None) -> Tuple[List[bool], List[Tuple[bool, bool, int]],
                                               Optional[List[int]]]:
    """(closed per program, (attached, closed, program id) per link, the ids of
    ``list(bundle)`` or None when no bundle is given): what ``Program.closed``,
    ``Link.attached``/``closed``/``prog`` and iterating the bundle say, read in one call, as
    ``mprog._core.handle_states`` reads the core's (the differential engine's full snapshot
    reads every handle after every op of a trace checked in full). The fields behind those
    properties are read directly: a property is a call, and there is one per field."""
    closed = [prog._closed for prog in programs]
    link_states = [(link._link.attached, link._link.closed, link._link.prog._id)
                   for link in links]
    return closed, link_states, None if bundle is None else [prog._id for prog in bundle]


def never_initialized(handle: Any) -> bool:
    """Whether ``handle`` is a Program or Link whose ``__init__`` never ran (made by
    ``T.__new__(T)``): every backend refuses one as an argument with TypeError
    (docs/protocol.md, Bad input, rule 14)."""
    return isinstance(handle, (Program, Link)) and not initialized(handle)


@refuses_uninitialized("_id", checks_itself=("id", "close"), fields=False)
class Program(Unique):
    """A thing that can be attached. ``fn(ctx) -> int`` is what ``Bundle.run`` calls.

    One never initialized (``T.__new__(T)``) refuses every use with TypeError, as the core's
    does (docs/protocol.md, rule 14): the decorator checks the members off the campaign's
    path, ``id`` and ``close`` check for themselves."""

    # (until __init__ has made it: one never initialized reads as closed, so the usual
    # arguments' fast paths pass it on to the checks, which refuse it: never_initialized)
    _closed = True

    def __init__(self, name: str = "", fn: Optional[Callable[[Any], int]] = None,
                 dialect: str = "upstream") -> None:
        if type(name) is not str and not isinstance(name, str):  # (a plain str: no call)
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if fn is not None and not callable(fn):
            raise TypeError("fn must be callable or None")
        if dialect not in PROGRAM_DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of {PROGRAM_DIALECTS}")
        # What kind of program it is, as the kernel's program type: a tcx (SCHED_CLS) program
        # serves the upstream and v2 dialects, a cgroup (CGROUP_SKB) program the cgroup one.
        self._dialect = dialect
        self._id = ident = next(_program_ids)
        self._name = name
        self._fn = fn
        self._closed = False
        self._links = 0  # open links whose program it is (chains are asked: program_by_id)
        ref = _ProgramRef(self, _collected)
        ref.prog_id = ident
        _live_programs[ident] = ref

    # Read-only attributes (the model itself reads the fields behind them).
    name = property(attrgetter("_name"))
    fn = property(attrgetter("_fn"))
    closed = property(attrgetter("_closed"))
    dialect = property(attrgetter("_dialect"))

    @property
    def id(self) -> int:
        try:  # (a try costs nothing until it catches; read for every program a trace makes)
            return self._id
        except AttributeError:
            raise uninitialized(self) from None

    def close(self) -> None:
        """Close the handle (idempotent); the program lives on while something holds it."""
        try:
            self._id
        except AttributeError:
            raise uninitialized(self) from None
        self._closed = True

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<model.Program {self._id} {self._name!r}{state}>"


class BpfLink:
    """The link itself (the kernel's ``bpf_link``): what a chain slot holds. It lives until its
    handle is closed or collected; ``bundle`` is weak (a link does not keep its bundle)."""

    __slots__ = ("id", "prog", "bundle", "attached", "closed")

    def __init__(self, bundle: Any, prog: Program) -> None:
        self.id = 0  # provisional until settle(): the attach it was made for may still fail
        self.prog = prog
        self.bundle: Callable[[], Any] = weakref.ref(bundle)
        self.attached = False
        self.closed = False

    def settle(self) -> None:
        # bpf_link_settle(): the attach succeeded; the link gets its id and holds its program.
        self.id = next(_link_ids)
        _open_links[self.id] = self
        self.prog._links += 1

    def forget(self) -> None:
        self.closed = True
        _open_links.pop(self.id, None)
        self.prog._links -= 1

    def run(self, prog: Program) -> None:
        """Hold ``prog`` instead of the program it runs now (a link update)."""
        prog._links += 1
        self.prog._links -= 1
        self.prog = prog

    def owner(self) -> Any:
        """The bundle whose chain the link is in, or None if it is detached. A bundle that was
        collected detached its links (or is about to, in the same collection): detached."""
        bundle = self.bundle()
        if bundle is None:
            self.attached = False
        return bundle if self.attached else None


def _link_field(name: str) -> Any:
    """A Link's read-only attribute: its BpfLink's field ``name`` (one never initialized has
    no BpfLink: TypeError, docs/protocol.md rule 14; the try costs nothing until it
    catches)."""
    read = attrgetter(name)

    def get(self: "Link") -> Any:
        try:
            link = self._link
        except AttributeError:
            raise uninitialized(self) from None
        return read(link)
    return property(get)


@refuses_uninitialized("_link", fields=False, checks_itself=(
    "id", "prog", "attached", "closed", "update", "detach", "close", "__repr__", "__del__"))
class Link(LinkScope):
    """An attachment through a link (the handle: an fd); created only by ``Bundle.link``.

    The work of ``update``, ``detach`` and ``close`` is the bundle's (it owns the chain), on
    the BpfLink; a detached link needs no bundle. As a context manager it is closed at the end
    of the with block, unless ``keep()`` was called (``mprog.lifetime.LinkScope``).
    """

    def __init__(self, bundle: Any, prog: Program) -> None:
        self._link = BpfLink(bundle, prog)

    id = _link_field("id")
    prog = _link_field("prog")
    attached = _link_field("attached")
    closed = _link_field("closed")

    def _bpf_link(self) -> "BpfLink":
        try:
            return self._link
        except AttributeError:
            raise uninitialized(self) from None

    def update(self, new_prog: Any, flags: int = 0, old_prog: Any = None) -> None:
        """Swap the link's program in place (``BPF_LINK_UPDATE``)."""
        link = self._bpf_link()
        bundle = link.owner()
        if bundle is not None:
            bundle._link_update(link, new_prog, flags, old_prog)
        else:  # detached: the checks up to ENOLINK are all there is
            from .naming import check_update
            check_update(link, new_prog, flags, old_prog)

    def detach(self) -> None:
        """Leave the chain; the link stays open (``BPF_LINK_DETACH``)."""
        link = self._bpf_link()
        bundle = link.owner()
        if bundle is not None:
            bundle._link_detach(link)
        elif link.closed:
            from .naming import closed_link
            raise closed_link(link, "link detach")

    def close(self) -> None:
        """Release the link (idempotent): detaches it first if it is still attached."""
        link = self._bpf_link()
        bundle = link.owner()
        if bundle is not None:
            bundle._link_close(link)
        elif not link.closed:
            link.forget()

    def __del__(self) -> None:
        # Only a link that was handed out (settled) and never closed: a failed link() made
        # no link.
        link = self.__dict__.get("_link")  # (none: never initialized)
        if link is not None and link.id and not link.closed:
            warn_unclosed(self)
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "attached" if self.attached else "detached"
        return f"<model.Link {self.id} prog={self.prog.id} {state}>"
