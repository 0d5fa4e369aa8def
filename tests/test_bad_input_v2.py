"""The bad-input catalogue (tests/test_bad_input.py) in the v2 dialect: core, model and the v2
oracle must give one answer to every wrong call, and a failure must change nothing.

The catalogue's expected outcomes are the upstream dialect's (the kernel settles them); in v2 a
few calls mean something else (bit 5 is FIRST, REPLACE's program is the relative), so here the
three backends are compared with each other instead.
"""
from __future__ import annotations

import importlib

import pytest

from test_bad_input import CASES, World, outcome

FOREIGN = {"mprog": "mprog.model", "mprog.model": "mprog", "mprog.oracle": "mprog.model"}
NAMES = ("mprog", "mprog.model", "mprog.oracle")


def v2_world(module_name: str):
    m = importlib.import_module(module_name)
    foreign = importlib.import_module(FOREIGN[module_name])
    b = m.Bundle("v2")
    p, q, r, cp, x, y = (m.Program(name=n) for n in ("p", "q", "r", "cp", "x", "y"))
    b.attach(p)
    l = b.link(q)
    cl = b.link(x)
    cl.close()
    dl = b.link(y)
    dl.detach()
    cp.close()
    cb = m.Bundle("v2")
    cb.close()
    fb = foreign.Bundle()
    fl = fb.link(foreign.Program(name="fq"))
    fp = foreign.Program(name="fp")
    w = World(m, b, p, q, r, l, cp, cl, fp, fl, dl, cb, m.V2Flag, [])
    return w, [l, cl, dl, fl, fb, b, p, q, r, x, y, cp, fp]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_v2_one_answer(c):
    answers = {}
    for name in NAMES:
        w, handles = v2_world(name)
        try:
            before = w.state()
            got = outcome(w, c)
            if got != "ok":
                assert w.state() == before, f"{name}: a failed {c.id} changed something"
            answers[name] = (got, tuple(w.names()) if got == "ok" else None)
        finally:
            for h in (*w.closing, *handles):
                h.close()
    assert len(set(answers.values())) == 1, answers
