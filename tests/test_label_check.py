"""The batched engine's check before it queues an op (``mprog._core.label_check``, in C++):
``known(op)`` is ``not Trial._skips(op)`` (the lockstep rule: every label an op names exists,
what it makes does not yet), plus the batched engine's own rule that what an op makes is the
next label (a position in the executor's lists), for every op a record can say."""
import copy
import random

import pytest

import mprog
from mprog import _core, model
from mprog.batch import record, record_aside
from mprog.differential.batched import BatchedTrial
from mprog.differential.campaign import weights_for
from mprog.ops import Generator

LABELS = [0, 1, 2, 3, 5, 30, 999, None, True, {"kind": "bad", "value": "str"}]


def _perturbed(op, rng):
    """``op`` with some of its labels replaced: unknown, known, None, a bool, bad input."""
    op = copy.deepcopy(op)
    for key in ("prog", "as", "link", "tx", "new_prog", "old_prog"):
        if key in op and rng.random() < 0.3:
            op[key] = rng.choice(LABELS)
    for key in ("relative", "replace"):
        spec = op.get(key)
        if isinstance(spec, dict) and "ref" in spec and rng.random() < 0.3:
            spec["ref"] = rng.choice(LABELS[:7])
        if key in op and rng.random() < 0.1:
            op[key] = rng.choice([None, {"kind": "prog", "ref": 1}, {"kind": "id_link", "ref": 0},
                                  {"kind": "link", "ref": 2}, {"kind": "id_raw", "value": 3}])
    return op


#: The fields that name a program where it may also be None or bad input.
PROGRAM_FIELDS = {"attach": ("prog",), "link": ("prog",), "detach": ("prog",),
                  "tx_attach": ("prog",), "tx_detach": ("prog",),
                  "update": ("new_prog", "old_prog"), "prog_close": ("prog",)}


def _expected(trial, op):
    kind = op["op"]
    if kind == "new_prog" and op["as"] != trial._made[0]:
        return False
    if kind == "link" and op["as"] != trial._made[1]:
        return False
    # a program is an int label, None or bad input (a dict); a bool is none of them, where
    # Trial._skips leaves it to the backends: op by op then
    if any(type(op[k]) not in (int, type(None), dict) for k in PROGRAM_FIELDS.get(kind, ())):
        return False
    return not trial._skips(op)


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_known_is_not_skipped_and_makes_the_next_label(dialect):
    rng = random.Random(3)
    checked = unknown = 0
    for seed in range(12):
        trial = BatchedTrial({"core": mprog, "model": model}, dialect)
        try:
            g = Generator(dialect, random.Random(seed), weights_for(trial, 5.0))
            while len(trial.ops) < 120:
                for op in g.next(trial.view):
                    for variant in [op] + [_perturbed(op, rng) for _ in range(3)]:
                        if record(variant) is None and record_aside(variant) is None:
                            continue  # op by op: the check is not asked
                        want = _expected(trial, variant)
                        assert trial._known(variant) is want, (variant, trial.prog_labels,
                                                               trial.link_labels, trial._made)
                        checked += 1
                        unknown += not want
                    trial.step(op)
        finally:
            trial.close()
    assert checked > 3000 and unknown > 300


def test_a_transaction_s_op_needs_transactions_and_the_sets_are_read_at_each_call():
    progs, links, txs, made = set(), set(), {0}, [0, 0]
    with_tx = _core.label_check(progs, links, txs, made, True)
    without = _core.label_check(progs, links, txs, made, False)
    commit = {"op": "tx_commit", "tx": 0}
    assert with_tx(commit) and not without(commit)
    assert not with_tx({"op": "tx_begin", "as": 0, "expected_revision": {"kind": "zero"}})
    new = {"op": "new_prog", "as": 0}
    assert with_tx(new)
    progs.add(0)
    assert not with_tx(new)  # made already
    made[0] = 1
    assert with_tx({"op": "new_prog", "as": 1}) and not with_tx(new)
    close = {"op": "prog_close", "prog": 1}
    assert not with_tx(close)
    progs.add(1)
    assert with_tx(close)


@pytest.mark.parametrize("args", [
    (), ([], set(), set(), [0, 0], True), (set(), set(), set(), [0], True),
    (set(), set(), set(), [0, 0], 1),
])
def test_label_check_refuses_what_it_cannot_read(args):
    with pytest.raises(TypeError):
        _core.label_check(*args)


def test_an_op_not_of_the_vocabulary_s_form_raises_as_indexing_it_does():
    known = _core.label_check(set(), set(), set(), [0, 0], True)
    with pytest.raises(KeyError):
        known({"op": "attach"})
    with pytest.raises(TypeError):
        known([])


def test_a_bool_as_the_program_prog_close_closes_is_left_to_the_interpreters():
    """``prog_close`` of ``True``: no label (every backend refuses it with TypeError). The
    check called it label 1, so the batched core leg closed program 1 (["ok", None]) where
    the model said TypeError: a divergence of the engine's own making."""
    from mprog.differential.trial import Trial

    ops = [{"op": "new_prog", "as": 0}, {"op": "new_prog", "as": 1},
           {"op": "prog_close", "prog": True},
           {"op": "attach", "prog": 1, "flags": 0, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}}]
    backends = {"core": mprog, "model": model}
    with BatchedTrial(backends, "upstream") as batched, Trial(backends, "upstream") as lockstep:
        assert not batched._known(ops[2])
        batched.run(ops)
        batched.check_full()
        lockstep.run(ops)
        assert batched.answers == lockstep.answers
        assert batched.answers[2]["core"] == ["raise", "TypeError"]
