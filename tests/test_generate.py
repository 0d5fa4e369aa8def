"""The generator draws every placement case the rules tell apart with a fair share.

A rule bug hides in the combination the generator draws least; a case drawn as the product of
several unlikely draws (BEFORE|AFTER, no relative, no program: v2's detach takes AFTER's
target) went unfound by the default campaign for seconds at a time.
"""
from __future__ import annotations

import collections
import random

import pytest

from mprog.ops import Generator, View
from mprog.ops.generate import PLACEMENTS
from mprog.ops.vocabulary import flag


def _generator(dialect: str, seed: int) -> Generator:
    g = Generator(dialect, random.Random(seed))
    order = tuple(range(5))
    g.next(View(order=order, slot_links=(None,) * 5, progs=list(range(8))))  # sets its view
    return g


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
@pytest.mark.parametrize("attach", [True, False])
def test_every_placement_case_has_its_share(dialect, attach):
    g = _generator(dialect, 7)
    drawn = collections.Counter(g._placement(attach)[2].name for _ in range(6000))
    total = sum(c.weight_for(attach) for c in PLACEMENTS)
    for case in PLACEMENTS:
        share = case.weight_for(attach) / total
        assert drawn[case.name] / 6000 == pytest.approx(share, abs=0.02 + share / 4), case.name


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_detach_by_both_directives_alone_is_common(dialect):
    g = _generator(dialect, 3)
    both = flag(dialect, "BEFORE") | flag(dialect, "AFTER")
    ops = [g.detach() for _ in range(5000)]
    alone = [op for op in ops if op["flags"] == both and op["relative"] is None
             and op["prog"] is None]
    assert len(alone) / len(ops) > 0.015
    # and the other cases of detach are still there: by program, by position with a relative
    assert sum(op["prog"] is not None and op["flags"] == 0 for op in ops) / len(ops) > 0.1
    assert sum(op["prog"] is None and op["relative"] is not None for op in ops) / len(ops) > 0.2


def test_transactions_begin_with_every_revision_case():
    """A commit checks the revision its transaction was begun with: stale and future ones
    must come often enough for a commit that ignores it to be found."""
    g = _generator("upstream", 5)
    kinds = collections.Counter(g.tx_begin()["expected_revision"]["kind"] for _ in range(4000))
    assert {"zero", "current", "stale", "future"} <= set(kinds)
    assert (kinds["stale"] + kinds["future"]) / 4000 > 0.1
