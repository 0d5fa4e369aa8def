"""A trial: the same operations applied to N backends, compared after every step.

``Trial(backends, dialect)`` opens one bundle per backend (an ``mprog.ops.Interpreter``
each). ``step(op)`` applies the op to each and raises ``Divergence`` if the normalized
answers differ, the states differ, an invariant fails in any backend, or a backend breaks the
protocol's error conventions. Two depths:

- ``full=True`` (the default; tests, replay, localizing): after every step each backend's full
  snapshot is read, compared and checked against every invariant (``invariants``);
- ``full=False`` (campaigns): after every step each backend's cheap ``digest`` (revision,
  count, labels in order, flags, the handles the op named) is compared, and the transition
  checks that need no more than that run (a failure or a read-only op changed nothing, a change
  stepped the revision by one or emptied the chain); the full checks run once, at the end.

Transactions (``tx_*`` ops) are skipped on every backend when one of them has none (the live
kernel: each syscall is one change, so it has no way to stage several): a three-way trial
compares everything else. ``close()`` releases every object of every backend, also after a
failure; a trial is a context manager.
"""
from __future__ import annotations

import json
from time import perf_counter
from typing import AbstractSet, Any, Dict, List, Optional, Set, Tuple

from . import invariants
from ..ops.generate import View
from ..ops.interpreter import CLOSED, SKIP, Interpreter
from ..ops.vocabulary import (READ_ONLY, TRANSACTION_OPS, Op, cgroup_refs, describe,
                              link_refs, prog_refs, tx_refs)


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

    def __reduce__(self) -> Any:  # worker processes send divergences back pickled
        return (_rebuild, (dict(self.__dict__),))

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
                for key in ("chain", "links", "progs", "cgroups"):
                    if self.states[name].get(key) != ref.get(key):
                        lines.append(f"  {key}: {names[0]}={json.dumps(ref.get(key), default=str)}")
                        lines.append(f"  {key}: {name}={json.dumps(self.states[name].get(key), default=str)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _rebuild(state: Dict[str, Any]) -> Divergence:
    d = Divergence.__new__(Divergence)
    AssertionError.__init__(d, state["message"])
    d.__dict__.update(state)
    return d


#: The ops ``Trial._learn_labels`` learns from (every other op teaches only the chain order,
#: ``Trial._see``'s).
LEARNS = frozenset({"new_prog", "link", "prog_close", "link_close", "update", "tx_begin",
                    "tx_commit", "tx_discard", "new_cgroup"})


class Trial:
    """N backends, one bundle each, driven in lockstep."""

    def __init__(self, backends: Dict[str, Any], dialect: str = "upstream", *,
                 check_protocol: bool = True, full: bool = True) -> None:
        self.dialect = dialect
        self.check_protocol = check_protocol
        self.full = full
        self.sides: List[Interpreter] = []
        self.ops: List[Op] = []
        self.answers: List[Dict[str, Any]] = []
        self.prog_labels: Set[int] = set()
        self.link_labels: Set[int] = set()
        self.tx_labels: Set[int] = set()
        self.cgroup_labels: Set[int] = {0}  # the cgroup dialect's tree: 0 is the bundle
        #: the agreed state as the generator sees it (``mprog.ops.View``)
        self.view = View()
        self.states: Dict[str, Any] = {}
        #: backends whose last full snapshot equalled the first backend's (``_check_states``)
        self._same: AbstractSet[str] = set()
        #: the snapshot ``check_state`` last ran on, and its problems (``_state_problems``)
        self._last_checked: Optional[Tuple[Dict[str, Any], List[str]]] = None
        #: seconds each backend spent running ops (the progress line's ops/s per backend)
        self.seconds: Dict[str, float] = {}
        try:
            for name, module in backends.items():
                self.sides.append(Interpreter(name, module, dialect))
            self.transactions = all(s.transactions for s in self.sides)
            self.watches = all(s.watches for s in self.sides)
            self.digests = [s.digest() for s in self.sides]
            if full:
                self.states = self._snapshots()
        except BaseException:
            self.close()
            raise
        if full:
            self._check_states(None, None)

    # ----------------------------------------------------------------- stepping

    @property
    def state(self) -> Dict[str, Any]:
        """The first backend's full state (all agree, or ``step`` raised)."""
        state: Dict[str, Any] = (self.sides[0].snapshot() if not self.full
                                 else self.states[self.sides[0].name])
        return state

    def _skips(self, op: Op) -> bool:
        """Whether ``op`` names an object that does not exist (or needs what a backend lacks)."""
        kind = op["op"]
        # set operations rather than any(...): this runs for every op of every campaign
        return ((kind in TRANSACTION_OPS and not self.transactions)
                or (kind == "watch" and not self.watches)
                or not self.prog_labels.issuperset(prog_refs(op))
                or not self.link_labels.issuperset(link_refs(op))
                or ("tx" in op and not self.tx_labels.issuperset(tx_refs(op)))
                or (("cgroup" in op or "parent" in op)
                    and not self.cgroup_labels.issuperset(cgroup_refs(op)))
                or (kind == "new_cgroup" and op["as"] in self.cgroup_labels)
                or (kind == "new_prog" and op["as"] in self.prog_labels)
                or (kind == "link" and op["as"] in self.link_labels)
                or (kind == "tx_begin" and op["as"] in self.tx_labels))

    def step(self, op: Op) -> Dict[str, Any]:
        """Apply ``op`` everywhere; returns ``{backend: answer}`` or raises ``Divergence``."""
        if self._skips(op):
            answers = {s.name: SKIP for s in self.sides}
            self.ops.append(op)
            self.answers.append(answers)
            if op["op"] == "tx_begin" and self.view.txs and self.view.txs[-1] == op["as"]:
                self.view.txs.pop()
            return answers
        sides = self.sides
        answers = {}
        seconds = self.seconds
        for s in sides:
            t0 = perf_counter()
            answers[s.name] = s.apply(op)
            seconds[s.name] = seconds.get(s.name, 0.0) + perf_counter() - t0
        self.ops.append(op)
        self.answers.append(answers)
        self._check_step(op, answers)
        return answers

    def _check_step(self, op: Op, answers: Dict[str, Any]) -> None:
        """After every backend ran ``op`` (its last entry in ``ops`` and ``answers``): compare
        and check what a step checks, and learn from it."""
        sides = self.sides
        first = answers[sides[0].name]
        if self.full:
            before = self.states
            self.states = self._snapshots()
            self._compare_answers(answers, first)
            self._check_states(op, before)
            # the view learns from the first snapshot (all agree): no digest to read
            self.digests = [_digest_of(self.states[sides[0].name])]
        else:
            before_digests = self.digests
            self.digests = [s.digest(op) for s in sides]
            self._compare_answers(answers, first)
            self._check_digests(op, first, before_digests)
        self._learn(op, first, self.digests[0])

    def _compare_answers(self, answers: Dict[str, Any], first: Any) -> None:
        if any(a != first for a in answers.values()):
            self._diverge("answer", "backends answer differently")
        if self.check_protocol:
            bad = {s.name: s.violations for s in self.sides if s.violations}
            if bad:
                self._diverge("protocol", "error does not follow docs/protocol.md", bad)

    def _check_digests(self, op: Op, answer: Any, before: List[Any]) -> None:
        digests = self.digests
        ref = digests[0]
        for i in range(1, len(digests)):
            if digests[i] != ref:
                self._diverge("state", f"{self.sides[0].name} and {self.sides[i].name} are "
                                       f"in different states")
        old, new = before[0], ref
        if len(old) < 2 or len(new) < 2:  # a closed bundle: nothing more to compare
            return
        kind = op["op"]
        n = self.sides[0].state_len
        if answer[0] != "ok" or kind in READ_ONLY:
            if old[:n] != new[:n]:
                self._diverge("invariant", "an invariant does not hold", {
                    s.name: [f"{kind} {'failed' if answer[0] != 'ok' else 'changes nothing'}"
                             f" but the chain changed"] for s in self.sides})
        elif old[:6] != new[:6]:
            revision, count = new[0], new[1]
            if not (revision == old[0] + 1 or (count == 0 and revision == 1)):
                self._diverge("invariant", "an invariant does not hold", {
                    s.name: [f"revision went {old[0]} -> {revision} on a change"]
                    for s in self.sides})

    def _learn(self, op: Op, answer: Any, digest: Tuple[Any, ...]) -> None:
        """Keep the labels and the generator's view up to date with what every backend did
        (``answer`` and ``digest``: the agreed outcome and state)."""
        self._see(digest)
        if self.dialect == "cgroup" and len(digest) >= 7:
            # a closed cgroup: None
            self.view.cgroups = {entry[0]: entry[3] if len(entry) > 3 else None
                                 for entry in digest[6]}
        self._learn_labels(op, answer)

    def _learn_labels(self, op: Op, answer: Any) -> None:
        """What ``_learn`` learns from the op itself (one of ``LEARNS``): the labels it made,
        began, closed or ended, and a link's program."""
        kind = op["op"]
        v = self.view
        ok = answer[0] == "ok"
        if kind == "new_prog":
            if ok:
                self.prog_labels.add(op["as"])
                v.progs.append(op["as"])
        # A bad-input op names its argument by a dict (the bad value), never by a label: a
        # success with one teaches the view nothing about the labelled objects.
        elif kind == "link":
            if ok and type(op["prog"]) is int:
                self.link_labels.add(op["as"])
                v.links.append(op["as"])
                v.link_prog[op["as"]] = op["prog"]
        elif kind == "prog_close":
            if ok and type(op["prog"]) is int:
                v.closed_progs.add(op["prog"])
        elif kind == "link_close":
            if ok and type(op["link"]) is int:
                v.closed_links.add(op["link"])
        elif kind == "update":
            if ok and type(op["link"]) is int and type(op["new_prog"]) is int:
                v.link_prog[op["link"]] = op["new_prog"]
        elif kind == "tx_begin":
            if ok:
                self.tx_labels.add(op["as"])
            elif op["as"] in v.txs:
                v.txs.remove(op["as"])
        elif kind == "new_cgroup":
            if ok:
                self.cgroup_labels.add(op["as"])
                v.cgroups.setdefault(op["as"], ())
        elif kind in ("tx_commit", "tx_discard"):
            if ok and op["tx"] in v.txs:
                v.txs.remove(op["tx"])

    def _see(self, digest: Tuple[Any, ...]) -> None:
        """What every op teaches the generator's view: the chain's order from a digest (or a
        state: the same leading fields)."""
        v = self.view
        if len(digest) >= 4:
            v.order, v.slot_links = digest[2], digest[3]
        else:  # the bundle is closed: it holds nothing
            v.order, v.slot_links = (), ()

    def run(self, ops: List[Op]) -> None:
        for op in ops:
            self.step(op)

    def check_full(self) -> None:
        """Read every backend's full state and check every invariant and agreement now."""
        self.states = self._snapshots()
        self._check_states(None, None)
        self.check_watched()

    def check_watched(self) -> None:
        """What the ``watch`` op's watchers were told since the last ``watch`` answered: the
        same, by label, on every backend (``check_full`` asks; a trace checked in full asks
        at its end)."""
        if all(s.watcher is None for s in self.sides):
            return
        told = {s.name: s.watch_report() for s in self.sides}
        first = told[self.sides[0].name]
        if any(t != first for t in told.values()):
            self._diverge("state", "the watchers were told different things",
                          {name: [repr(call) for call in t] for name, t in told.items()})

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
        """Every invariant on every backend's snapshot, then their agreement.

        The checks are functions of the snapshots (and of the op and its answer, which agree
        by now): a backend whose snapshot equals the first one's, now and at the step before,
        has the first one's problems, without running the checks again."""
        problems: Dict[str, List[str]] = {}
        states = self.states
        ref = states[self.sides[0].name]
        same = set()  # the backends whose whole snapshot equals the first one's
        shared: List[str] = []
        for i, side in enumerate(self.sides):
            state = states[side.name]
            equal = i == 0 or state == ref
            if i and equal and (before is None or side.name in self._same):
                found = list(shared)
            else:
                found = self._state_problems(state)
                if op is not None and before is not None:
                    found += invariants.check_transition(op, self.answers[-1][side.name],
                                                         before[side.name], state)
            if i == 0:
                shared = found
            if equal:
                same.add(side.name)
            if found:
                problems[side.name] = found
        self._same = same
        if problems:
            self._diverge("invariant", "an invariant does not hold", problems)
        names = [s.name for s in self.sides]
        for name in names[1:]:
            if name in same:
                continue
            other = states[name]
            if other["chain"] != ref["chain"] or other["links"] != ref["links"] \
                    or other["progs"] != ref["progs"] \
                    or other.get("cgroups") != ref.get("cgroups"):
                self._diverge("state", f"{names[0]} and {name} are in different states")

    def _state_problems(self, state: Dict[str, Any]) -> List[str]:
        """``invariants.check_state(state)``, run again only when what it reads (all but the
        programs' handles) differs from the state it last ran on: most ops fail, make a
        program or change nothing, and the same state has the same problems. Where the last
        state was fine and this one only appended slots to its chain (most changes),
        ``invariants.grown_clean`` checks what they brought."""
        last = self._last_checked
        if last is not None:
            prev, found = last
            # (a snapshot reuses the parts that read the same: mostly identical objects)
            differs = invariants.differs
            if state is prev or not (differs(state["chain"], prev["chain"])
                                     or differs(state["links"], prev["links"])
                                     or differs(state["self"], prev["self"])
                                     or state.get("cgroups") != prev.get("cgroups")):
                return list(found)
            if not found and invariants.grown_clean(prev, state, self.dialect):
                self._last_checked = (state, [])  # slots appended, and they are fine
                return []
        found = invariants.check_state(state, self.dialect)
        self._last_checked = (state, found)
        return list(found)

    def _diverge(self, kind: str, message: str,
                 problems: Optional[Dict[str, List[str]]] = None) -> None:
        if not self.full and not self.states:
            try:  # a report shows whole states, even when only digests were compared
                self.states = {s.name: s.snapshot() for s in self.sides}
            except Exception:  # noqa: BLE001 - the divergence matters more than its report
                pass
        states = {s.name: self.states.get(s.name) for s in self.sides}
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


def _digest_of(snapshot: Dict[str, Any]) -> Tuple[Any, ...]:
    """``Interpreter.digest()`` of the backend a full ``snapshot`` was read from."""
    chain = snapshot["chain"]
    if chain.get("closed"):
        return CLOSED
    out: Tuple[Any, ...] = (chain["revision"], chain["count"], tuple(chain["progs"]),
                            tuple(chain["links"]), tuple(chain["prog_flags"]),
                            tuple(chain["link_flags"]))
    if "cgroups" in snapshot:
        out += (snapshot["cgroups"],)
    return out


def run_trace(backends: Dict[str, Any], dialect: str, ops: List[Op], *,
              full: bool = True) -> Optional[Divergence]:
    """Run ``ops`` on a fresh trial; the ``Divergence`` it raised, or ``None``."""
    with Trial(backends, dialect, full=full) as trial:
        try:
            trial.run(ops)
            if not full:
                trial.check_full()
        except Divergence as d:
            return d
    return None
