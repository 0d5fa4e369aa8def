"""The bad-input catalogue (tests/test_bad_input.py) in the v2 dialect: core, model and the v2
oracle must give one answer to every wrong call, and a failure must change nothing.

The catalogue's expected outcomes are the upstream dialect's (the kernel settles them); in v2 a
few calls mean something else (bit 5 is FIRST, REPLACE's program is the relative), so here the
three backends are compared with each other instead.
"""
from __future__ import annotations

import importlib

import pytest

from test_bad_input import CASES, build_world, outcome

NAMES = ("mprog", "mprog.model", "mprog.oracle")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_v2_one_answer(c):
    answers = {}
    for name in NAMES:
        world = build_world(importlib.import_module(name), "v2")
        w = next(world)
        try:
            before = w.state()
            got = outcome(w, c)
            if got != "ok":
                assert w.state() == before, f"{name}: a failed {c.id} changed something"
            answers[name] = (got, tuple(w.names()) if got == "ok" else None)
        finally:
            next(world, None)  # closes everything the world made
    assert len(set(answers.values())) == 1, answers
