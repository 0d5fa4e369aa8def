"""Record what a program does to a bundle, as JSON lines, and replay it.

Off the kernel's ABI (a tool of the Python API). ``record(bundle, path_or_file)`` returns a
``Recorder`` that forwards the protocol to ``bundle`` and appends one JSON line per
operation, in the one operation vocabulary (``mprog.ops``): programs and
links are named by labels, relatives as ``{"kind": "prog" | "link" | "id_prog" | "id_link" |
"id_raw" | "int", ...}``, revisions as ``{"kind": "zero"}`` or ``{"kind": "value", ...}``.
Each line adds ``"outcome"``: ``["ok", value]``, ``["err", "EEXIST"]`` or ``["raise",
"TypeError"]``, as the differential harness normalizes answers. The file starts with a header::

    {"format": "mprog-record/1", "dialect": "upstream"}
    {"op": "new_prog", "as": 0, "outcome": ["ok", 0]}
    {"op": "attach", "prog": 0, "flags": 0, "relative": null, "replace": null,
     "expected_revision": {"kind": "zero"}, "outcome": ["ok", null]}

Record from a fresh bundle, and create and close programs through the recorder
(``rec.program()``, ``rec.close_program(p)``), so that the trace replays from nothing.
Transactions are not recorded (the vocabulary has no word for them).

``load(path)`` reads such a file, a differential trace (``mprog-trace/1``, or a journal), or a
bare JSON list of ops; ``run(trace, backend)`` runs it on a fresh bundle and returns each
op's outcome and the chain after it. ``python -m mprog show FILE`` prints that as tables.
"""
from __future__ import annotations

import dataclasses
import errno as _errno
import json
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from .anchors import Anchor, to_request
from .differential import backends as _backends
from .differential import traces as _traces
from .ops.interpreter import Interpreter, errname
from .ops.vocabulary import Op, describe, flag, flag_names, validate
from .query import QueryResult

__all__ = ["FORMAT", "Recorder", "RecordedLink", "Trace", "Step", "record", "load", "run"]

FORMAT = "mprog-record/1"
Outcome = List[Any]


# ------------------------------------------------------------------------------- recording

class RecordedLink:
    """A link made through a ``Recorder``: ``update``, ``detach`` and ``close`` are recorded.
    Everything else (``id``, ``prog``, ``attached``, ``closed``, ``keep``) is the link's own."""

    def __init__(self, recorder: "Recorder", link: Any, label: int) -> None:
        self._recorder = recorder
        self.link = link
        self.label = label
        self._kept = False

    def update(self, new_prog: Any, flags: int = 0, old_prog: Any = None) -> None:
        rec = self._recorder
        op = {"op": "update", "link": self.label, "new_prog": rec._prog_label(new_prog),
              "flags": flags, "old_prog": None if old_prog is None else rec._prog_label(old_prog)}
        rec._run(op, lambda: self.link.update(new_prog, flags, old_prog))

    def detach(self) -> None:
        self._recorder._run({"op": "link_detach", "link": self.label}, self.link.detach)

    def close(self) -> None:
        self._recorder._run({"op": "link_close", "link": self.label}, self.link.close)

    def keep(self) -> "RecordedLink":
        self._kept = True
        self.link.keep()
        return self

    def __enter__(self) -> "RecordedLink":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._kept:
            self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.link, name)

    def __repr__(self) -> str:
        return f"<recorded l{self.label} {self.link!r}>"


class Recorder:
    """Forwards the protocol to a bundle and writes every operation to a JSON-lines trace."""

    def __init__(self, bundle: Any, out: Union[str, IO[str]], *,
                 program_type: Any = None) -> None:
        self.bundle = bundle
        self.dialect: str = bundle.dialect
        self._own = isinstance(out, str)
        self._out: IO[str] = open(out, "w") if isinstance(out, str) else out
        # The backend's Program class: every backend module defining Bundle also has it.
        self._program_type = program_type or getattr(sys.modules[type(bundle).__module__],
                                                     "Program")
        self._progs: Dict[int, int] = {}  # id(Program object) -> label
        self._prog_objects: List[Any] = []  # by label (keeps them alive: id() stays unique)
        self._links: Dict[int, int] = {}  # id(Link object) -> label
        self._link_objects: List[Any] = []
        self._write({"format": FORMAT, "dialect": self.dialect})

    # -- programs ----------------------------------------------------------------------------

    def program(self, name: str = "", fn: Optional[Callable[[Any], int]] = None) -> Any:
        """A new program of the bundle's backend (recorded as ``new_prog``)."""
        prog = self._program_type(name, fn)
        self._new_label(prog)
        return prog

    def close_program(self, prog: Any) -> None:
        self._run({"op": "prog_close", "prog": self._prog_label(prog)}, prog.close)

    # -- the protocol ------------------------------------------------------------------------

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        bits, rel, rep = self._request(flags, relative, replace)
        op = {"op": "attach", "prog": self._prog_label(prog), "flags": bits,
              "relative": self._target(rel, bits),
              # v2's replace= is looked up as the relative is (one field in its ABI)
              "replace": self._target(rep, bits if self.dialect == "v2" else 0),
              "expected_revision": _revision(expected_revision)}
        self._run(op, lambda: self.bundle.attach(prog, _unwrap(flags), _unwrap(relative),
                                                 _unwrap(replace), expected_revision))

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: int = 0) -> RecordedLink:
        bits, rel, _ = self._request(flags, relative, None)
        label = len(self._link_objects)
        self._link_objects.append(None)
        op = {"op": "link", "as": label, "prog": self._prog_label(prog), "flags": bits,
              "relative": self._target(rel, bits),
              "expected_revision": _revision(expected_revision)}
        made: List[Any] = []
        self._run(op, lambda: made.append(self.bundle.link(prog, _unwrap(flags), _unwrap(relative),
                                                           expected_revision)), value=label,
                  made=made)
        link = made[0]
        self._links[id(link)] = label
        self._link_objects[label] = link
        return RecordedLink(self, link, label)

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        bits, rel, _ = self._request(flags, relative, None)
        op = {"op": "detach", "prog": None if prog is None else self._prog_label(prog),
              "flags": bits, "relative": self._target(rel, bits),
              "expected_revision": _revision(expected_revision)}
        self._run(op, lambda: self.bundle.detach(prog, _unwrap(flags), _unwrap(relative),
                                                 expected_revision))

    def query(self, count: Optional[int] = None) -> QueryResult:
        spec = {"kind": "none"} if count is None else {"kind": "value", "value": count}
        got: List[QueryResult] = []
        self._run({"op": "query", "count": spec},
                  lambda: got.append(self.bundle.query(count)), query=got)
        return got[0]

    # Reading (not recorded: it changes nothing)
    @property
    def revision(self) -> int:
        return int(self.bundle.revision)

    def __len__(self) -> int:
        return len(self.bundle)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.bundle)

    def explain(self, *args: Any, **kwargs: Any) -> Any:
        return self.bundle.explain(*args, **kwargs)

    def close(self) -> None:
        """Stop recording (closes the file if the recorder opened it); the bundle stays."""
        if self._own and not self._out.closed:
            self._out.close()
        elif not self._out.closed:
            self._out.flush()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _request(self, flags: Any, relative: Any, replace: Any) -> Tuple[Any, Any, Any]:
        """(flags, relative, replace) as ints and handles: an anchor says them itself."""
        if isinstance(flags, int):
            return flags, _unwrap(relative), _unwrap(replace)
        return to_request(_unwrap(flags), _unwrap(relative), _unwrap(replace), self.dialect)

    def _new_label(self, prog: Any) -> int:
        label = len(self._prog_objects)
        self._prog_objects.append(prog)
        self._progs[id(prog)] = label
        # the recording's own id and name, for show (a replay's ids are its backend's)
        self._write({"op": "new_prog", "as": label, "outcome": ["ok", label], "id": prog.id,
                     "name": getattr(prog, "name", "")})
        return label

    def _prog_label(self, prog: Any) -> Any:
        """A program's label; one made elsewhere gets one now (recorded as a ``new_prog``)."""
        if id(prog) in self._progs:
            return self._progs[id(prog)]
        if isinstance(prog, self._program_type):
            return self._new_label(prog)
        raise TypeError(f"cannot record {prog!r} as a program")

    def _target(self, value: Any, bits: int) -> Optional[Dict[str, Any]]:
        """A relative (or replace=) in the vocabulary's terms."""
        if value is None:
            return None
        if isinstance(value, RecordedLink):
            value = value.link
        if id(value) in self._links:
            return {"kind": "link", "ref": self._links[id(value)]}
        if isinstance(value, self._program_type):
            return {"kind": "prog", "ref": self._prog_label(value)}
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"cannot record {value!r} as a relative")
        if not bits & flag(self.dialect, "ID"):
            return {"kind": "int", "value": value}
        by_link = bool(bits & flag(self.dialect, "LINK"))
        objects = self._link_objects if by_link else self._prog_objects
        for label, obj in enumerate(objects):
            if obj is not None and obj.id == value:
                return {"kind": "id_link" if by_link else "id_prog", "ref": label}
        return {"kind": "id_raw", "value": value}

    def _run(self, op: Op, call: Callable[[], Any], value: Any = None,
             query: Optional[List[QueryResult]] = None, made: Optional[List[Any]] = None) -> None:
        try:
            call()
        except OSError as e:
            outcome: Outcome = ["err", errname(e.errno)]
            if op["op"] == "query" and e.errno == _errno.ENOSPC:
                partial = getattr(e, "partial", None)
                outcome.append({"count": getattr(e, "count", None),
                                "partial": None if partial is None else self._labels(partial)})
            self._write(dict(op, outcome=outcome))
            raise
        except (TypeError, ValueError) as e:
            self._write(dict(op, outcome=["raise", type(e).__name__]))
            raise
        if query:
            value = self._labels(query[0])
        line = dict(op, outcome=["ok", value])
        if made:
            line["id"] = made[0].id
        self._write(line)

    def _labels(self, q: QueryResult) -> Dict[str, Any]:
        """A query result with ids as labels (as the differential harness compares them)."""
        progs = {obj.id: label for label, obj in enumerate(self._prog_objects)}
        links = {obj.id: label for label, obj in enumerate(self._link_objects)
                 if obj is not None}
        return {"revision": q.revision, "count": q.count,
                "progs": [progs.get(i, f"?{i}") for i in q.prog_ids],
                "links": [None if i == 0 else links.get(i, f"?{i}") for i in q.link_ids],
                "prog_flags": list(q.prog_attach_flags),
                "link_flags": list(q.link_attach_flags)}

    def _write(self, line: Dict[str, Any]) -> None:
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()


def record(bundle: Any, out: Union[str, IO[str]], **kwargs: Any) -> Recorder:
    """Record every operation made through the returned ``Recorder`` to ``out`` (a path,
    truncated, or a text file). Use it where you would use the bundle."""
    return Recorder(bundle, out, **kwargs)


def _unwrap(value: Any) -> Any:
    """The backend's own link for a RecordedLink (also inside an anchor such as Before(l))."""
    if isinstance(value, RecordedLink):
        return value.link
    target = getattr(value, "target", None)
    if isinstance(value, Anchor) and isinstance(target, RecordedLink):
        return dataclasses.replace(value, target=target.link)  # type: ignore[call-arg]
    return value


def _revision(expected: Any) -> Dict[str, Any]:
    if isinstance(expected, int) and not isinstance(expected, bool) and expected == 0:
        return {"kind": "zero"}
    return {"kind": "value", "value": expected}


# ------------------------------------------------------------------------ loading, replaying

@dataclass
class Trace:
    """A loaded trace: its dialect, its ops and, where recorded, each op's outcome."""

    dialect: str
    ops: List[Op]
    outcomes: List[Optional[Outcome]] = field(default_factory=list)
    backends: List[str] = field(default_factory=lambda: ["core", "model"])  # to compare
    #: as recorded: the ids of programs and links by label, and programs' names
    prog_ids: Dict[int, int] = field(default_factory=dict)
    link_ids: Dict[int, int] = field(default_factory=dict)
    names: Dict[int, str] = field(default_factory=dict)

    def as_differential(self) -> Dict[str, Any]:
        """The same trace as a differential ``mprog-trace/1`` dict (what ``replay`` runs)."""
        answers = [{"recorded": o} for o in self.outcomes if o is not None]
        if len(answers) != len(self.ops):
            answers = []
        return _traces.to_json(self.dialect, self.backends, self.ops, answers)


#: What a recorded line carries besides its op.
_RECORDED = ("outcome", "id", "name")


def load(path: str) -> Trace:
    """A recorded JSON-lines trace, a differential trace or journal, or a JSON list of ops.

    ``ValueError`` (with the file and what is wrong) for anything else, also for a file that is
    JSON but not a trace of well-formed ops."""
    try:
        return _load(path)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a trace ({type(e).__name__}: {e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}" if path not in str(e) else str(e)) from None


def _load(path: str) -> Trace:
    with open(path) as f:
        text = f.read()
    backends = ["core", "model"]
    first = text.lstrip().split("\n", 1)[0]
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    prog_ids: Dict[int, int] = {}
    link_ids: Dict[int, int] = {}
    names: Dict[int, str] = {}
    if isinstance(header, dict) and header.get("format") == FORMAT:
        lines = [json.loads(line) for line in text.splitlines()[1:] if line.strip()]
        for line in lines:
            validate(line)
        ops = [{k: v for k, v in line.items() if k not in _RECORDED} for line in lines]
        outcomes = [line.get("outcome") for line in lines]
        dialect = header.get("dialect", "upstream")
        for line in lines:
            if line["op"] in ("new_prog", "link") and "id" in line:
                (prog_ids if line["op"] == "new_prog" else link_ids)[line["as"]] = line["id"]
            if line["op"] == "new_prog" and line.get("name"):
                names[line["as"]] = str(line["name"])
    else:
        data = json.loads(text) if not (isinstance(header, dict) and
                                        header.get("format") == _traces.JOURNAL) else None
        if isinstance(data, list):
            ops, dialect = data, "upstream"
        else:
            loaded = _traces.load(path)
            ops, dialect = _traces.ops_of(loaded), loaded["dialect"]
            backends = list(loaded.get("backends") or backends)
        outcomes = [None] * len(ops)
    if not isinstance(ops, list):
        raise ValueError("the ops are not a list")
    for i, op in enumerate(ops):
        try:
            validate(op)
        except ValueError as e:
            raise ValueError(f"op {i}: {e}") from None
    if not isinstance(dialect, str):
        raise ValueError(f"the dialect {dialect!r} is not a name")
    return Trace(dialect, ops, outcomes, backends, prog_ids, link_ids, names)


@dataclass
class Step:
    """One replayed op: its text, its outcome now, what was recorded (if any), the chain after."""

    index: int
    op: Op
    text: str
    outcome: Outcome
    recorded: Optional[Outcome]
    chain: QueryResult
    created: Optional[int] = None  # the backend's id of the program or link the op made
    #: the chain by label: (program label, link label or None) per slot, in order
    labels: Tuple[Tuple[Any, Any], ...] = ()

    @property
    def agrees(self) -> bool:
        return self.recorded is None or self.recorded == self.outcome


def run(trace: Trace, backend: Any = "core", dialect: Optional[str] = None,
        on_step: Optional[Callable[[Step], None]] = None) -> List[Step]:
    """Run ``trace`` on a fresh bundle of ``backend`` (a name or a module); each step's
    outcome in the recorder's terms and the chain after it. ``on_step`` sees each as it runs."""
    module = _backends.load(backend) if isinstance(backend, str) else backend
    dialect = dialect or trace.dialect
    name = backend if isinstance(backend, str) else getattr(module, "__name__", "backend")
    side = Interpreter(name, module, dialect)
    steps: List[Step] = []
    try:
        for i, op in enumerate(trace.ops):
            outcome = side.apply(op)
            recorded = trace.outcomes[i] if i < len(trace.outcomes) else None
            made = {"new_prog": side.prog_ids, "link": side.link_ids}.get(op["op"], {})
            chain = side.bundle.query()
            labels = tuple((side.prog_label(p), side.link_label(l))
                           for p, l in zip(chain.prog_ids, chain.link_ids))
            step = Step(i, op, describe(op, dialect), outcome, recorded, chain,
                        made.get(op.get("as", -1)) if outcome[0] == "ok" else None, labels)
            steps.append(step)
            if on_step is not None:
                on_step(step)
    finally:
        side.close()
    return steps


def _outcome_text(outcome: Outcome) -> str:
    if outcome[0] == "ok":
        value = outcome[1]
        return "ok" if value is None or isinstance(value, dict) else f"ok {value}"
    return " ".join(str(x) for x in outcome[:2])


def show(trace: Trace, backend: Any = "core", dialect: Optional[str] = None,
         echo: Callable[[str], None] = print) -> bool:
    """Replay ``trace`` printing each op, its outcome and the chain as a table after it.
    Returns whether every outcome agreed with the recorded one.

    Programs and links are shown by label, with the name and id *the recording* gave them
    (a replay's ids are its own backend's), and flags by name."""
    name = backend if isinstance(backend, str) else getattr(backend, "__name__", "?")
    dialect = dialect or trace.dialect
    echo(f"{len(trace.ops)} ops, dialect {dialect}, backend {name}")

    def prog(label: Any) -> str:
        text = f"p{label}" if isinstance(label, int) else str(label)
        if label in trace.names:
            text += f" {trace.names[label]!r}"
        if label in trace.prog_ids:
            text += f" (id {trace.prog_ids[label]})"
        return text

    def link(label: Any) -> str:
        if label is None:
            return "-"
        text = f"l{label}" if isinstance(label, int) else str(label)
        if label in trace.link_ids:
            text += f" (id {trace.link_ids[label]})"
        return text

    def step(s: Step) -> None:
        line = f"{s.index:4d}  {s.text}  ->  {_outcome_text(s.outcome)}"
        made = s.op.get("as") if s.outcome[0] == "ok" else None
        if s.op["op"] == "new_prog" and made in trace.prog_ids:
            line += f"  (id {trace.prog_ids[made]})"
        elif s.op["op"] == "link" and made in trace.link_ids:
            line += f"  (id {trace.link_ids[made]})"
        if not s.agrees:
            line += f"   DIFFERS from the recording: {json.dumps(s.recorded)}"
        echo(line)
        rows = [("#", "program", "link", "prog flags", "link flags")]
        for i, ((p, l), pf, lf) in enumerate(zip(s.labels, s.chain.prog_attach_flags,
                                                  s.chain.link_attach_flags)):
            rows.append((str(i), prog(p), link(l), flag_names(dialect, pf),
                         flag_names(dialect, lf)))
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        echo(f"      revision {s.chain.revision}, {s.chain.count} program(s)")
        for r in rows if len(rows) > 1 else []:
            echo("      " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())

    steps = run(trace, backend, dialect, on_step=step)
    return all(s.agrees for s in steps)
