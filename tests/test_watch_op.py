"""The ``watch`` op: watchers in the fuzzer's vocabulary. Each backend's bundle is watched by a
watcher that keeps what it is told and reads the bundle as the op says; the answers (and, at a
trace's end, what no ``watch`` reported) are compared like any other."""
from __future__ import annotations

import random

import pytest

import mprog
import mprog.model
from mprog.differential.batched import BatchedTrial
from mprog.differential.campaign import weights_for
from mprog.differential.trial import Divergence, Trial
from mprog.ops import Generator, validate
from mprog.ops.vocabulary import WATCH_THEN

from misuse_helpers import drawn

BACKENDS = {"core": mprog, "model": mprog.model}
ZERO = {"kind": "zero"}


def _attach(p):
    return {"op": "attach", "prog": p, "flags": 0, "relative": None, "replace": None,
            "expected_revision": ZERO}


SCRIPT = [{"op": "new_prog", "as": 0}, {"op": "new_prog", "as": 1},
          {"op": "watch", "then": "query"}, _attach(0),
          {"op": "link", "as": 0, "prog": 1, "flags": 0, "relative": None,
           "expected_revision": ZERO},
          _attach(0),  # EEXIST: no change, nobody told
          {"op": "watch", "then": "iter"},
          {"op": "detach", "prog": 0, "flags": 0, "relative": None, "expected_revision": ZERO},
          {"op": "watch", "then": "len"}, {"op": "bundle_close"},
          {"op": "watch", "then": "nothing"}]


@pytest.mark.parametrize("engine", [Trial, BatchedTrial])
@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_every_backend_tells_its_watcher_alike(engine, dialect):
    trial = engine(BACKENDS, dialect, full=False)
    try:
        told = []
        for op in SCRIPT:
            answers = trial.step(op)
            assert answers["core"] == answers["model"]
            if op["op"] == "watch":
                told.append(answers["model"])
        trial.check_full()
    finally:
        trial.close()
    assert told == [
        ["ok", []],
        ["ok", [[1, 0, 2, 1, [0], ["ok", 1]], [2, 1, 3, 2, [0, 1], ["ok", 2]]]],
        ["ok", [[3, 2, 4, 1, [1], ["ok", [1]]]]],
        # told of close() once the bundle is closed: its own len() is refused
        ["ok", [[4, 1, 1, 0, [], ["raise", "ValueError"]]]],
    ]


def test_the_op_is_validated_and_skipped_where_a_backend_has_no_watchers():
    for then in WATCH_THEN:
        validate({"op": "watch", "then": then})
    with pytest.raises(ValueError, match="then"):
        validate({"op": "watch", "then": "attach"})
    with pytest.raises(ValueError, match="missing"):
        validate({"op": "watch"})
    with Trial(BACKENDS, "cgroup", full=False) as trial:  # no watchers in the cgroup dialect
        assert not trial.watches and weights_for(trial).watch == 0
        assert trial.step({"op": "watch", "then": "query"}) == {
            "core": ["skip"], "model": ["skip"]}


def test_the_generator_draws_every_kind_of_watch():
    seen = {op["then"] for op, answers in drawn("watch", traces=30, bad_input=0, watch=3)
            if answers["core"] == answers["model"]}
    assert seen == set(WATCH_THEN)


def _silent_model(monkeypatch):
    """A planted fault: the model tells its watchers of nothing but close()."""
    monkeypatch.setattr(mprog.model.Bundle, "_notify", lambda self, before: None)


def _traces_diverging(watch, traces=60):
    """How many of ``traces`` generated traces (upstream, core against model, batched and
    checked at their end, as a campaign runs them) diverge with this weight of ``watch``."""
    diverged = 0
    for seed in range(traces):
        trial = BatchedTrial(BACKENDS, "upstream")
        w = weights_for(trial, 0)
        w.watch = watch
        generator = Generator("upstream", random.Random(seed), w)
        try:
            while len(trial.ops) < 150:
                for op in generator.next(trial.view):
                    trial.step(op)
            trial.check_full()
        except Divergence as d:
            assert "watch" in {op["op"] for op in d.ops}
            diverged += 1
        finally:
            trial.close()
    return diverged


def test_a_model_that_tells_no_watcher_is_found_only_with_the_op(monkeypatch):
    _silent_model(monkeypatch)
    assert _traces_diverging(watch=2.0) >= 20
    assert _traces_diverging(watch=0.0) == 0


def test_what_no_watch_reported_is_compared_at_the_end(monkeypatch):
    _silent_model(monkeypatch)
    ops = SCRIPT[:4]  # watched, then one attach the model keeps quiet about
    for engine in (Trial, BatchedTrial):
        for full in (False, True):  # (a trace checked in full asks at its end, as campaigns do)
            trial = engine(BACKENDS, "upstream", full=full)
            try:
                for op in ops:
                    trial.step(op)
                with pytest.raises(Divergence, match="watchers were told different things"):
                    trial.check_watched() if full else trial.check_full()
            finally:
                trial.close()
