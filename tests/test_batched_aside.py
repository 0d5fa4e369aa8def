"""Arguments a record cannot hold go beside it: bad input, literal revisions, flags beyond 32
bits and raw ids beyond 16 bits (``mprog.batch.record_aside``).

The executor then passes the very objects the core's interpreter would pass, so a batched
trace answers as a lockstep one does, and a backend that answers one such op differently is
found at that op.
"""
from __future__ import annotations

import errno

import pytest

import mprog
from mprog import _core, batch, model
from mprog.differential.batched import BatchedTrial
from mprog.differential.trial import Divergence, Trial
from mprog.ops import Interpreter, Weights
from test_batched import trace

ATTACH = {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
          "expected_revision": {"kind": "zero"}}
BAD = {"kind": "bad", "value": "foreign_prog"}

#: Odd arguments often: bad input in one op in five, literal revisions, wide flags, raw ids.
ODD = Weights(bad=20.0, bundle_close=0, revisions=(50, 20, 10, 6, 14))


def test_record_aside_leaves_out_exactly_what_records_cannot_hold():
    said = batch.record(ATTACH)
    # what record() says as it is: nothing to leave aside
    assert batch.record_aside(ATTACH) is None
    cases = [
        ({"prog": BAD}, batch.ASIDE_PROG, ("prog",)),
        ({"flags": 1 << 32}, batch.ASIDE_FLAGS, ("flags",)),
        ({"flags": -1}, batch.ASIDE_FLAGS, ("flags",)),
        ({"relative": {"kind": "id_raw", "value": 0x7FFFFFFE}}, batch.ASIDE_RELATIVE,
         ("relative",)),
        ({"relative": {"kind": "bad", "value": "foreign_link"}}, batch.ASIDE_RELATIVE,
         ("relative",)),
        ({"replace": {"kind": "int", "value": 0}}, batch.ASIDE_OTHER, ("replace",)),
        ({"expected_revision": {"kind": "value", "value": 2**64 - 1}}, batch.ASIDE_REVISION,
         ("expected_revision",)),
        ({"prog": BAD, "expected_revision": {"kind": "bad", "value": "neg"}},
         batch.ASIDE_PROG | batch.ASIDE_REVISION, ("prog", "expected_revision")),
    ]
    for change, mask, keys in cases:
        rec, aside = batch.record_aside({**ATTACH, **change})
        assert aside == keys and rec[3] == mask
        # the other fields as record() says them; the ones aside neutral
        neutral = batch.record({**ATTACH, **{k: batch._NEUTRAL[k] for k in keys}})
        assert rec[:3] + rec[4:] == neutral[:3] + neutral[4:]
    assert said[3] == 0
    # a replace naming a link (resolved only by the executor's lists), and ops never aside
    assert batch.record_aside({**ATTACH, "replace": {"kind": "link", "ref": 0}}) is None
    assert batch.record_aside({"op": "query", "count": {"kind": "bad", "value": "neg"}}) is None
    assert batch.record_aside({"op": "prog_close", "prog": BAD}) is None
    assert batch.record_aside({"op": "bundle_close"}) is None
    # an op not of the vocabulary's form (a key missing, a spec that is no dict): op by op,
    # as record() says None for it
    assert batch.record_aside({"op": "attach", "prog": BAD, "flags": 0}) is None
    assert batch.record_aside({**ATTACH, "prog": BAD, "expected_revision": 3}) is None
    assert batch.record_aside({**ATTACH, "prog": BAD, "relative": {"kind": "id_raw"}}) is None
    rec, aside = batch.record_aside({"op": "update", "link": 1, "new_prog": BAD, "flags": 0,
                                     "old_prog": {"kind": "bad", "value": "str"}})
    assert aside == ("new_prog", "old_prog") and rec[3] == batch.ASIDE_PROG | batch.ASIDE_OTHER


def test_the_executor_refuses_a_record_with_arguments_aside_but_no_side_tuple():
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        rec, _ = batch.record_aside({**ATTACH, "prog": BAD, "flags": 1 << 32})
        answers, _, _ = ex.check([(rec, ["raise", "TypeError"], None, ())], None)
        assert answers[-1][0] == "malformed" and "aside" in answers[-1][1]
        # with one: the objects given are passed (another backend's program: TypeError)
        side_tuple = (side.argument("prog", BAD), side.argument("flags", 1 << 32))
        answers, _, _ = ex.check([(rec, None, None, (), 0, side_tuple)], None)
        assert answers == [["raise", "TypeError"]]
    finally:
        side.adopt(ex.programs, ex.links)
        side.close()


def _trace(seed, dialect, length=300):
    return trace(seed, dialect, ODD, length)


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_odd_arguments_are_batched_and_answer_as_in_lockstep(dialect, monkeypatch):
    aside = lockstep = 0
    real_lockstep = BatchedTrial._lockstep

    def counting(self, op):
        nonlocal lockstep
        # (the ops that are bad input themselves, of no argument: op by op by design)
        lockstep += op["op"] not in ("unmade_use", "assign")
        return real_lockstep(self, op)

    monkeypatch.setattr(BatchedTrial, "_lockstep", counting)
    for seed in range(8):
        ops = _trace(seed, dialect)
        aside += sum(batch.record(op) is None and batch.record_aside(op) is not None
                     for op in ops)
        with Trial({"core": mprog, "model": model}, dialect, full=False) as t:
            t.run(ops)
            expected = t.answers
        with BatchedTrial({"core": mprog, "model": model}, dialect) as b:
            b.run(ops)
            b.check_full()
            assert b.answers == expected
    assert aside > 100  # bad input, literal revisions, wide flags and raw ids came up
    assert lockstep < aside / 4  # and nearly all of them were batched


def test_a_model_that_answers_bad_input_wrongly_is_found_at_that_op(monkeypatch):
    """Planted in the reference: flags that are no int raise ValueError, not TypeError.
    Only ops with bad flags differ, and those are batched: the executor must find it."""
    from mprog.model import naming

    real = naming.check_int

    def check_int(value, name, *args):
        if name == "flags" and type(value) is not int:
            raise ValueError("planted")
        return real(value, name, *args)

    monkeypatch.setattr(naming, "check_int", check_int)
    for seed in range(40):
        ops = _trace(seed, "upstream", 200)
        try:  # where a lockstep trial finds it
            with Trial({"core": mprog, "model": model}, "upstream", full=False) as t:
                t.run(ops)
            continue
        except Divergence as d:
            expected = d
        with BatchedTrial({"core": mprog, "model": model}, "upstream") as b:
            with pytest.raises(Divergence) as caught:
                b.run(ops)
                b.check_full()
        d = caught.value
        assert d.kind == "answer" and isinstance(d.op["flags"], dict), d.report()
        assert d.answers[-1]["model"] == ["raise", "ValueError"] != d.answers[-1]["core"]
        assert d.ops == expected.ops and d.answers[-1] == expected.answers[-1]
        return
    pytest.fail("no trace had bad flags")
