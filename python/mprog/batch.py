"""Batch entry point: a whole trace of operations applied by the C++ core in one call.

Calling ``Bundle.attach`` from Python costs a few hundred nanoseconds, nearly all of it in
argument handling and the call itself; the core's own work is tens of nanoseconds. The
operations are those of the one vocabulary (``mprog.ops``); ``Records`` is their encoding as
16-byte records (``mprog::replay::Op``) that name programs and links by index, and ``replay``
runs them all in C++ without the GIL. ``encode(ops)`` turns vocabulary ops into records
(refusing what records cannot say: queries, transactions, bad input, stale or literal
revisions), ``decode`` turns them back, and records can be written directly::

    t = Records()
    t.attach(0)                             # programs[0], appended
    t.link(1, Flag.BEFORE, relative=("prog", 0))   # links[0] = link of programs[1]
    t.detach(0)
    result = replay(t, programs=2, links=1, errnos=True)
    result.counts        # {0: 3}: errno -> how many ops ended so (0: success)
    result.chain         # ((1, 0),): (program index, link index or None) in chain order

``apply(backend, records, ...)`` decodes the records and runs the ops call by call through the
one interpreter (``mprog.ops.Interpreter``) on any backend (``mprog``, ``mprog.model``,
``mprog.kernel``), and returns the same kind of result: it is what ``replay`` is tested
against, and a way to feed one trace to each. ``random_trace`` draws ops from the one
generator (``mprog.ops.Generator``, with only what records can say) and encodes them.

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

from . import _core
from .flags import Flag, V2Flag
from .ops.vocabulary import NO_SUCH_ID

__all__ = ["Records", "ReplayResult", "replay", "apply", "random_trace", "encode", "decode",
           "record", "NEW_PROGRAM",
           "ATTACH", "DETACH", "LINK", "UPDATE", "LINK_DETACH", "CLOSE_PROGRAM", "CLOSE_LINK",
           "ANY", "CURRENT", "STALE"]

# Opcodes (mprog::replay::Opcode).
ATTACH, DETACH, LINK, UPDATE, LINK_DETACH, CLOSE_PROGRAM, CLOSE_LINK, NEW_PROGRAM = range(8)
OPNAMES = ("attach", "detach", "link", "update", "link_detach", "close_program", "close_link",
           "new_program")
# How the relative is named (mprog::replay::Arg): none, a handle, an int, the id of a handle.
_REL_NONE, _REL_PROG, _REL_LINK, _REL_VALUE, _REL_PROG_ID, _REL_LINK_ID, _REL_NO_ID = range(7)
# expected_revision (mprog::replay::Expect): 0, the revision when the op runs, one past it, or
# one it had before (the vocabulary's "stale").
ANY, CURRENT, STALE, PREVIOUS = range(4)

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


class Records:
    """A growing list of encoded operations (``bytes(records)`` is what ``replay`` reads)."""

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

    def __mul__(self, times: int) -> "Records":
        t = Records(bytes(self._data) * times)
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


def _data(trace: Union[Records, bytes, bytearray, memoryview]) -> Any:
    return trace._data if isinstance(trace, Records) else trace


def replay(trace: Union[Records, bytes, bytearray, memoryview], programs: int,
           links: Optional[int] = None, dialect: str = "upstream",
           errnos: bool = False) -> ReplayResult:
    """Apply ``trace`` to a new bundle of ``dialect`` in one C++ call. ``links`` defaults to
    what what the records create; a malformed op (an index out of range, a link named before its
    ``link`` op) raises ``ValueError`` naming the op."""

    if links is None:
        links = trace.links if isinstance(trace, Records) else 0
    out = _core.replay(_data(trace), programs, links, dialect, errnos)
    per_op = None
    if out["errnos"] is not None:
        per_op = array("i")
        per_op.frombytes(out["errnos"])
    return ReplayResult(out["ops"], dict(out["counts"]), out["revision"], tuple(out["chain"]),
                        per_op)


def _flags(dialect: str) -> Union[Type[Flag], Type[V2Flag]]:
    return V2Flag if dialect == "v2" else Flag


# ---------------------------------------------------------------- ops <-> records

_EXPECT = {"zero": ANY, "current": CURRENT, "future": STALE}  # STALE: one past the revision
_REVISION = {ANY: "zero", CURRENT: "current", STALE: "future", PREVIOUS: "stale"}
#: An int relative with ID that names no object (``apply``/``replay`` map it to no id).
_NO_ID = NONE - 1


def encode(ops: Sequence[Dict[str, Any]], dialect: str = "upstream") -> Tuple[Records, int]:
    """The records for vocabulary ``ops``, and how many programs to give ``replay``.

    Programs are the ``new_prog`` labels 0, 1, ... (records have them made up front); links the
    ``link`` labels 0, 1, ... in order. ``ValueError`` for what records cannot say: queries,
    transactions, bad input, ``stale`` or literal revisions, replace= other than a program,
    an object named before it is made. One difference of meaning: a failed ``link`` op leaves
    a closed link behind in records, where the vocabulary leaves no label.
    """
    ID, LINKF = flag_bits(dialect)
    records = Records()
    programs = 0
    for i, op in enumerate(ops):
        kind = op["op"]
        try:
            if kind == "new_prog":
                if op.get("dialect") is not None:
                    raise ValueError("records make programs of the replay's dialect only")
                if op["as"] != programs:
                    raise ValueError("programs must be made as 0, 1, ... in order")
                programs += 1
                continue
            if kind in ("attach", "detach", "link"):
                flags = _u32(op["flags"])
                rel = _relative_record(op.get("relative"), flags & ID, flags & LINKF)
                expect = _expect(op["expected_revision"])
                prog: Any = op.get("prog")
                if prog is not None:
                    _check_label(prog, programs, "program")
                if kind == "attach":
                    replace = op.get("replace")
                    other = None
                    if replace is not None:
                        if replace["kind"] != "prog":
                            raise ValueError("replace= must be a program in records")
                        other = _check_label(replace["ref"], programs, "program")
                    records.attach(prog, flags, rel, other, expect)
                elif kind == "detach":
                    records.detach(prog, flags, rel, expect)
                else:
                    if op["as"] != records.links:
                        raise ValueError("links must be made as 0, 1, ... in order")
                    records.link(prog, flags, rel, expect)
            elif kind == "update":
                old = op.get("old_prog")
                records.update(_check_label(op["link"], records.links, "link"),
                               _check_label(op["new_prog"], programs, "program"),
                               _u32(op["flags"]),
                               None if old is None else _check_label(old, programs, "program"))
            elif kind == "link_detach":
                records.link_detach(_check_label(op["link"], records.links, "link"))
            elif kind == "link_close":
                records.close_link(_check_label(op["link"], records.links, "link"))
            elif kind == "prog_close":
                records.close_program(_check_label(op["prog"], programs, "program"))
            else:
                raise ValueError("records have no such op")
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"op {i} ({kind}) cannot be encoded: {e}") from None
    return records, programs


# ---------------------------------------------------------------- one op, by label

_EXPECT_BY_LABEL = {"zero": ANY, "current": CURRENT, "future": STALE, "stale": PREVIOUS}

# Opcodes of ``mprog._core.Executor`` alone (a ``replay`` session has none of them): a query,
# and the ops of a transaction (named by label in the record's link field).
QUERY, TX_BEGIN, TX_ATTACH, TX_DETACH, TX_COMMIT, TX_DISCARD = range(8, 14)

#: ``record(op)``: the record of one vocabulary op for ``mprog._core.Executor``, or None where
#: a record cannot say it (closing the bundle, a query of a cgroup or its effective array, bad
#: input, literal revisions, flags beyond 32 bits, ints beyond 16 bits; the engine runs those
#: op by op). Unlike ``encode`` (a private ``replay`` session that makes its own objects and
#: numbers their ids), programs and links are named by label, which is their position in the
#: executor's lists, and an id by label is that object's real id, exactly as
#: ``mprog.ops.Interpreter`` passes it. The fields: the opcode; the relative's kind
#: (``_REL_*``: a program or link by label or by its id, a raw id, the id nobody has); the
#: expected revision (``ANY``, ``CURRENT``, ``STALE`` for the vocabulary's "future",
#: ``PREVIOUS`` for its "stale"); 0; the u32 flags (a query: its count's value); the program
#: (update: the new one; detach: ``NONE`` for None); the other program (attach: replace;
#: update: the old one; else ``NONE``); the link (link: the new one's label; a transaction's
#: op: the transaction's label); the relative (a label, or a raw id below ``NONE``). A query
#: says its count's kind in the expected revision's field (none, zero, short, exact, larger,
#: value: 0 to 5). A key missing, or a value of the wrong type or out of a field's range,
#: gives None; an op that is not a mapping with an "op" raises as indexing it does.
#: It is written in C++ beside the executor that reads it: the engine encodes every op.
record = _core.record


def _holds_flags(flags: Any) -> bool:
    """Whether a record's u32 flags field holds ``flags``."""
    return type(flags) is int and 0 <= flags <= 0xFFFFFFFF


def _holds_raw(value: Any) -> bool:
    """Whether a record holds the raw relative ``value`` (an id_raw or int): the id nobody
    has, or a u16."""
    return type(value) is int and (value == NO_SUCH_ID or 0 <= value < NONE)


# ------------------------------------------------- arguments a record does not say

#: A record's fourth byte (0 otherwise): which arguments it leaves to the side tuple the
#: executor is handed with it, a bit each, the tuple holding them in this order. Each is the
#: very object the core's interpreter would pass (``Interpreter.argument``): bad input, a
#: literal expected revision, flags beyond 32 bits, a raw id beyond 16 bits.
ASIDE_PROG, ASIDE_FLAGS, ASIDE_RELATIVE, ASIDE_OTHER, ASIDE_REVISION = 1, 2, 4, 8, 16

#: Per op ``record_aside`` can say: its argument keys as record fields, in the side tuple's
#: order, and the neutral value a field left aside is encoded with.
_ASIDE_KEYS = {
    "attach": (("prog", ASIDE_PROG), ("flags", ASIDE_FLAGS), ("relative", ASIDE_RELATIVE),
               ("replace", ASIDE_OTHER), ("expected_revision", ASIDE_REVISION)),
    "link": (("prog", ASIDE_PROG), ("flags", ASIDE_FLAGS), ("relative", ASIDE_RELATIVE),
             ("expected_revision", ASIDE_REVISION)),
    "detach": (("prog", ASIDE_PROG), ("flags", ASIDE_FLAGS), ("relative", ASIDE_RELATIVE),
               ("expected_revision", ASIDE_REVISION)),
    "update": (("new_prog", ASIDE_PROG), ("flags", ASIDE_FLAGS), ("old_prog", ASIDE_OTHER)),
    "tx_begin": (("expected_revision", ASIDE_REVISION),),
}
_ASIDE_KEYS["tx_attach"] = _ASIDE_KEYS["attach"]
_ASIDE_KEYS["tx_detach"] = _ASIDE_KEYS["detach"]
_NEUTRAL = {"prog": 0, "new_prog": 0, "old_prog": None, "flags": 0, "relative": None,
            "replace": None, "expected_revision": {"kind": "zero"}}


def record_aside(op: Dict[str, Any]) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    """For an op ``record`` cannot say only because of some arguments: its record with those
    left aside (encoded neutral, flagged in the fourth byte), and their keys in the side
    tuple's order; None if leaving arguments aside does not make a record of it (an op
    ``record`` says as it is, an op of another kind, a replace naming a link, a label beyond
    16 bits)."""
    keys = _ASIDE_KEYS.get(op["op"])
    if keys is None:
        return None
    mask = 0
    aside = []
    said = dict(op)
    for key, bit in keys:
        try:
            says = _says(key, op[key])
        except (KeyError, TypeError):  # not an op of the vocabulary's form: op by op
            return None
        if says is None:
            return None
        if not says:
            mask |= bit
            aside.append(key)
            said[key] = _NEUTRAL[key]
    rec = record(said) if mask else None
    if rec is None:
        return None
    return rec[:3] + bytes((mask,)) + rec[4:], tuple(aside)


def _says(key: str, value: Any) -> Optional[bool]:
    """Whether a record holds ``value`` of argument ``key`` itself (labels, u32 flags, the
    revision cases and relatives records have), or it is left aside (False: bad input, a
    literal, a raw id beyond 16 bits), or neither (None: a replace naming a link, which
    only the executor's own lists could resolve)."""
    if key == "flags":
        return _holds_flags(value)
    if key == "expected_revision":
        return value["kind"] in _EXPECT_BY_LABEL
    if key == "relative" or key == "replace":
        if value is None:
            return True
        kind = value["kind"]
        if kind == "bad":
            return False
        if kind == "id_raw" or kind == "int":  # a replace holds a program label only
            return _holds_raw(value["value"]) and key == "relative"
        if key == "replace" and kind != "prog":
            return None
        return True  # a label (one beyond 16 bits: record() says no, and so does this)
    # prog, new_prog, old_prog: a label, None (detach's prog, update's old_prog), or bad input
    return value is None or type(value) is int


def flag_bits(dialect: str) -> Tuple[int, int]:
    """The dialect's ID and LINK bits, as plain ints."""
    F = _flags(dialect)
    return int(F.ID), int(F.LINK)


def _u32(flags: Any) -> int:
    if type(flags) is not int or not 0 <= flags < 2**32:
        raise ValueError(f"flags {flags!r} are not a u32")
    return flags


def _check_label(label: Any, made: int, what: str) -> int:
    if type(label) is not int or not 0 <= label < made:
        raise ValueError(f"{what} {label!r} is not made yet")
    return label


def _expect(spec: Dict[str, Any]) -> int:
    if spec["kind"] not in _EXPECT:
        raise ValueError(f"records cannot say the revision {spec!r}")
    return _EXPECT[spec["kind"]]


def _relative_record(spec: Optional[Dict[str, Any]], by_id: int, by_link: int) -> Relative:
    if spec is None:
        return None
    kind = spec["kind"]
    if kind in ("prog", "link"):
        return (kind, spec["ref"])
    if kind in ("id_prog", "id_link"):
        if by_id and (kind == "id_link") != bool(by_link):
            return _NO_ID  # an id of the other kind names nothing
        return int(spec["ref"]) + 1  # with ID: index i has id i + 1; without: an fd, no object
    if kind in ("id_raw", "int"):
        value = spec["value"]
        if by_id:  # no backend gives out the raw ids the ops use (0: no id at all)
            return 0 if value == 0 else _NO_ID
        return value if 0 <= value < _NO_ID else _NO_ID  # an fd that is no bpf object
    raise ValueError(f"records cannot say the relative {spec!r}")


def decode(records: Union[Records, bytes], programs: int,
           dialect: str = "upstream") -> List[Dict[str, Any]]:
    """The vocabulary ops that ``records`` encode (``programs`` ``new_prog`` ops first)."""
    records = records if isinstance(records, Records) else Records(records)
    ID, LINKF = flag_bits(dialect)
    ops: List[Dict[str, Any]] = [{"op": "new_prog", "as": i} for i in range(programs)]
    links = 0

    def prog(i: int) -> Optional[int]:
        return None if i == NONE else i

    def relative(kind: int, rel: int, flags: int) -> Optional[Dict[str, Any]]:
        if kind == _REL_PROG:
            return {"kind": "prog", "ref": rel}
        if kind == _REL_LINK:
            return {"kind": "link", "ref": rel}
        if kind == _REL_PROG_ID:
            return {"kind": "id_prog", "ref": rel}
        if kind == _REL_LINK_ID:
            return {"kind": "id_link", "ref": rel}
        if kind == _REL_NO_ID:
            return {"kind": "id_raw", "value": NO_SUCH_ID}
        if kind == _REL_VALUE:
            if rel == 0 or not flags & ID:
                return {"kind": "int", "value": rel}
            by_link = bool(flags & LINKF)
            if rel <= (links if by_link else programs):
                return {"kind": "id_link" if by_link else "id_prog", "ref": rel - 1}
            return {"kind": "id_raw", "value": 2**32 - 1}
        return None

    for code, kind, expect, _, flags, p, other, link, rel in records:
        rev = {"kind": _REVISION[expect]}
        if code == ATTACH:
            ops.append({"op": "attach", "prog": p, "flags": flags,
                        "relative": relative(kind, rel, flags),
                        "replace": None if other == NONE else {"kind": "prog", "ref": other},
                        "expected_revision": rev})
        elif code == DETACH:
            ops.append({"op": "detach", "prog": prog(p), "flags": flags,
                        "relative": relative(kind, rel, flags), "expected_revision": rev})
        elif code == LINK:
            ops.append({"op": "link", "as": link, "prog": p, "flags": flags,
                        "relative": relative(kind, rel, flags), "expected_revision": rev})
            links += 1
        elif code == UPDATE:
            ops.append({"op": "update", "link": link, "new_prog": p, "flags": flags,
                        "old_prog": prog(other)})
        elif code == LINK_DETACH:
            ops.append({"op": "link_detach", "link": link})
        elif code == CLOSE_PROGRAM:
            ops.append({"op": "prog_close", "prog": p})
        elif code == CLOSE_LINK:
            ops.append({"op": "link_close", "link": link})
        elif code == NEW_PROGRAM:
            ops.append({"op": "new_prog", "as": p})
        else:
            raise ValueError(f"unknown opcode {code}")
    return ops


# ---------------------------------------------------------------- per call, for comparison

def apply(backend: Any, trace: Union[Records, bytes], programs: int,
          dialect: str = "upstream") -> ReplayResult:
    """Carry out ``trace`` call by call through ``backend``'s protocol (a module such as
    ``mprog`` or ``mprog.model``) with the one interpreter: the reference ``replay`` must
    agree with."""
    import errno as _errno

    from .ops.interpreter import Interpreter

    ops = decode(trace, programs, dialect)
    errnos = array("i")
    counts: Dict[int, int] = {}
    side = Interpreter(getattr(backend, "__name__", "backend"), backend, dialect)
    dead: List[Any] = []  # what a failed link op leaves in records: a closed link
    try:
        for op in ops:
            outcome = side.apply(op)
            if op["op"] == "new_prog":
                continue
            if outcome[0] == "ok":
                err = 0
            elif outcome[0] == "err":
                err = getattr(_errno, outcome[1])
            else:
                raise AssertionError(f"{op}: {outcome} ({'; '.join(side.notes)})")
            if op["op"] == "link" and err:
                scratch = backend.Bundle(dialect=dialect)
                p = backend.Program(name="dead")
                link = scratch.link(p)
                link.close()
                scratch.close()
                dead.append(p)
                side.links[op["as"]], side.link_ids[op["as"]] = link, link.id
            errnos.append(err)
            counts[err] = counts.get(err, 0) + 1
        q = side.bundle.query()
        chain = tuple((side.prog_label(pid), side.link_label(lid))
                      for pid, lid in zip(q.prog_ids, q.link_ids))
        revision = q.revision
    finally:
        side.close()
        for p in dead:
            p.close()
    return ReplayResult(len(errnos), counts, revision, chain, errnos)


#: The most link labels ``random_trace`` lets one trace make: records number links by link
#: op in 16 bits (``NONE`` is "no link"), and a fill makes up to 63 links at once.
LINK_LABELS = NONE - 64


def random_trace(rng: random.Random, length: int, programs: int,
                 dialect: str = "upstream") -> Records:
    """Records drawn from the one generator (``mprog.ops.Generator`` with what records can
    say, ``mprog.ops.BATCH``), steered by the model's state as it runs them: relatives that are
    and are not in the chain, links and programs named both ways, stale revisions, closed
    handles, unknown flag bits, and (with many programs) full chains.

    Any length: once a trace has made ``LINK_LABELS`` links (about a quarter of its ops are
    link ops), it goes on without new ones (the links it has are still updated, detached,
    closed and named as relatives)."""
    from dataclasses import replace

    from . import model
    from .differential.trial import Trial
    from .ops.generate import BATCH, Generator

    ops: List[Dict[str, Any]] = [{"op": "new_prog", "as": i} for i in range(programs)]
    generator = Generator(dialect, rng, BATCH)
    generator.next_prog = programs
    # The generator numbers links by link op, as records do (a failed one leaves a closed link
    # in records, and names no label in the trial: the generator names only links it has).
    with Trial({"model": model}, dialect, full=False, check_protocol=False) as trial:
        trial.run(ops)
        while len(ops) - programs < length:
            if generator.next_link >= LINK_LABELS and generator.w.link:
                made = generator
                generator = Generator(dialect, rng, replace(BATCH, link=0))
                generator.next_prog, generator.next_link = made.next_prog, made.next_link
            for op in generator.next(trial.view):
                trial.step(op)
                ops.append(op)
    return encode(ops[:programs + length], dialect)[0]
