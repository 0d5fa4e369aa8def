"""The one operation vocabulary (``mprog.ops``): validating, describing, relabeling, and the
interpreter running the same ops (transactions and bad input included) on core and model."""
from __future__ import annotations

import random

import pytest

import mprog
from mprog import model
from mprog.ops import (BAD_VALUES, Generator, Interpreter, View, Weights, describe, relabel,
                       validate)
from mprog.differential.trial import Trial

REV0 = {"kind": "zero"}


def attach(prog, flags=0, relative=None, **kw):
    return dict({"op": "attach", "prog": prog, "flags": flags, "relative": relative,
                 "replace": None, "expected_revision": REV0}, **kw)


@pytest.mark.parametrize("bad, why", [
    ([], "JSON object"),
    ({"op": "nope"}, "unknown op"),
    ({"op": "attach", "prog": 0}, "missing"),
    (attach("zero"), "program label"),
    (attach(0, flags="x"), "'flags' must be an int"),
    (attach(0, relative={"kind": "prog"}), "needs an int 'ref'"),
    (attach(0, relative={"kind": "weird"}), "must be one of"),
    (attach({"kind": "bad", "value": "nope"}), "unknown bad value"),
    ({"op": "tx_commit", "tx": None}, "must be a label"),
])
def test_validate_names_what_is_wrong(bad, why):
    with pytest.raises(ValueError, match=why):
        validate(bad)


def test_describe_transactions_and_bad_input():
    assert describe({"op": "tx_begin", "as": 2, "expected_revision": REV0}) == "t2 = transaction()"
    op = dict(attach(1, 8, {"kind": "prog", "ref": 0}), op="tx_attach", tx=2)
    assert describe(op) == "t2.attach(p1, BEFORE, rel=p0)"
    assert describe(attach({"kind": "bad", "value": "float"})) == "attach(<float>, 0)"
    assert describe({"op": "tx_commit", "tx": 0}) == "t0.commit()"


def test_relabel_renumbers_transactions_too():
    ops = [{"op": "new_prog", "as": 5}, {"op": "tx_begin", "as": 7, "expected_revision": REV0},
           dict(attach(5), op="tx_attach", tx=7), {"op": "tx_commit", "tx": 7}]
    out = relabel(ops)
    assert [op.get("as", op.get("tx")) for op in out] == [0, 0, 0, 0]
    assert out[2]["prog"] == 0


def run_both(ops):
    sides = [Interpreter("core", mprog, "upstream"), Interpreter("model", model, "upstream")]
    try:
        outcomes = [[s.apply(op) for op in ops] for s in sides]
        digests = [s.digest() for s in sides]
    finally:
        for s in sides:
            s.close()
    return outcomes, digests


def test_transaction_ops_run_alike_on_core_and_model():
    ops = [{"op": "new_prog", "as": 0}, {"op": "new_prog", "as": 1}, attach(0),
           {"op": "tx_begin", "as": 0, "expected_revision": REV0},
           dict(attach(1), op="tx_attach", tx=0),
           dict(attach(1), op="tx_attach", tx=0),  # EEXIST on the staged chain
           {"op": "tx_detach", "tx": 0, "prog": 0, "flags": 0, "relative": None,
            "expected_revision": REV0},
           {"op": "tx_commit", "tx": 0}, {"op": "tx_commit", "tx": 0}]
    (core, ref), (d1, d2) = run_both(ops)
    assert core == ref
    assert core[5] == ["err", "EEXIST"] and core[7] == ["ok", None]
    assert core[8] == ["raise", "ValueError"]  # already committed
    assert d1 == d2 and d1[2] == (1,) and d1[0] == 3  # one change for the whole transaction


def test_commit_after_the_chain_moved_is_stale():
    ops = [{"op": "new_prog", "as": 0}, {"op": "new_prog", "as": 1},
           {"op": "tx_begin", "as": 0, "expected_revision": REV0},
           dict(attach(1), op="tx_attach", tx=0), attach(0), {"op": "tx_commit", "tx": 0}]
    (core, ref), _ = run_both(ops)
    assert core == ref and core[-1] == ["err", "ESTALE"]


def test_a_closed_program_staged_then_committed_is_found_by_id_again():
    """docs/lifetimes.md rule 6, asked at each lookup: only staged, a closed program is not
    found by id; committed into the chain, it is (the model once forgot it for good)."""
    by_id = {"op": "new_prog", "as": 1}, dict(attach(1), flags=(1 << 3) | (1 << 5),
                                              relative={"kind": "id_prog", "ref": 0})
    ops = [{"op": "new_prog", "as": 0},
           {"op": "tx_begin", "as": 0, "expected_revision": REV0},
           dict(attach(0), op="tx_attach", tx=0),
           {"op": "prog_close", "prog": 0},
           *by_id,  # BEFORE|ID p0: not found while only staged
           {"op": "tx_commit", "tx": 0},
           by_id[1]]  # now p0 is in the chain: p1 goes before it
    (core, ref), _ = run_both(ops)
    assert core == ref
    assert core[5] == ["err", "ENOENT"] and core[6] == ["ok", None] and core[7][0] == "ok"


def test_bad_values_reach_the_backend():
    side = Interpreter("model", model, "upstream")
    try:
        for name in BAD_VALUES:
            out = side.apply(attach({"kind": "bad", "value": name}))
            assert out[0] in ("raise", "err"), (name, out)
    finally:
        side.close()


def test_trial_skips_transactions_where_a_backend_has_none():
    class NoTx:  # a backend module whose bundles have no transaction()
        Program = model.Program
        DIALECTS = model.DIALECTS

        class Bundle(model.Bundle):
            def transaction(self, *a, **k):
                raise NotImplementedError

    with Trial({"model": model, "notx": NoTx}, "upstream") as trial:
        assert not trial.transactions
        answers = trial.step({"op": "tx_begin", "as": 0, "expected_revision": REV0})
        assert set(map(tuple, answers.values())) == {("skip",)}


@pytest.mark.parametrize("full", [True, False])
def test_generated_traces_cover_the_vocabulary(full):
    seen = set()
    with Trial({"core": mprog, "model": model}, "upstream", full=full) as trial:
        gen = Generator("upstream", random.Random(3), Weights())
        while len(trial.ops) < 3000:
            for op in gen.next(trial.view):
                trial.step(op)
                seen.add(op["op"])
    assert {"tx_begin", "tx_attach", "tx_detach", "tx_commit", "query", "update",
            "link_close"} <= seen


def test_view_is_what_the_backends_agree_on():
    with Trial({"core": mprog, "model": model}, "upstream", full=False) as trial:
        gen = Generator("upstream", random.Random(8))
        while len(trial.ops) < 500:
            for op in gen.next(trial.view):
                trial.step(op)
        state = trial.state
        assert list(trial.view.order) == state["chain"]["progs"]
        assert isinstance(trial.view, View)


def test_bad_input_campaign_agrees_and_reaches_the_backends():
    """Bad input is on by default; with more of it, core and model still answer alike, and
    the bad arguments do reach the backends (TypeError/ValueError answers are seen)."""
    from mprog.differential.campaign import run_campaign

    seen = []
    result = run_campaign({"core": mprog, "model": model}, "upstream", traces=40, seed=2,
                          out=None, minimize=False, bad_input=20)
    assert result.divergences == 0, [f.divergence.report() for f in result.found]
    with Trial({"core": mprog, "model": model}, "upstream", full=False) as trial:
        gen = Generator("upstream", random.Random(6), Weights(bad=20))
        while len(trial.ops) < 600:
            for op in gen.next(trial.view):
                seen.append(trial.step(op)["core"][0])
    assert "raise" in seen


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_a_small_int_of_bad_input_under_id_names_no_object(dialect):
    """``True`` (the bad value ``bool``) as a relative under ID is id 1: whatever object has
    that number in each backend (model and oracle agreed, the core's id 1 was gone: a
    divergence of numbering, not of rules). It becomes an id nobody has, as a small int
    does; without ID it stays what it is (a handle's type is checked then)."""
    from mprog.ops.vocabulary import NO_SUCH_ID, disambiguate, flag

    ID, LINK, AFTER = (flag(dialect, n) for n in ("ID", "LINK", "AFTER"))
    for flags in (AFTER | ID, AFTER | ID | LINK):
        op = {"op": "detach", "prog": None, "flags": flags,
              "relative": {"kind": "bad", "value": "bool"},
              "expected_revision": {"kind": "zero"}}
        assert disambiguate(op, dialect)["relative"] == {"kind": "id_raw", "value": NO_SUCH_ID}
    op = {"op": "detach", "prog": None, "flags": AFTER,
          "relative": {"kind": "bad", "value": "bool"}, "expected_revision": {"kind": "zero"}}
    assert disambiguate(op, dialect) is op


def test_v2_replace_under_id_is_numbered_like_a_relative():
    """v2 resolves an attach's replace= under REPLACE as a relative: a small int under ID names
    whatever object has that number in each backend (a harness input found core ENOENT and
    model EINVAL for ``replace=5``: the model had an object 5, the core not). It becomes an id
    nobody has; upstream's replace= is a program handle (no id), left as it is."""
    from mprog.ops.vocabulary import NO_SUCH_ID, disambiguate, flag

    def attach(dialect, flags, replace):
        return {"op": "attach", "prog": 1, "flags": flags, "relative": None,
                "replace": replace, "expected_revision": {"kind": "zero"}}

    R, ID, LINK = (flag("v2", n) for n in ("REPLACE", "ID", "LINK"))
    for flags, replace in ((R | ID, {"kind": "int", "value": 5}),
                           (R | ID | LINK, {"kind": "prog", "ref": 0}),
                           (R | ID, {"kind": "link", "ref": 0}),
                           (R | ID, {"kind": "bad", "value": "bool"})):
        got = disambiguate(attach("v2", flags, replace), "v2")
        assert got["replace"] == {"kind": "id_raw", "value": NO_SUCH_ID}, (flags, replace)
    for flags, replace in ((R | ID, {"kind": "prog", "ref": 0}),  # a program under ID: itself
                           (ID, {"kind": "int", "value": 5})):  # no REPLACE: replace= unread
        op = attach("v2", flags, replace)
        assert disambiguate(op, "v2") is op
    up = attach("upstream", flag("upstream", "REPLACE") | flag("upstream", "ID"),
                {"kind": "int", "value": 5})
    assert disambiguate(up, "upstream") is up
    held = attach("v2", R | ID, {"kind": "int", "value": 5})  # records: one backend runs them
    assert disambiguate(held, "v2", raw=False) is held
