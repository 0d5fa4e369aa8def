"""Programs and links: their ids, closing them, and how long they live.

A handle is like an fd: once closed it can no longer be named (EBADF). The object behind it
lives on while something holds it, as a ``bpf_prog`` lives while its refcount is positive: a
chain slot that attached it by program, or a link that is not closed (attached or not). While
it lives it can be named by id; afterwards its id finds nothing (ENOENT).

Ids count from 1 and are never reused; programs and links have separate id spaces, shared by
every bundle of this backend (as the kernel's idr is shared by every device).
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Optional

PROGRAM_DIALECTS = ("upstream", "v2", "cgroup")
_program_ids = itertools.count(1)
_link_ids = itertools.count(1)
_live_programs: Dict[int, "Program"] = {}  # programs that still live, by id
_open_links: Dict[int, "Link"] = {}  # links that are not closed, by id


def program_by_id(prog_id: int) -> Optional["Program"]:
    """bpf_prog_by_id(): only a living program is found (id 0 never is)."""
    return _live_programs.get(prog_id)


def link_by_id(link_id: int) -> Optional["Link"]:
    """bpf_link_by_id(): an open link is found, attached or not; a closed one is gone."""
    return _open_links.get(link_id)


class Program:
    """A thing that can be attached. ``fn(ctx) -> int`` is what ``Bundle.run`` calls."""

    def __init__(self, name: str = "", fn: Optional[Callable[[Any], int]] = None,
                 dialect: str = "upstream") -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if fn is not None and not callable(fn):
            raise TypeError("fn must be callable or None")
        if dialect not in PROGRAM_DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of {PROGRAM_DIALECTS}")
        # What kind of program it is, as the kernel's program type: a tcx (SCHED_CLS) program
        # serves the upstream and v2 dialects, a cgroup (CGROUP_SKB) program the cgroup one.
        self.dialect = dialect
        self._id = next(_program_ids)
        self._name = name
        self._fn = fn
        self._closed = False
        self._holders = 0  # chain slots holding it by program + open links whose program it is
        _live_programs[self._id] = self

    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    fn = property(lambda self: self._fn)
    closed = property(lambda self: self._closed)

    def close(self) -> None:
        """Close the handle (idempotent); the program lives on while something holds it."""
        self._closed = True
        self._forget_if_gone()

    def _hold(self) -> None:
        self._holders += 1

    def _unhold(self) -> None:
        self._holders -= 1
        self._forget_if_gone()

    def _forget_if_gone(self) -> None:
        # The last reference is gone: the kernel frees the program and its id finds nothing.
        if self._closed and self._holders == 0:
            _live_programs.pop(self._id, None)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<model.Program {self._id} {self._name!r}{state}>"


class Link:
    """An attachment through a link; created only by ``Bundle.link``.

    The work of ``update``, ``detach`` and ``close`` is the bundle's (it owns the chain).
    As a context manager it is closed at the end of the with block, unless ``keep()`` was
    called (off the kernel's ABI: a convenience of the Python API).
    """

    def __init__(self, bundle: Any, prog: Program) -> None:
        # Provisional until _settle(): the attach it was made for may still fail.
        self._id = 0
        self._bundle = bundle
        self._prog = prog
        self._attached = False
        self._closed = False
        self._kept = False

    id = property(lambda self: self._id)
    prog = property(lambda self: self._prog)
    attached = property(lambda self: self._attached)
    closed = property(lambda self: self._closed)

    def update(self, new_prog: Any, flags: int = 0, old_prog: Any = None) -> None:
        """Swap the link's program in place (``BPF_LINK_UPDATE``)."""
        self._bundle._link_update(self, new_prog, flags, old_prog)

    def detach(self) -> None:
        """Leave the chain; the link stays open (``BPF_LINK_DETACH``)."""
        self._bundle._link_detach(self)

    def close(self) -> None:
        """Release the link (idempotent): detaches it first if it is still attached."""
        self._bundle._link_close(self)

    def keep(self) -> "Link":
        """Outlive the with block: the link stays until close() (or its bundle's close)."""
        self._kept = True
        return self

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._kept:
            self.close()

    def _settle(self) -> None:
        # bpf_link_settle(): the attach succeeded; the link gets its id and holds its program.
        self._id = next(_link_ids)
        _open_links[self._id] = self
        self._prog._hold()

    def _forget(self) -> None:
        self._closed = True
        _open_links.pop(self._id, None)
        self._prog._unhold()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "attached" if self._attached else "detached"
        return f"<model.Link {self._id} prog={self._prog.id} {state}>"
