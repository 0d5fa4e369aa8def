"""The batched engine's usual step in C (``mprog._core._Stepper``) against its rule.

``BatchedTrial.step`` is the rule; in a digest-depth trace the trial's ``step`` is the
Stepper's, which takes the usual op itself and hands the rule every other. Both must leave the
trial exactly as the rule alone does, op by op, and every check of the rule must still run.
"""
from __future__ import annotations

import errno
import gc
import time

import pytest

import mprog
from mprog import _core, model
from mprog.differential.batched import BatchedTrial
from mprog.differential.trial import Divergence
from mprog.ops import Weights
from test_batched import trace

BACKENDS = {"core": mprog, "model": model}


def plain(side):
    """The arguments a queued op left aside, each trial's own objects by their type."""
    if side is None:
        return None
    return tuple(x if type(x) in (int, str, float, bool, list, dict, type(None))
                 else type(x).__name__ for x in side)


def what_it_holds(t):
    """Everything a step writes: lists, labels, the view, the queue, the kept values."""
    v = t.view
    queue = [entry[:5] + (plain(entry[5]),) for entry in t._queue]
    return (list(t.ops), list(t.answers), queue, sorted(t.prog_labels),
            sorted(t.link_labels), sorted(t.tx_labels), list(t._made), t._state, t.batching,
            v.order, v.slot_links, list(v.progs), list(v.links), dict(v.link_prog),
            sorted(v.closed_progs), sorted(v.closed_links), list(v.txs))


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_the_stepper_leaves_the_trial_as_the_rule_does(dialect, monkeypatch):
    """Default weights (bad input, literal revisions, closing the bundle: the rule's ways)
    and many transactions; after every op both trials hold the same."""
    rule = BatchedTrial.step
    handed = []

    def counted(self, op):
        handed.append(op["op"])
        return rule(self, op)

    monkeypatch.setattr(BatchedTrial, "step", counted)  # what the Stepper hands on
    total = 0
    for seed in range(24):
        weights = Weights(bundle_close=0.3, transaction=6, query=4)
        ops = trace(seed, dialect, weights, 150)
        fast = BatchedTrial(BACKENDS, dialect)
        slow = BatchedTrial(BACKENDS, dialect)
        try:
            del slow.step  # the class's step: the rule alone
            assert fast.step != slow.step
            for op in ops:
                before = len(handed)
                assert fast.step(op) == rule(slow, op)
                if len(handed) == before:  # the Stepper took it: the model's time kept too
                    assert (fast._model_seconds == 0) == (slow._model_seconds == 0)
                assert what_it_holds(fast) == what_it_holds(slow), op
            fast.check_full()
            slow.check_full()
            assert what_it_holds(fast) == what_it_holds(slow)
            total += len(ops)
        finally:
            fast.close()
            slow.close()
    # both ways ran: most ops the usual way, and the rule's ways too
    assert 0 < len(handed) < total // 4, (len(handed), total)
    assert {"bundle_close", "attach"} <= set(handed)


def test_a_change_that_is_not_the_usual_one_goes_to_the_rule(monkeypatch):
    """Planted in the model: a commit that appends steps the revision by two. The rule's
    transition check reports it at that op, as an invariant (were the Stepper to take every
    change as the usual one, only the executor would see it, later, as a state)."""
    real = model.Bundle._commit

    def commit(self, new):
        real(self, new)
        if len(new) == 3:
            self._revision += 1

    monkeypatch.setattr(model.Bundle, "_commit", commit)
    t = BatchedTrial(BACKENDS, "upstream")
    try:
        with pytest.raises(Divergence) as caught:
            for label in range(4):
                t.step({"op": "new_prog", "as": label})
                t.step({"op": "attach", "prog": label, "flags": 0, "relative": None,
                        "replace": None, "expected_revision": {"kind": "zero"}})
    finally:
        t.close()
    d = caught.value
    assert d.kind == "invariant" and "revision went 3 -> 5" in d.report(), d.report()
    assert d.op["op"] == "attach" and d.op["prog"] == 2


def test_a_protocol_violation_goes_to_the_rule(monkeypatch):
    """Planted in the model: EEXIST raised as the base class. The rule reports the model's
    protocol violation at that op."""
    real = model.Bundle.attach

    def attach(self, prog, *args, **kwargs):
        try:
            real(self, prog, *args, **kwargs)
        except mprog.errors.AlreadyAttached as e:
            raise mprog.errors.MprogError(errno.EEXIST, e.strerror, op="attach") from None

    monkeypatch.setattr(model.Bundle, "attach", attach)
    attach_op = {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
                 "expected_revision": {"kind": "zero"}}
    t = BatchedTrial(BACKENDS, "upstream")
    try:
        t.step({"op": "new_prog", "as": 0})
        t.step(attach_op)
        with pytest.raises(Divergence) as caught:
            t.step(attach_op)
    finally:
        t.close()
    assert caught.value.kind == "protocol", caught.value.report()


def test_a_stepper_outliving_its_trial_raises():
    t = BatchedTrial(BACKENDS, "upstream")
    step = t.step
    t.close()
    del t
    gc.collect()
    with pytest.raises(ReferenceError):
        step({"op": "new_prog", "as": 0})


def test_a_stepper_needs_a_trial_of_two_backends():
    with pytest.raises(AttributeError):
        _core._Stepper(object(), 8, 512, time.perf_counter)
    t = BatchedTrial(BACKENDS, "upstream")
    try:
        with pytest.raises(ValueError):
            _core._Stepper(t, 0, 512, time.perf_counter)
        with pytest.raises(TypeError):
            _core._Stepper(t, 8, 512, None)
    finally:
        t.close()
