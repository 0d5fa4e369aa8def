"""Batch entry point: a whole trace of operations applied by the C++ core in one call.

Calling ``Bundle.attach`` from Python costs a few hundred nanoseconds, nearly all of it in
argument handling and the call itself; the core's own work is tens of nanoseconds. A
``Trace`` encodes operations as 16-byte records (``mprog::replay::Op``) that name programs
and links by index, and ``replay`` runs them all in C++ without the GIL::

    t = Trace()
    t.attach(0)                             # programs[0], appended
    t.link(1, Flag.BEFORE, relative=("prog", 0))   # links[0] = link of programs[1]
    t.detach(0)
    result = replay(t, programs=2, links=1, errnos=True)
    result.counts        # {0: 3}: errno -> how many ops ended so (0: success)
    result.chain         # ((1, 0),): (program index, link index or None) in chain order

``apply(backend, trace, ...)`` carries out the same trace call by call through the Python
protocol of any backend (``mprog``, ``mprog.model``, ``mprog.kernel``) and returns the same
kind of result: it is what ``replay`` is tested against, and a way to feed one trace to each.

Indices: program ``i`` of a trace is the ``i``-th of ``programs`` pre-created programs; link
``j`` is created by the trace's ``link`` op that names it (each such op names a new index).
A failed ``link`` op leaves a closed link behind (like a handle that was never handed out).
Relatives: ``None``, ``("prog", i)``, ``("link", j)`` (handles; with ID they stand for their
ids), or an int (with ID an id, program ``i`` having id ``i + 1`` and link ``j`` id ``j + 1``;
without ID an fd that is no bpf object, 0 meaning none).
"""
from __future__ import annotations

import random
import struct
from array import array
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

from .flags import Flag, V2Flag

__all__ = ["Trace", "ReplayResult", "replay", "apply", "random_trace",
           "ATTACH", "DETACH", "LINK", "UPDATE", "LINK_DETACH", "CLOSE_PROGRAM", "CLOSE_LINK",
           "ANY", "CURRENT", "STALE"]

# Opcodes (mprog::replay::Opcode).
ATTACH, DETACH, LINK, UPDATE, LINK_DETACH, CLOSE_PROGRAM, CLOSE_LINK = range(7)
OPNAMES = ("attach", "detach", "link", "update", "link_detach", "close_program", "close_link")
# How the relative is named (mprog::replay::Arg).
_REL_NONE, _REL_PROG, _REL_LINK, _REL_VALUE = range(4)
# expected_revision (mprog::replay::Expect): 0, the revision when the op runs, or one past it.
ANY, CURRENT, STALE = range(3)

NONE = 0xFFFF  # no program (detach's prog, attach's replace, update's old_prog)
RECORD = struct.Struct("<BBBBIHHHH")  # code, rel kind, expect, 0, flags, prog, other, link, rel
assert RECORD.size == 16

Relative = Union[None, int, Tuple[str, int]]


def _relative(rel: Relative) -> Tuple[int, int]:
    if rel is None:
        return _REL_NONE, 0
    if isinstance(rel, int):
        if not 0 <= rel < NONE:
            raise ValueError("an int relative in a trace must be in [0, 65535)")
        return _REL_VALUE, rel
    kind, index = rel
    if kind == "prog":
        return _REL_PROG, index
    if kind == "link":
        return _REL_LINK, index
    raise ValueError(f"unknown relative kind {kind!r} (expected 'prog' or 'link')")


def _index(i: Optional[int]) -> int:
    if i is None:
        return NONE
    if not 0 <= i < NONE:
        raise ValueError("a program or link index must be in [0, 65535)")
    return i


class Trace:
    """A growing list of encoded operations (``bytes(trace)`` is what ``replay`` reads)."""

    def __init__(self, data: bytes = b"") -> None:
        if len(data) % RECORD.size:
            raise ValueError("trace data must be a whole number of 16-byte records")
        self._data = bytearray(data)
        self._links = 0

    def _put(self, code: int, flags: int = 0, prog: Optional[int] = None,
             other: Optional[int] = None, link: int = 0, relative: Relative = None,
             expect: int = ANY) -> None:
        kind, rel = _relative(relative)
        if not 0 <= flags < 2**32:
            raise ValueError("trace flags must fit 32 bits")
        self._data += RECORD.pack(code, kind, expect, 0, flags, _index(prog), _index(other),
                                  _index(link), rel)

    def attach(self, prog: int, flags: int = 0, relative: Relative = None,
               replace: Optional[int] = None, expect: int = ANY) -> None:
        self._put(ATTACH, flags, prog, replace, 0, relative, expect)

    def detach(self, prog: Optional[int] = None, flags: int = 0, relative: Relative = None,
               expect: int = ANY) -> None:
        self._put(DETACH, flags, prog, None, 0, relative, expect)

    def link(self, prog: int, flags: int = 0, relative: Relative = None,
             expect: int = ANY) -> int:
        """Appends a link op; returns the index of the link it creates."""
        index = self._links
        self._links += 1
        self._put(LINK, flags, prog, None, index, relative, expect)
        return index

    def update(self, link: int, new_prog: int, flags: int = 0,
               old_prog: Optional[int] = None) -> None:
        self._put(UPDATE, flags, new_prog, old_prog, link)

    def link_detach(self, link: int) -> None:
        self._put(LINK_DETACH, link=link)

    def close_program(self, prog: int) -> None:
        self._put(CLOSE_PROGRAM, prog=prog)

    def close_link(self, link: int) -> None:
        self._put(CLOSE_LINK, link=link)

    @property
    def links(self) -> int:
        """How many links the trace creates (the ``links`` to give ``replay``)."""
        return self._links

    def __len__(self) -> int:
        return len(self._data) // RECORD.size

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def __iter__(self) -> Iterator[Tuple[int, ...]]:
        """The ops as tuples (code, rel kind, expect, 0, flags, prog, other, link, rel)."""
        return RECORD.iter_unpack(self._data)

    def __mul__(self, times: int) -> "Trace":
        t = Trace(bytes(self._data) * times)
        t._links = self._links * times
        return t


@dataclass(frozen=True)
class ReplayResult:
    """What a trace did: ``counts`` (errno -> ops, 0 = success), ``errnos`` (per op, if asked),
    and the final ``revision`` and ``chain`` ((program index, link index or None) in order)."""

    ops: int
    counts: Dict[int, int]
    revision: int
    chain: Tuple[Tuple[int, Optional[int]], ...]
    errnos: Optional[Sequence[int]] = None


def _data(trace: Union[Trace, bytes, bytearray, memoryview]) -> Any:
    return trace._data if isinstance(trace, Trace) else trace


def replay(trace: Union[Trace, bytes, bytearray, memoryview], programs: int,
           links: Optional[int] = None, dialect: str = "upstream",
           errnos: bool = False) -> ReplayResult:
    """Apply ``trace`` to a new bundle of ``dialect`` in one C++ call. ``links`` defaults to
    what a ``Trace`` creates; a malformed op (an index out of range, a link named before its
    ``link`` op) raises ``ValueError`` naming the op."""
    from . import _core

    if links is None:
        links = trace.links if isinstance(trace, Trace) else 0
    out = _core.replay(_data(trace), programs, links, dialect, errnos)
    per_op = None
    if out["errnos"] is not None:
        per_op = array("i")
        per_op.frombytes(out["errnos"])
    return ReplayResult(out["ops"], dict(out["counts"]), out["revision"], tuple(out["chain"]),
                        per_op)


def _flags(dialect: str) -> Union[Type[Flag], Type[V2Flag]]:
    return V2Flag if dialect == "v2" else Flag


def apply(backend: Any, trace: Union[Trace, bytes], programs: int,
          dialect: str = "upstream") -> ReplayResult:
    """Carry out ``trace`` call by call through ``backend``'s protocol (a module such as
    ``mprog`` or ``mprog.model``): the reference ``replay`` must agree with."""
    trace = trace if isinstance(trace, Trace) else Trace(trace)
    F = _flags(dialect)
    ID, LINKF = int(F.ID), int(F.LINK)
    progs = [backend.Program(name=f"p{i}") for i in range(programs)]
    links: List[Any] = []
    errnos = array("i")
    counts: Dict[int, int] = {}
    dead: List[Any] = []  # what a failed link op leaves: a closed link
    with backend.Bundle(dialect=dialect) as bundle:
        def relative(kind: int, rel: int, flags: int) -> Any:
            # With ID, a handle of the other kind names no id (ENOENT): passed as it is.
            if kind == _REL_PROG:
                return progs[rel]
            if kind == _REL_LINK:
                return links[rel]
            if kind == _REL_VALUE:
                if rel == 0 or not flags & ID:
                    return rel
                pool = links if flags & LINKF else progs
                return pool[rel - 1].id if rel <= len(pool) else 2**32 - 1
            return None

        def expected(expect: int) -> int:
            return 0 if expect == ANY else bundle.revision + (expect == STALE)

        def dead_link() -> Any:
            scratch = backend.Bundle(dialect=dialect)
            p = backend.Program(name="dead")
            link = scratch.link(p)
            link.close()
            scratch.close()
            dead.append((scratch, p))
            return link

        for code, kind, expect, _, flags, prog, other, link, rel in trace:
            try:
                if code == ATTACH:
                    replace = None if other == NONE else progs[other]
                    if dialect == "v2" and flags & F.REPLACE and replace is not None:
                        replace = relative(_REL_PROG, other, flags)  # v2: replace= is a relative
                    bundle.attach(progs[prog], flags, relative(kind, rel, flags), replace,
                                  expected(expect))
                elif code == DETACH:
                    bundle.detach(None if prog == NONE else progs[prog], flags,
                                  relative(kind, rel, flags), expected(expect))
                elif code == LINK:
                    assert link == len(links), "a link op must create the next link"
                    named = relative(kind, rel, flags)  # before the new link exists
                    links.append(None)
                    try:
                        links[link] = bundle.link(progs[prog], flags, named, expected(expect))
                    except OSError:
                        links[link] = dead_link()
                        raise
                elif code == UPDATE:
                    links[link].update(progs[prog], flags, None if other == NONE else progs[other])
                elif code == LINK_DETACH:
                    links[link].detach()
                elif code == CLOSE_PROGRAM:
                    progs[prog].close()
                elif code == CLOSE_LINK:
                    links[link].close()
                else:
                    raise ValueError(f"unknown opcode {code}")
                err = 0
            except OSError as e:
                assert e.errno is not None, f"a backend's OSError carries its errno: {e!r}"
                err = e.errno
            errnos.append(err)
            counts[err] = counts.get(err, 0) + 1
        q = bundle.query()
        index_of_prog = {p.id: i for i, p in enumerate(progs)}
        index_of_link = {l.id: j for j, l in enumerate(links)}
        chain = tuple((index_of_prog[pid], index_of_link[lid] if lid else None)
                      for pid, lid in zip(q.prog_ids, q.link_ids))
        revision = q.revision
    for link in links:
        link.close()
    return ReplayResult(len(errnos), counts, revision, chain, errnos)


def random_trace(rng: random.Random, length: int, programs: int,
                 dialect: str = "upstream") -> Trace:
    """A random trace biased toward the interesting cases: relatives that are and are not in
    the chain, links and programs named both ways, stale revisions, closed handles, unknown
    flag bits, and (with many programs) full chains."""
    F = _flags(dialect)
    known = [int(f) for f in F]
    place = [int(F.BEFORE), int(F.AFTER)]
    t = Trace()
    closes = max(1, length // 100)

    def flags() -> int:
        r = rng.random()
        if r < 0.35:
            return 0
        if r < 0.8:
            return rng.choice(place) | (rng.random() < 0.3) * rng.choice(known)
        f = 0
        for bit in known:
            if rng.random() < 0.25:
                f |= bit
        if rng.random() < 0.05:
            f |= 1 << rng.randrange(32)
        return f

    def relative() -> Relative:
        r = rng.random()
        if r < 0.3:
            return None
        if r < 0.7 or not t.links:
            return ("prog", rng.randrange(programs))
        if r < 0.9:
            return ("link", rng.randrange(t.links))
        return rng.choice([0, 1, rng.randrange(1, programs + 3)])

    def expect() -> int:
        r = rng.random()
        return ANY if r < 0.8 else CURRENT if r < 0.93 else STALE

    def prog() -> int:
        return rng.randrange(programs)

    while len(t) < length:
        r = rng.random()
        if programs > 63 and rng.random() < 0.01:
            for i in rng.sample(range(programs), programs):  # a burst that fills the chain
                t.attach(i)
        elif r < 0.40:
            t.attach(prog(), flags(), relative(), prog() if rng.random() < 0.8 else None, expect())
        elif r < 0.62:
            t.detach(prog() if rng.random() < 0.75 else None, flags(), relative(), expect())
        elif r < 0.75 or not t.links:
            t.link(prog(), flags() & ~int(F.REPLACE) if rng.random() < 0.9 else flags(),
                   relative(), expect())
        elif r < 0.85:
            replace = rng.random() < 0.5
            t.update(rng.randrange(t.links), prog(), int(F.REPLACE) if replace else
                     (0 if rng.random() < 0.9 else flags()),
                     prog() if replace or rng.random() < 0.05 else None)
        elif r < 0.93:
            t.link_detach(rng.randrange(t.links))
        elif closes and rng.random() < 0.5:
            closes -= 1
            if rng.random() < 0.5:
                t.close_program(prog())
            else:
                t.close_link(rng.randrange(t.links))
        else:
            t.attach(prog(), 0, None, None, expect())
    return t
