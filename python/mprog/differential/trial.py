"""A trial: the same operations applied to N backends, compared after every step.

``Trial(backends, dialect)`` opens one bundle per backend. ``step(op)`` applies the op to each,
normalizes the answers (``Side.apply``), reads each backend's full state, and raises
``Divergence`` if the answers differ, the states differ, an invariant fails in any backend, or
a backend breaks the protocol's error conventions. ``close()`` releases every object of every
backend, also after a failure; a trial is a context manager.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set, Tuple

from . import invariants
from .ops import Op, describe, link_refs, prog_refs
from .side import Side


class Divergence(AssertionError):
    """Backends disagree, or one breaks an invariant.

    ``kind``: ``"answer"``, ``"state"``, ``"invariant"`` or ``"protocol"``; ``ops``: the trace up
    to and including the failing op; ``answers``: per step, ``{backend: answer}``; ``states``:
    each backend's state after the failing op; ``problems``: per backend, what is wrong.
    """

    def __init__(self, kind: str, message: str, *, dialect: str, ops: List[Op],
                 answers: List[Dict[str, Any]], states: Dict[str, Any],
                 problems: Optional[Dict[str, List[str]]] = None,
                 notes: Optional[Dict[str, List[str]]] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.dialect = dialect
        self.ops = ops
        self.answers = answers
        self.states = states
        self.problems = problems or {}
        self.notes = notes or {}

    @property
    def op(self) -> Op:
        return self.ops[-1]

    @property
    def signature(self) -> Tuple[Any, ...]:
        """What makes two divergences "the same bug" for minimization and deduplication."""
        last = self.answers[-1] if self.answers else {}
        shape = tuple(sorted((name, a[0] if a[0] == "ok" else f"{a[0]}:{a[1]}")
                             for name, a in last.items()))
        if self.kind in ("answer",):
            return (self.kind, self.op["op"], shape)
        return (self.kind, self.op["op"])

    def report(self) -> str:
        lines = [f"{self.kind} divergence at step {len(self.ops) - 1}: {self.message}",
                 f"  op: {describe(self.op, self.dialect)}", f"      {json.dumps(self.op)}"]
        for name, answer in (self.answers[-1] if self.answers else {}).items():
            lines.append(f"  {name:>8}: {json.dumps(answer)}")
            for note in self.notes.get(name, []):
                lines.append(f"  {'':>8}  ({note})")
        for name, problems in self.problems.items():
            for p in problems:
                lines.append(f"  {name:>8}! {p}")
        if self.kind == "state":
            names = list(self.states)
            ref = self.states[names[0]]
            for name in names[1:]:
                for key in ("chain", "links", "progs"):
                    if self.states[name][key] != ref[key]:
                        lines.append(f"  {key}: {names[0]}={json.dumps(ref[key], default=str)}")
                        lines.append(f"  {key}: {name}={json.dumps(self.states[name][key], default=str)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


SKIP = ["skip"]


class Trial:
    """N backends, one bundle each, driven in lockstep."""

    def __init__(self, backends: Dict[str, Any], dialect: str = "upstream", *,
                 check_protocol: bool = True) -> None:
        self.dialect = dialect
        self.check_protocol = check_protocol
        self.sides: List[Side] = []
        self.ops: List[Op] = []
        self.answers: List[Dict[str, Any]] = []
        self.prog_labels: Set[int] = set()
        self.link_labels: Set[int] = set()
        try:
            for name, module in backends.items():
                self.sides.append(Side(name, module, dialect))
            self.states = self._snapshots()
        except BaseException:
            self.close()
            raise
        self._check_states(None, None)

    # ----------------------------------------------------------------- stepping

    @property
    def state(self) -> Dict[str, Any]:
        """The first backend's state (all agree, or ``step`` raised)."""
        return self.states[self.sides[0].name]

    def step(self, op: Op) -> Dict[str, Any]:
        """Apply ``op`` everywhere; returns ``{backend: answer}`` or raises ``Divergence``."""
        if (any(r not in self.prog_labels for r in prog_refs(op))
                or any(r not in self.link_labels for r in link_refs(op))
                or (op["op"] == "new_prog" and op["as"] in self.prog_labels)
                or (op["op"] == "link" and op["as"] in self.link_labels)):
            answers = {s.name: SKIP for s in self.sides}  # names an object that does not exist
            self.ops.append(op)
            self.answers.append(answers)
            return answers
        before = self.states
        answers = {s.name: s.apply(op) for s in self.sides}
        self.ops.append(op)
        self.answers.append(answers)
        self.states = self._snapshots()
        first = self.sides[0].name
        if any(a != answers[first] for a in answers.values()):
            self._diverge("answer", "backends answer differently")
        if self.check_protocol:
            bad = {s.name: s.violations for s in self.sides if s.violations}
            if bad:
                self._diverge("protocol", "error does not follow docs/protocol.md", bad)
        self._check_states(op, before)
        if answers[first][0] == "ok":
            if op["op"] == "new_prog":
                self.prog_labels.add(op["as"])
            elif op["op"] == "link":
                self.link_labels.add(op["as"])
        return answers

    def run(self, ops: List[Op]) -> None:
        for op in ops:
            self.step(op)

    def _snapshots(self) -> Dict[str, Dict[str, Any]]:
        states: Dict[str, Dict[str, Any]] = {}
        for side in self.sides:
            try:
                states[side.name] = side.snapshot()
            except Exception as e:  # noqa: BLE001 - a backend that cannot report its state
                self.states = states
                self._diverge("invariant", "reading the state raised",
                              {side.name: [f"snapshot: {type(e).__name__}: {e}"]})
        return states

    def _check_states(self, op: Optional[Op], before: Optional[Dict[str, Any]]) -> None:
        problems: Dict[str, List[str]] = {}
        for side in self.sides:
            state = self.states[side.name]
            found = invariants.check_state(state, self.dialect)
            if op is not None and before is not None:
                found += invariants.check_transition(op, self.answers[-1][side.name],
                                                     before[side.name], state)
            if found:
                problems[side.name] = found
        if problems:
            self._diverge("invariant", "an invariant does not hold", problems)
        names = [s.name for s in self.sides]
        ref = self.states[names[0]]
        for name in names[1:]:
            other = self.states[name]
            if other["chain"] != ref["chain"] or other["links"] != ref["links"] \
                    or other["progs"] != ref["progs"]:
                self._diverge("state", f"{names[0]} and {name} are in different states")

    def _diverge(self, kind: str, message: str,
                 problems: Optional[Dict[str, List[str]]] = None) -> None:
        states = {s.name: getattr(self, "states", {}).get(s.name) for s in self.sides}
        raise Divergence(kind, message, dialect=self.dialect, ops=list(self.ops),
                         answers=list(self.answers), states=states, problems=problems,
                         notes={s.name: list(s.notes) for s in self.sides if s.notes})

    # ----------------------------------------------------------------- cleanup

    def close(self) -> List[str]:
        problems: List[str] = []
        sides, self.sides = self.sides, []
        for side in sides:
            problems += side.close()
        return problems

    def __enter__(self) -> "Trial":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_trace(backends: Dict[str, Any], dialect: str, ops: List[Op]) -> Optional[Divergence]:
    """Run ``ops`` on a fresh trial; the ``Divergence`` it raised, or ``None``."""
    with Trial(backends, dialect) as trial:
        try:
            trial.run(ops)
        except Divergence as d:
            return d
    return None
