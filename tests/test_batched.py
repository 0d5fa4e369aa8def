"""The batched engine: the core's ops run by ``mprog._core.Executor``, the model op by op.

The executor must give, op by op, exactly what the one interpreter gives for the core (so a
batched campaign compares the same things a lockstep one does), and the engine must find a
backend that differs in one op, at that op.
"""
from __future__ import annotations

import errno
import random
from collections import Counter

import pytest

import mprog
from mprog import _core, batch, model
from mprog.differential.batched import BatchedTrial, batchable
from mprog.differential.campaign import run_campaign
from mprog.differential.trial import Divergence, Trial
from mprog.ops import Generator, Interpreter, Weights, prog_refs

#: Everything records can say (no closing of the bundle, bad input, literal revision, wide
#: flag, program of another dialect), queries and transactions more often than a campaign
#: has them.
RECORDABLE = Weights(query=8, transaction=8, bundle_close=0, watch=0, bad=0,
                     revisions=(55, 25, 10, 6, 0), other_dialect=0, raw_relatives=False,
                     wide_flags=False)


def trace(seed, dialect, weights=RECORDABLE, length=200):
    """A trace the model steers (as a campaign makes them)."""
    with Trial({"model": model}, dialect, full=False) as t:
        g = Generator(dialect, random.Random(seed), weights)
        while len(t.ops) < length:
            for op in g.next(t.view):
                t.step(op)
        return list(t.ops)


def by_interpreter(ops, dialect):
    side = Interpreter("core", mprog, dialect)
    try:
        out = []
        for op in ops:
            answer = side.apply(op)
            state = side.state()
            out.append((answer, state, side.handles(op) if len(state) > 1 else ()))
        return out
    finally:
        side.close()


def by_executor(ops, dialect):
    side = Interpreter("core", mprog, dialect)
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        answers, states, handles = ex.run(b"".join(batch.record(op) for op in ops))
        return list(zip(answers, states, handles))
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_executor_answers_and_digests_as_the_interpreter_does(dialect):
    ops_seen = 0
    kinds: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for seed in range(25):
        ops = trace(seed, dialect)
        assert all(batch.record(op) is not None for op in ops)
        ops_seen += len(ops)
        expected, got = by_interpreter(ops, dialect), by_executor(ops, dialect)
        for i, (e, g) in enumerate(zip(expected, got)):
            assert e == g, (seed, i, ops[i], e, g)
        assert len(expected) == len(got)
        kinds.update(op["op"] for op in ops)
        answers.update(str(e[0][:2]) for e, op in zip(expected, ops) if op["op"] == "query")
    assert ops_seen >= 25 * 200
    # queries (ENOSPC with its partial result too) and every op of a transaction were run
    assert {"query", "tx_begin", "tx_attach", "tx_detach", "tx_commit", "tx_discard"} <= set(kinds)
    assert "['err', 'ENOSPC']" in answers and any(a.startswith("['ok', {") for a in answers)


def test_executor_reuses_the_state_while_the_chain_does_not_change():
    ops = [{"op": "new_prog", "as": 0},
           {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}},
           {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}}]  # EEXIST: nothing changes
    answers, states, _ = zip(*by_executor(ops, "upstream"))
    assert answers == (["ok", 0], ["ok", None], ["err", "EEXIST"])
    assert states[0] == (1, 0, (), (), (), ())
    assert states[1] == (2, 1, (0,), (None,), (0,), (0,)) and states[2] is states[1]


def test_record_says_none_for_what_it_cannot_say():
    attach = {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
              "expected_revision": {"kind": "zero"}}
    assert batch.record(attach) is not None
    assert batch.record({**attach, "prog": {"kind": "bad", "value": "str"}}) is None
    assert batch.record({**attach, "flags": 1 << 32}) is None
    assert batch.record({**attach, "expected_revision": {"kind": "value", "value": 1}}) is None
    assert batch.record({**attach, "relative": {"kind": "id_raw", "value": 0x7FFFFFFE}}) is None
    assert batch.record({**attach, "relative": {"kind": "id_raw", "value": 0xFFFFFFF0}})
    assert batch.record({"op": "query", "count": {"kind": "none"}, "effective": True}) is None
    assert batch.record({"op": "query", "count": {"kind": "value", "value": -1}}) is None
    assert batch.record({"op": "query", "count": {"kind": "bad", "value": "str"}}) is None
    assert batch.record({"op": "tx_begin", "as": 0,
                         "expected_revision": {"kind": "value", "value": 3}}) is None
    assert batch.record({"op": "bundle_close"}) is None
    # what the executor alone runs: queries and the ops of a transaction
    assert batch.record({"op": "query", "count": {"kind": "value", "value": 2**32 - 1}})
    assert batch.record({"op": "tx_begin", "as": 0, "expected_revision": {"kind": "stale"}})
    assert batch.record({**attach, "op": "tx_attach", "tx": 0})
    assert batch.record({"op": "tx_commit", "tx": 0})


def test_the_executor_refuses_a_cgroup_bundle_and_stops_at_a_malformed_record():
    with mprog.Bundle(dialect="cgroup") as b, pytest.raises(ValueError, match="cgroup"):
        _core.Executor(b, errno.errorcode)
    with mprog.Bundle() as b:
        ex = _core.Executor(b, errno.errorcode)
        answers, states, handles = ex.run(batch.record({"op": "link_close", "link": 0})
                                          + batch.record({"op": "new_prog", "as": 0}))
        assert len(answers) == len(states) == len(handles) == 1  # the run stopped there
        assert answers[0][0] == "malformed" and "record 0" in answers[0][1]
        assert len(ex.programs) == 0  # nothing after it ran
        with pytest.raises(ValueError, match="16 bytes"):
            ex.run(b"x")


def test_only_core_against_model_on_a_chain_is_batched():
    assert batchable({"core": mprog, "model": model}, "upstream")
    assert batchable({"model": model, "core": mprog}, "v2")
    assert not batchable({"core": mprog, "model": model}, "cgroup")
    assert not batchable({"core": mprog, "model": model, "m2": model}, "upstream")
    assert not batchable({"model": model, "m2": model}, "upstream")


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_batched_trial_runs_the_default_campaign_ops_without_divergence(dialect):
    """Default weights, and the bundle closed now and then (op by op between batches, as a
    query given a bad count is; queries, transactions and bad input are batched)."""
    batched = lockstep = 0
    for seed in range(12):
        ops = trace(seed, dialect, Weights(bundle_close=0.5), 150)
        with BatchedTrial({"core": mprog, "model": model}, dialect) as t:
            calls = []
            t.executor = _Counting(t.executor, calls)
            t.run(ops)
            t.check_full()
            batched += sum(calls)
            lockstep += len(ops) - sum(calls)
    assert batched > 5 * lockstep > 0


class _Counting:
    """An executor that counts the records it runs."""

    def __init__(self, executor, calls):
        self._executor, self._calls = executor, calls
        self.programs, self.links = executor.programs, executor.links

    def check(self, queue, snapshots=None):
        self._calls.append(len(queue))
        return self._executor.check(queue, snapshots)

    def agrees(self, state, snapshot):
        return self._executor.agrees(state, snapshot)

    def close_made(self, name):
        return self._executor.close_made(name)


def _steps_to_divergence(modules, seeds=range(60)):
    for seed in seeds:
        ops = trace(seed, "upstream", Weights(), 150)
        with BatchedTrial(modules, "upstream") as t:
            try:
                t.run(ops)
                t.check_full()
            except Divergence as d:
                return ops, d
    return None, None


def test_a_model_that_answers_one_op_wrongly_is_found_at_that_op(monkeypatch):
    """Planted in the reference: detach by program with AFTER answers EINVAL."""
    real = model.Bundle.detach
    after = mprog.Flag.AFTER

    def detach(self, prog=None, flags=0, relative=None, expected_revision=0):
        if prog is not None and flags == after:
            raise mprog.errors.error(errno.EINVAL, "detach", "planted")
        return real(self, prog, flags, relative, expected_revision)

    monkeypatch.setattr(model.Bundle, "detach", detach)
    ops, d = _steps_to_divergence({"core": mprog, "model": model})
    assert d is not None, "the planted bug was not found"
    assert d.kind == "answer" and d.op["op"] == "detach" and d.op["flags"] == after
    assert d.answers[-1]["model"] == ["err", "EINVAL"] != d.answers[-1]["core"]
    assert d.ops == ops[:len(d.ops)]


def test_a_core_that_differs_in_one_op_is_found_at_that_op():
    """Planted on the core's side of a batch: one queued op's program is closed behind the
    engine's back (the model still holds it open), so only the executor's run differs."""
    for seed in range(40):
        ops = trace(seed, "upstream", RECORDABLE, 150)
        # the first attach of a program after which the trace attaches it no more
        t = BatchedTrial({"core": mprog, "model": model}, "upstream")
        try:
            for i, op in enumerate(ops):
                t.step(op)
                if op["op"] == "new_prog" and i > 20:
                    victim = op["as"]
                    break
            else:
                continue
            if not any(ops[j]["op"] == "attach" and ops[j]["prog"] == victim
                       for j in range(i + 1, len(ops))):
                continue
            t.flush()
            t.executor.programs[victim].close()  # the core alone now answers EBADF for it
            with pytest.raises(Divergence) as caught:
                t.run(ops[i + 1:])
                t.check_full()
            d = caught.value
            # found at the first op whose answer the closed handle changes
            assert d.kind == "answer" and victim in prog_refs(d.op), d.report()
            assert d.answers[-1]["core"] == ["err", "EBADF"] != d.answers[-1]["model"]
            assert d.ops == ops[:len(d.ops)]
            return
        finally:
            t.close()
    pytest.fail("no trace attaches a program made after op 20")


def test_a_link_only_the_model_made_is_reported_where_it_was_made():
    """Planted on the core's side: its program is closed behind the engine's back, so the
    core refuses the link the model makes. The queued ops after it name that link, which the
    core does not have: the divergence is the link op's answer, not an error of the engine."""
    ops = [{"op": "link", "as": 0, "prog": 0, "flags": 0, "relative": None,
            "expected_revision": {"kind": "zero"}},
           {"op": "link_detach", "link": 0},
           {"op": "link_close", "link": 0}]
    t = BatchedTrial({"core": mprog, "model": model}, "upstream")
    try:
        t.step({"op": "new_prog", "as": 0})
        t.flush()
        t.executor.programs[0].close()  # the core alone now answers EBADF for it
        with pytest.raises(Divergence) as caught:
            t.run(ops)
            t.check_full()
    finally:
        t.close()
    d = caught.value
    assert d.kind == "answer" and d.op["op"] == "link", d.report()
    assert d.answers[-1]["core"] == ["err", "EBADF"] and d.answers[-1]["model"][0] == "ok"


def test_campaign_uses_the_batched_engine_and_finds_nothing_on_healthy_backends():
    result = run_campaign({"core": mprog, "model": model}, "upstream", traces=40, seed=9,
                          out=None)
    assert result.divergences == 0, [f.divergence.report() for f in result.found]
    assert result.full_traces == 3 and result.ops > 40 * 150


def test_a_batched_trace_closes_what_the_executor_made_without_handing_it_over():
    """The core's interpreter is handed the executor's objects only when something reads them
    there (an op run op by op, a full read, a report); closing the trial closes them all."""
    ops = [op for op in trace(3, "upstream", RECORDABLE, 150)
           if op["op"] in ("new_prog", "attach", "link", "detach", "query")]
    t = BatchedTrial({"core": mprog, "model": model}, "upstream")
    t.run(ops)
    t.check_full()
    made = [o for o in list(t.executor.programs) + list(t.executor.links) if o is not None]
    assert len(made) > 20 and not t.core.progs and not t.core.links
    assert t.close() == []
    assert all(o.closed for o in made)
