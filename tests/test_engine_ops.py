"""The engine's handling of ops a campaign runs op by op or the executor runs alone."""
from __future__ import annotations

import mprog
from mprog import model
from mprog.differential.trial import Trial
from mprog.ops import Interpreter
from mprog.ops.vocabulary import BAD_VALUES


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
