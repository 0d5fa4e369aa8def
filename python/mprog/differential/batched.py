"""The fast engine of core-against-model campaigns: the model op by op, the core in batches.

A lockstep trial calls both backends from Python for every op and reads both states back;
that Python work, not the backends, is what a campaign spends its time on. ``BatchedTrial``
is a ``Trial`` (same interface, same labels, same generator view) that:

- runs each op on the model through the one interpreter (``mprog.ops.Interpreter``), keeps
  its normalized answer and state digest (``state()`` + ``handles(op)``), checks the
  transition rules a digest allows, and steers the generator by the model's outcome, exactly
  as a lockstep trial does;
- encodes each op as a 16-byte record (``mprog.batch.record``) and queues it; at the end of
  the trace (or before an op records cannot say) one C++ call, ``mprog._core.Executor.check``,
  runs the queue on the core's bundle and objects, the very ones the core's interpreter
  holds, through the binding's own methods, and compares per op its answer, state and
  handles with the model's there (on C values where the model's are plain ints, bools and
  tuples; a state again only where one side's moved), making the core's Python objects and
  handing back the lists only up to an op that differs;
- queues queries and the ops of a transaction too: the executor runs them through the
  Python-facing methods (``Bundle.query``, ``Bundle.transaction``, ``Transaction.*``) and
  answers them in the interpreter's form (a query's result by label, ENOSPC with its partial
  result); transactions by label live in the core interpreter's own dict, shared;
- queues an op whose arguments a record cannot hold (bad input, literal revisions, wide
  flags, raw ids) as a record with those arguments aside (``mprog.batch.record_aside``): the
  core's interpreter makes the objects it would pass (``Interpreter.argument``: another
  backend's program, a str, 2**64, ...) and the executor passes them in their place;
- runs an op records cannot say even so (closing the bundle, closing a program given bad
  input, a query given a bad count, a replace naming a link) op by op on both backends after
  flushing the queue, as a lockstep trial does, on the same objects.

What it does not check per op, compared with a lockstep ``Trial(full=False)``: the core's
error messages and exception classes (the executor compares errnos; the model's are checked
per op, and both backends' in every trace checked in full, one in ``FULL_EVERY``). A
divergence is reported at the first op where the lists differ; the campaign re-runs the
trace in lockstep with full checks to localize and explain it.

Checked in full (``full=True``: what a lockstep ``Trial(full=True)`` checks, after every op):
the model's whole snapshot is taken after each op and every invariant runs on it (the
checks are functions of the snapshot); the executor compares the core's programs, links and
bundle (revision, ``len``, iteration) with that snapshot as well as the digest, so the
core's snapshot is the model's and has its problems. An op that failed on the model runs op
by op on the core (after the queue), so the core's exception class and message are checked
as in lockstep; the core is then compared with the model's snapshot by the executor too
(``Executor.agrees``), and only where something differs are both read in full to report it.
The snapshot reads every model object again after every op; what reads as before is the
last snapshot's dict again, so the checks that follow mostly compare identities.

Only core against model, upstream or v2 (``batchable``): the kernel and the cgroup dialect
run in lockstep.

``step`` below is the rule. In a trace checked by digests the trial's ``step`` is
``mprog._core._Stepper``'s: the same way for the usual op, in C (most of an op's cost here
was Python's own work), handing ``step`` (or ``_after_model``, once the model has answered)
every op that is not usual.
"""
from __future__ import annotations

import errno
import sys
from time import perf_counter
from typing import Any, Dict, List, Tuple

import mprog

from .. import _core
from ..batch import record, record_aside
from ..ops.interpreter import HANDLE_OPS
from ..ops.vocabulary import READ_ONLY, Op
from . import invariants
from .trial import LEARNS, Trial

#: errno -> its name, as the executor answers (one dict for every trace's executor)
_ERRNAMES: Dict[int, str] = dict(errno.errorcode)

#: Ops queued before the queue runs anyway (a bound on memory, not a tuning knob).
MAX_QUEUE = 512

#: The model's time (``Trial.seconds``, the progress line's ops/s per backend) is measured on
#: one op in this many and counted that many times: reading the clock around every op cost
#: about 1.5% of a campaign. Ops are drawn at random, so the ops at those positions are a
#: fair sample: the estimate is within a few percent of timing every op (measured over 800
#: traces; tests/test_backend_seconds.py keeps it near).
TIMED_EVERY = 8


def batchable(backends: Dict[str, Any], dialect: str) -> bool:
    """Whether ``BatchedTrial`` runs these backends: the core and the model, a chain dialect."""
    # (the model is looked up, not imported: a campaign without it never loads it; asked for
    # every trace, an import statement here was the most of this function's cost)
    model = sys.modules.get("mprog.model")
    modules = list(backends.values())
    return (dialect in ("upstream", "v2") and len(modules) == 2 and model is not None
            and any(m is mprog for m in modules) and any(m is model for m in modules))


class BatchedTrial(Trial):
    """A digest-depth trial (``full=False``) of the core against the model, the core's ops
    run in batches by ``mprog._core.Executor``."""

    def __init__(self, backends: Dict[str, Any], dialect: str = "upstream", *,
                 check_protocol: bool = True, full: bool = False) -> None:
        if not batchable(backends, dialect):
            raise ValueError("a batched trial runs the core against the model (upstream, v2)")
        super().__init__(backends, dialect, check_protocol=check_protocol, full=full)
        self.core = next(s for s in self.sides if s.module is mprog)
        self.model = next(s for s in self.sides if s is not self.core)
        self.names = [s.name for s in self.sides]  # two: the core's and the model's
        #: ``Trial._same`` where the core's snapshot is the model's (only ever replaced)
        self._all_same = frozenset(self.names)
        try:
            # the transactions by label: the core interpreter's own dict, shared
            self.executor = _core.Executor(self.core.bundle, _ERRNAMES,
                                           self.core.txs)
        except BaseException:
            self.close()
            raise
        self._made = [0, 0]  # program and link labels the executor's lists will hold
        #: ``_known(op)``: ``not Trial._skips(op)`` for an op ``record`` or ``record_aside``
        #: can say, read from the label sets and ``_made`` at each call: every program and
        #: link it names by label exists (bad input, a dict left aside, names none), what it
        #: makes does not yet and makes the next label (a position in the executor's lists),
        #: and a transaction's op needs transactions. In C++ beside ``record``: it runs for
        #: every op, and in Python it was about 1.5% of a campaign.
        self._known = _core.label_check(self.prog_labels, self.link_labels, self.tx_labels,
                                        self._made, self.transactions)
        #: queued ops, what ``Executor.check`` takes, one append per op: (record, the model's
        #: answer, state and handles, the op's position in self.ops, the arguments the record
        #: leaves aside or None); the one list, emptied by ``flush``
        self._queue: List[Tuple[Any, ...]] = []
        self._snapshots_queued: List[Any] = []  # ... and the model's snapshots (full checks)
        #: ``step``'s usual way in C (``_core._Stepper``), which also keeps ``batching``, the
        #: model's last state and its time since the last flush (the properties below). In a
        #: trace checked in nothing but digests it *is* this trial's ``step``: the method
        #: below stays the rule, and the Stepper hands it every op that is not usual.
        self._fast = _core._Stepper(self, TIMED_EVERY, MAX_QUEUE, perf_counter)
        if not full:
            self.step = self._fast.step  # type: ignore[method-assign]
        self._state = self.model.state()  # the model's state after the last op
        self._see(self._state)

    # (kept in the Stepper, which reads and writes them on its usual way)
    @property
    def batching(self) -> bool:
        """False once labels stop being list positions (not the generator's): op by op then."""
        return bool(self._fast.batching)

    @batching.setter
    def batching(self, value: bool) -> None:
        self._fast.batching = value

    @property
    def _state(self) -> Tuple[Any, ...]:
        """The model's state after the last op."""
        state: Tuple[Any, ...] = self._fast.state
        return state

    @_state.setter
    def _state(self, state: Tuple[Any, ...]) -> None:
        self._fast.state = state

    @property
    def _model_seconds(self) -> float:
        """The model's time since the last flush."""
        seconds: float = self._fast.model_seconds
        return seconds

    @_model_seconds.setter
    def _model_seconds(self, seconds: float) -> None:
        self._fast.model_seconds = seconds

    # ----------------------------------------------------------------- stepping

    def step(self, op: Op) -> Dict[str, Any]:
        """The rule for one op (in a digest-depth trace the instance's ``step`` is the
        Stepper's, which takes the usual op the same way and hands this every other)."""
        if not self.batching:
            return self._lockstep(op)
        rec = record(op)
        aside: Tuple[str, ...] = ()
        if rec is None:  # arguments a record cannot hold go beside it, as objects
            odd = record_aside(op)
            if odd is None:
                return self._lockstep(op)
            rec, aside = odd
        if not self._known(op):
            return self._lockstep(op)
        model = self.model
        if len(self.ops) % TIMED_EVERY:
            answer = model.apply(op)
        else:  # the model's time, measured on a sample of its ops (see TIMED_EVERY)
            t0 = perf_counter()
            answer = model.apply(op)
            self._model_seconds += (perf_counter() - t0) * TIMED_EVERY
        return self._after_model(op, rec, aside, answer)

    def _after_model(self, op: Op, rec: bytes, aside: Tuple[str, ...],
                     answer: Any) -> Dict[str, Any]:
        """The rest of ``step`` once the model gave ``answer`` (``rec``: the op's record,
        ``aside``: the arguments it leaves aside)."""
        model = self.model
        if self.full and answer[0] != "ok":
            return self._core_alone(op, answer)
        state = model.state()
        kind = op["op"]
        is_open = len(state) > 1  # ("closed",) once the bundle is
        handles = model.handles(op) if is_open and kind in HANDLE_OPS else ()
        first, second = self.names
        answers = {first: answer, second: answer}  # the core's, if the queue agrees
        if model.violations and self.check_protocol:
            self._stop(op, answers)
            self._diverge("protocol", "error does not follow docs/protocol.md",
                          {model.name: model.violations})
        before = self._state
        if state is not before:
            if is_open and len(before) > 1 and not (
                    # (the usual change, checked here without a call: a success that
                    # stepped the revision by one or emptied the chain; the rest, and any
                    # doubt, goes to _transition)
                    answer[0] == "ok" and kind not in READ_ONLY
                    and (state[0] == before[0] + 1 or (state[1] == 0 and state[0] == 1))):
                problem = self._transition(op, answer, before, state)
                if problem:
                    self._stop(op, answers)
                    self._diverge("invariant", "an invariant does not hold",
                                  {s.name: [problem] for s in self.sides})
            self._state = state
            view = self.view  # Trial._see, spelled out: the chain's order for the generator
            view.order, view.slot_links = (state[2], state[3]) if is_open else ((), ())
        if self.full:
            self._check_model(op, answer, answers)
        # for the arguments left aside: what the core's interpreter would pass (bad input too)
        side = tuple([self.core.argument(key, op[key]) for key in aside]) if aside else None
        self._queue.append((rec, answer, state, handles, len(self.ops), side))
        self.ops.append(op)
        self.answers.append(answers)
        if kind in LEARNS:  # what else Trial._learn learns (the order: _see, above)
            if kind == "new_prog":  # (two ops in five: _learn_labels's rule, without a call)
                self._made[0] += 1
                if answer[0] == "ok":
                    label = op["as"]
                    self.prog_labels.add(label)
                    self.view.progs.append(label)
            else:
                if kind == "link":
                    self._made[1] += 1
                self._learn_labels(op, answer)
        if len(self._queue) >= MAX_QUEUE:
            self.flush()
        return answers

    def _check_model(self, op: Op, answer: Any, answers: Dict[str, Any]) -> None:
        """A trace checked in full: the model's snapshot after ``op``, every invariant on it
        (``Trial._check_states`` on the first backend), queued for the executor to compare
        the core's handles and bundle with (its chain is the state). The core's snapshot is
        then the same, and so are its problems."""
        model = self.model
        try:
            snap = model.snapshot()
        except Exception as e:  # noqa: BLE001 - a backend that cannot report its state
            self._stop(op, answers)
            self._diverge("invariant", "reading the state raised",
                          {model.name: [f"snapshot: {type(e).__name__}: {e}"]})
        problems = self._state_problems(snap) + invariants.check_transition(
            op, answer, self.states[model.name], snap)
        self.states = dict.fromkeys(self.names, snap)  # the core's, if the queue agrees
        if problems:
            self._stop(op, answers)
            self._diverge("invariant", "an invariant does not hold", {model.name: problems})
        self._same = self._all_same
        self._snapshots_queued.append(snap)

    def _core_alone(self, op: Op, answer: Any) -> Dict[str, Any]:
        """A trace checked in full, an op that failed on the model: on the core op by op
        (after the queue), so the core's exception class and message are checked as well.
        The core is then compared with the model's snapshot by the executor, as a queued op
        is (``_agrees_alone``); where anything differs or fails, the lockstep checks of
        ``Trial._check_step`` read both backends in full and report it."""
        self.flush()
        self._adopt()
        core = self.core
        t0 = perf_counter()
        theirs = core.apply(op)
        self.seconds[core.name] = self.seconds.get(core.name, 0.0) + perf_counter() - t0
        answers = {name: theirs if name == core.name else answer for name in self.names}
        self.ops.append(op)
        self.answers.append(answers)
        if self.batching and theirs == answer and self._agrees_alone(op, answer):
            self._learn(op, answer, self.model.state())
        else:
            self._check_step(op, answers)
        self._made_alone(op, theirs)
        self._state = self.model.state()
        return answers

    def _agrees_alone(self, op: Op, answer: Any) -> bool:
        """What ``Trial._check_step`` finds in full for ``op``, which both backends answered
        alike (``answer``), from the model's snapshot alone: no protocol violation on either
        side, every invariant holds on the model's snapshot (and its transition from the
        last), and the core's chain, handles and bundle read as that snapshot says
        (``Executor.agrees``: the core's snapshot is then the model's, with its problems).
        False: something differs (``_check_step`` reads both again and reports it)."""
        model = self.model
        if self.check_protocol and (model.violations or self.core.violations):
            return False
        try:
            snap = model.snapshot()
        except Exception:  # noqa: BLE001 - reported the lockstep way
            return False
        if (self._state_problems(snap)
                or invariants.check_transition(op, answer, self.states[model.name], snap)
                or not self.executor.agrees(model.state(), snap)):
            return False
        self.states = dict.fromkeys(self.names, snap)
        self._same = self._all_same
        return True

    def _made_alone(self, op: Op, answer: Any) -> None:
        """After ``op`` ran op by op: an object the core's interpreter made is in the
        executor's lists too (or batching stops)."""
        kind = op["op"]
        if self.batching and (kind == "new_prog" or kind == "link") and answer != ["skip"]:
            i = kind == "link"
            lst: List[Any] = self.executor.links if i else self.executor.programs
            if op["as"] == self._made[i] == len(lst):
                lst.append((self.core.links if i else self.core.progs).get(op["as"]))
                self._made[i] += 1
            else:
                self.batching = False

    @staticmethod
    def _transition(op: Op, answer: Any, before: Tuple[Any, ...],
                    state: Tuple[Any, ...]) -> str:
        """What ``Trial._check_digests`` checks of one step, on the model's states (the core's
        must equal them): a failure or a read-only op changed nothing, a change stepped the
        revision by one or emptied the chain."""
        kind = op["op"]
        if answer[0] != "ok" or kind in READ_ONLY:
            if before[:6] != state[:6]:
                return (f"{kind} {'failed' if answer[0] != 'ok' else 'changes nothing'} but "
                        f"the chain changed")
        elif before[:6] != state[:6]:
            revision, count = state[0], state[1]
            if not (revision == before[0] + 1 or (count == 0 and revision == 1)):
                return f"revision went {before[0]} -> {revision} on a change"
        return ""

    def _stop(self, op: Op, answers: Dict[str, Any]) -> None:
        """Before reporting a problem the model showed at ``op``: the queue first (an earlier
        divergence of the core comes first), then ``op`` as the trace's last."""
        self.flush()
        self.batching = False
        self.ops.append(op)
        self.answers.append(answers)

    def _lockstep(self, op: Op) -> Dict[str, Any]:
        """``op`` on every backend, op by op, after the queue."""
        self.flush()
        self._adopt()
        state = self._state
        self.digests = [state for _ in self.sides]  # what Trial.step compares a step with
        answers = super().step(op)
        self._made_alone(op, answers[self.core.name])
        self._state = self.model.state()
        return answers

    def flush(self) -> None:
        """Run the queued ops on the core and compare them with the model's outcomes."""
        if self._model_seconds:
            name = self.model.name
            self.seconds[name] = self.seconds.get(name, 0.0) + self._model_seconds
            self._model_seconds = 0.0
        if not self._queue:
            return
        queue = self._queue[:]
        self._queue.clear()  # (the one list: the Stepper appends to it)
        snapshots = self._snapshots_queued if self.full else None
        self._snapshots_queued = []
        core = self.core
        t0 = perf_counter()
        try:
            # compared there (with the model's snapshots in full): None if all agree
            theirs = self.executor.check(queue, snapshots)
        finally:
            self.seconds[core.name] = self.seconds.get(core.name, 0.0) + perf_counter() - t0
        if theirs is None:
            return
        self._adopt()
        answers, states, handles = theirs
        mine = tuple(zip(*queue[:len(answers)]))[1:4]  # the model's answers, states, handles
        for i in range(len(answers)):  # the last one differs
            kind = ("answer" if answers[i] != mine[0][i] else
                    "state" if states[i] != mine[1][i] or handles[i] != mine[2][i] else "")
            if kind:
                break
        kind = kind or "state"  # in full: the core's handles or bundle differ from the snapshot
        if answers[i][0] == "malformed":  # and every op before it agreed: the engine's fault
            raise ValueError(f"the batched core leg: {answers[i][1]}")
        step = queue[i][4]
        del self.ops[step + 1:]
        del self.answers[step + 1:]
        self.answers[step] = {core.name: answers[i], self.model.name: mine[0][i]}
        self.batching = False
        if self.full:  # the states at that op (the campaign explains it again in lockstep)
            try:
                self.states = {core.name: core.snapshot(),
                               self.model.name: (snapshots or [])[i]}
            except Exception:  # noqa: BLE001 - the divergence matters more than its report
                pass
        self._diverge(kind, "backends answer differently" if kind == "answer" else
                      f"{self.names[0]} and {self.names[1]} are in different states")

    # ----------------------------------------------------------------- reading, cleanup

    def _adopt(self) -> None:
        """The objects the executor made, into the core's interpreter (labels and ids), before
        anything reads them there: an op run op by op, a full read of the core, a report.
        A trace that needs none of these never hands them over (``close`` closes them)."""
        self.core.adopt(self.executor.programs, self.executor.links)

    @property
    def state(self) -> Dict[str, Any]:
        self.flush()
        self._adopt()
        return super().state

    def check_full(self) -> None:
        """``Trial.check_full``: the model's snapshot and every invariant on it, the core
        compared with it by the executor (its snapshot is then the same, with the same
        problems); both read in full where they differ, to report it."""
        self.flush()
        model = self.model
        snap = None
        if self.batching:
            try:
                snap = model.snapshot()
            except Exception:  # noqa: BLE001 - reported the lockstep way, below
                pass
        if snap is None or not self.executor.agrees(model.state(), snap):
            self._adopt()  # both read in full, the lockstep way, to report it
            return super().check_full()
        self.states = dict.fromkeys(self.names, snap)
        problems = self._state_problems(snap)
        if problems:
            self._diverge("invariant", "an invariant does not hold",
                          {s.name: problems for s in self.sides})
        self.check_watched()

    def check_watched(self) -> None:
        if self.model.watcher is not None or self.core.watcher is not None:
            self.flush()
            self._adopt()  # the core's watcher was told ids the executor's objects have
            super().check_watched()

    def close(self) -> List[str]:
        # Each bundle first: that detaches every link at once, where closing attached links
        # one by one plans and commits a chain per link (on the model, in Python). Only the
        # core and the model run here; the order a live kernel tears down in is Trial's.
        problems: List[str] = []
        for side in self.sides:
            try:
                side.bundle.close()
            except Exception as e:  # noqa: BLE001 - reported like Interpreter.close's
                problems.append(f"{side.name}: bundle.close(): {type(e).__name__}: {e}")
        # then the objects the executor made, closed there as Interpreter.close closes its
        # own (those it was handed as well: closing is idempotent)
        if hasattr(self, "executor"):
            problems += self.executor.close_made(self.core.name)
        return problems + super().close()
