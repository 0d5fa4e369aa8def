"""Traces checked in full run batched too: the executor compares the core's handles and bundle
with the model's snapshot after every op, and a difference in any part of it is found."""
from __future__ import annotations

import copy
import errno
from typing import Any, Callable, Dict, List

import pytest

import mprog
from mprog import _core, batch, model
from mprog.differential.batched import BatchedTrial
from mprog.differential.campaign import run_trace_seed
from mprog.ops import Interpreter

ATTACH = {"op": "attach", "flags": 0, "relative": None, "replace": None,
          "expected_revision": {"kind": "zero"}}
OPS: List[Dict[str, Any]] = (
    [{"op": "new_prog", "as": i} for i in range(3)]
    + [{**ATTACH, "prog": 0}, {**ATTACH, "prog": 1},
       {"op": "link", "as": 0, "prog": 2, "flags": 0, "relative": None,
        "expected_revision": {"kind": "zero"}},
       {"op": "prog_close", "prog": 0}])


def _model_lists() -> Any:
    other = Interpreter("model", model, "upstream")
    try:
        mine: Any = ([], [], [])
        snaps = []
        for op in OPS:
            mine[0].append(other.apply(op))
            mine[1].append(other.state())
            mine[2].append(other.handles(op))
            snaps.append(copy.deepcopy(other.snapshot()))
    finally:
        assert other.close() == []
    return mine, snaps


def _flip_closed(s: Dict[str, Any]) -> None:
    s["progs"][1] = not s["progs"][1]


def _detach_link(s: Dict[str, Any]) -> None:
    s["links"][0][0] = False


def _drop_program(s: Dict[str, Any]) -> None:
    del s["progs"][2]


def _bad_len(s: Dict[str, Any]) -> None:
    s["self"]["len"] += 1


def _bad_list(s: Dict[str, Any]) -> None:
    s["self"]["list"].reverse()


def _bad_revision(s: Dict[str, Any]) -> None:
    s["self"]["revision"] += 1


@pytest.mark.parametrize("change", [None, _flip_closed, _detach_link, _drop_program, _bad_len,
                                    _bad_list, _bad_revision])
def test_the_executor_compares_the_core_with_the_model_s_snapshot(
        change: Callable[[Dict[str, Any]], None]) -> None:
    mine, snaps = _model_lists()
    at = len(OPS) - 1  # every part of the snapshot has something in it by then
    if change is not None:
        change(snaps[at])
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        got = ex.run(b"".join(batch.record(op) for op in OPS), mine, snaps)
        if change is None:
            assert got is None
        else:
            assert got is not None and len(got[0]) == at + 1
            # the answers and states agree: only the snapshot told them apart
            assert got[0] == mine[0] and list(got[1]) == mine[1]
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


def test_a_batched_trial_checked_in_full_agrees_with_a_lockstep_one() -> None:
    from mprog.differential.trial import Trial
    from mprog.differential.campaign import weights_for
    from mprog.ops.generate import Generator
    import random
    for seed in range(6):
        runs = []
        for trial in (BatchedTrial({"core": mprog, "model": model}, full=True),
                      Trial({"core": mprog, "model": model}, full=True)):
            gen = Generator("upstream", random.Random(seed), weights_for(trial))
            try:
                while len(trial.ops) < 150:
                    for op in gen.next(trial.view):
                        trial.step(op)
                if isinstance(trial, BatchedTrial):
                    trial.flush()
                runs.append((trial.ops, trial.answers, trial.state))
            finally:
                assert trial.close() == []
        assert runs[0] == runs[1]


def test_a_model_bug_only_a_full_snapshot_shows_is_found_and_explained(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # iteration loses the last program: no digest reads it, the full snapshot's "self" does
    real = model.Bundle.__iter__
    monkeypatch.setattr(model.Bundle, "__iter__", lambda self: iter(list(real(self))[:-1]))
    n, divergence, problems = run_trace_seed({"core": mprog, "model": model}, "upstream", 3,
                                             100, full=True)
    assert divergence is not None and problems == []
    assert divergence.kind == "invariant" and "model" in (divergence.problems or {})
    assert divergence.states["core"] is not None  # explained in lockstep: both states


def test_the_end_of_a_batched_trace_compares_the_core_with_the_model_s_snapshot() -> None:
    mine, snaps = _model_lists()
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        assert ex.run(b"".join(batch.record(op) for op in OPS), mine) is None
        state, snap = mine[1][-1], snaps[-1]
        assert ex.agrees(state, snap)
        assert not ex.agrees(state[:1] + (state[1] + 1,) + state[2:], snap)
        for change in (_flip_closed, _detach_link, _drop_program, _bad_len, _bad_list):
            changed = copy.deepcopy(snap)
            change(changed)
            assert not ex.agrees(state, changed)
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


def test_a_digest_depth_trace_ends_with_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # len() one short: no digest reads it, the end-of-trace snapshot does
    real = model.Bundle.__len__
    monkeypatch.setattr(model.Bundle, "__len__", lambda self: max(real(self) - 1, 0))
    n, divergence, problems = run_trace_seed({"core": mprog, "model": model}, "upstream", 3,
                                             100)
    assert divergence is not None and problems == []
    assert divergence.kind == "invariant" and "model" in (divergence.problems or {})
