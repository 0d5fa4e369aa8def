"""The kind tables generators share (``generate._KIND_TABLES``) are the ones each would make.

A campaign makes a generator per trace, so the table of op kinds for each state key is kept
between generators with the same weights and temperament. A generator must draw exactly what
it would draw with nothing kept: whatever other generators (other weights, another
temperament, another class) ran before it in the same process.
"""
from __future__ import annotations

import random

import pytest

from mprog.ops import Generator, View
from mprog.ops import generate
from mprog.ops.generate import Weights


def _ops(seed, weights, steps=400):
    """The ops a generator proposes on a view that grows as if every op succeeded."""
    gen = Generator("upstream", random.Random(seed), weights)
    view = View()
    out = []
    for _ in range(steps):
        for op in gen.next(view):
            out.append(op)
            if op["op"] == "new_prog":
                view.progs.append(op["as"])
            elif op["op"] == "link" and type(op["prog"]) is int:
                view.links.append(op["as"])
            elif op["op"] == "tx_begin":
                view.txs.pop()  # never begun: the view stays outside a transaction
    return out


WEIGHTS = [Weights(), Weights(bad=0.0, transaction=0.0), Weights(attach=1.0, detach=30.0)]


@pytest.mark.parametrize("seed", range(6))
def test_a_generator_draws_the_same_whatever_ran_before(seed):
    alone = []
    for w in WEIGHTS:
        generate._KIND_TABLES.clear()
        alone.append(_ops(seed, w))
    generate._KIND_TABLES.clear()
    for w, expected in zip(WEIGHTS + WEIGHTS[::-1], alone + alone[::-1]):
        assert _ops(seed, w) == expected


def test_tables_are_kept_apart_by_weights_and_temperament():
    generate._KIND_TABLES.clear()
    for seed in range(30):  # every temperament (close_bias) comes up
        for w in WEIGHTS:
            _ops(seed, w, steps=5)
    biases = {key[2] for key in generate._KIND_TABLES}
    weights = {key[1] for key in generate._KIND_TABLES}
    assert len(biases) == 3 and len(weights) == len(WEIGHTS)
    assert len(generate._KIND_TABLES) == len(biases) * len(weights)
