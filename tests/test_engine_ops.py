"""The engine's handling of ops a campaign runs op by op or the executor runs alone."""
from __future__ import annotations

import mprog
from mprog import model
from mprog.differential.trial import Trial
from mprog.ops import Interpreter
from mprog.ops.vocabulary import BAD_VALUES
import errno
from mprog import _core, batch


def test_closing_bad_input_in_place_of_a_program_is_a_type_error_on_every_backend():
    """prog_close with bad input: no Program of the backend to close (docs/protocol.md,
    "Handles"), so TypeError, never a crash, and nothing changes."""
    for name in BAD_VALUES:
        op = {"op": "prog_close", "prog": {"kind": "bad", "value": name}}
        with Trial({"core": mprog, "model": model}, "upstream") as t:
            t.step({"op": "new_prog", "as": 0})
            answers = t.step(op)
            assert answers == {"core": ["raise", "TypeError"], "model": ["raise", "TypeError"]}
            assert t.states["core"]["progs"] == {0: False}


def test_a_foreign_program_stays_open_after_a_bad_prog_close():
    side = Interpreter("core", mprog, "upstream")
    try:
        assert side.apply({"op": "prog_close",
                           "prog": {"kind": "bad", "value": "foreign_prog"}}) == ["raise",
                                                                                  "TypeError"]
        foreign = side._foreign.get("prog")
        assert foreign is None or not foreign.closed
    finally:
        assert side.close() == []


def test_the_cores_handle_states_read_what_its_properties_say():
    """The full snapshot reads the core's handles in one call: the same as property by
    property (closed programs, attached/detached/closed links, a link's program, iteration)."""
    from mprog import _core
    b = mprog.Bundle()
    progs = [mprog.Program(name=f"p{i}") for i in range(4)]
    try:
        b.attach(progs[0])
        links = [b.link(progs[1]), b.link(progs[2])]
        links[0].detach()
        links[1].update(progs[3])
        progs[2].close()
        closed, link_states, ids = _core.handle_states(progs, links, b)
        assert closed == [p.closed for p in progs] == [False, False, True, False]
        assert link_states == [(link.attached, link.closed, link.prog.id) for link in links]
        assert link_states[0][0] is False and link_states[1][0] is True
        assert ids == [p.id for p in b] == [progs[0].id, progs[3].id]
        links[0].close()
        assert _core.handle_states([], links, None)[1][0] == (False, True, progs[1].id)
        assert _core.handle_states([], [], None)[2] is None
    finally:
        for link in links:
            link.close()
        b.close()


def test_a_snapshot_of_the_core_equals_the_model_s_after_the_same_ops():
    core, other = Interpreter("core", mprog, "upstream"), Interpreter("model", model, "upstream")
    ops = [{"op": "new_prog", "as": i} for i in range(3)] + [
        {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
         "expected_revision": {"kind": "zero"}},
        {"op": "link", "as": 0, "prog": 1, "flags": 0, "relative": None,
         "expected_revision": {"kind": "zero"}},
        {"op": "prog_close", "prog": 2}, {"op": "bundle_close"}]
    try:
        for op in ops:
            assert core.apply(op) == other.apply(op)
            assert core.snapshot() == other.snapshot()
        assert core.snapshot()["links"] == {0: [False, False, 1]}
    finally:
        assert core.close() == [] and other.close() == []


def test_a_full_chain_is_told_apart_from_a_bad_position_by_every_leg():
    """Upstream answers both a full chain and a position past its end with ERANGE: the answer
    says which (ChainFull adds "full"), in the interpreter and in the executor alike."""
    attach = {"op": "attach", "flags": 0, "relative": None, "replace": None,
              "expected_revision": {"kind": "zero"}}
    ops = ([{"op": "new_prog", "as": i} for i in range(65)]
           + [{**attach, "prog": i} for i in range(64)]
           + [{"op": "detach", "prog": None, "flags": 0, "relative": None,
               "expected_revision": {"kind": "zero"}}])
    want = [["err", "ERANGE", "full"], ["err", "ERANGE"]]  # 64th attach; detach(None) at 63
    for backend in (mprog, model):
        side = Interpreter("side", backend, "upstream")
        try:
            assert [side.apply(op) for op in ops][-2:] == want
        finally:
            assert side.close() == []
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        assert ex.run(b"".join(batch.record(op) for op in ops))[0][-2:] == want
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


def test_a_campaign_puts_the_garbage_collector_back_as_it_found_it():
    import gc
    from mprog.differential.campaign import run_campaign
    before = gc.get_threshold(), gc.get_freeze_count()
    run_campaign({"core": mprog, "model": model}, traces=2, seed=1, out=None, minimize=False)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_executor_compares_with_the_model_s_lists_and_stops_at_the_first_difference():
    attach = {"op": "attach", "flags": 0, "relative": None, "replace": None,
              "expected_revision": {"kind": "zero"}}
    ops = ([{"op": "new_prog", "as": i} for i in range(3)]
           + [{**attach, "prog": i} for i in (0, 1, 1, 2)])
    other = Interpreter("model", model, "upstream")
    try:
        mine = ([], [], [])
        for op in ops:
            mine[0].append(other.apply(op))
            mine[1].append(other.state())
            mine[2].append(other.handles(op))
    finally:
        assert other.close() == []
    records = b"".join(batch.record(op) for op in ops)
    for change, at in ((None, None), ("answer", 5), ("state", 4), ("state", 6)):
        side = Interpreter("core", mprog, "upstream")
        ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
        want = ([list(a) for a in mine[0]], list(mine[1]), list(mine[2]))
        if change == "answer":
            want[0][at] = ["ok", None]  # the model said EEXIST
        elif change == "state":
            want[1][at] = want[1][at][:1] + (99,) + want[1][at][2:]
        try:
            got = ex.run(records, want)
            if change is None:
                assert got is None
            else:
                assert got is not None and len(got[0]) == at + 1  # up to the difference
                assert got[0][:at] == want[0][:at] and got[1][:at] == want[1][:at]
        finally:
            side.adopt(ex.programs, ex.links)
            assert side.close() == []
