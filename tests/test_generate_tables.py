"""What the generator works out once or keeps between calls is what it would work out anew.

The generator runs for every op of every campaign, so it keeps its weight tables and the
programs free to attach between calls (``Generator._draw``, ``Generator._free``); these tests
hold both to the plain definitions.
"""
from __future__ import annotations

import random

import pytest

from mprog.ops import Generator, View
from mprog.ops.generate import COUNT_KINDS, PLACEMENTS, _table


def _by_subtraction(choices, u):
    """The plain weighted draw: subtract each weight from u * total until below 0."""
    x = u * sum(w for _, w in choices)
    for value, w in choices:
        x -= w
        if x < 0:
            return value
    return choices[-1][0]


class _Fixed(random.Random):
    def __init__(self, values):
        super().__init__(0)
        self.values = iter(values)

    def random(self):
        return next(self.values)


@pytest.mark.parametrize("choices", [
    [(c.name, c.weight) for c in PLACEMENTS],
    [(c.name, c.weight_for(False)) for c in PLACEMENTS],
    list(COUNT_KINDS),
    [("a", 0), ("b", 1.0), ("c", 0), ("d", 0.3), ("e", 0)],  # zero weights are never drawn
])
def test_a_table_draws_what_subtracting_the_weights_draws(choices):
    rng = random.Random(1)
    # uniform values, and the values random() can return (multiples of 2**-53) right at and
    # around each boundary between two values
    total = sum(w for _, w in choices)
    edges, run = [], 0.0
    for _, w in choices:
        run += w
        m = int(run / total * 2 ** 53)
        edges += [k / 2 ** 53 for k in range(m - 3, m + 4) if 0 <= k < 2 ** 53]
    values = [rng.random() for _ in range(20000)] + [0.0, 1 - 2 ** -53] + edges
    g = Generator("upstream", random.Random(0))
    g.rng = _Fixed(values)
    table = _table(choices)
    for u in values:
        assert g._draw(table) == _by_subtraction(choices, u), u


def _free_by_definition(view):
    return [p for p in view.progs if p not in view.closed_progs and p not in set(view.order)]


@pytest.mark.parametrize("seed", range(6))
def test_the_free_programs_kept_between_calls_are_the_free_programs(seed):
    """A view that grows as a trial's does (programs made, attached in any order, detached,
    closed), and now and then a new view: ``_free`` always answers as the definition."""
    rng = random.Random(seed)
    g = Generator("upstream", random.Random(seed))
    view = View()
    for step in range(3000):
        x = rng.random()
        if x < 0.3:
            view.progs.append(len(view.progs))
        elif x < 0.6 and view.progs:  # attach one somewhere
            p = rng.choice(view.progs)
            if p not in view.order:
                i = rng.randint(0, len(view.order))
                view.order = view.order[:i] + (p,) + view.order[i:]
        elif x < 0.75 and view.order:  # detach one
            i = rng.randrange(len(view.order))
            view.order = view.order[:i] + view.order[i + 1:]
        elif x < 0.8 and len(view.order) > 1:  # the same chain, reordered
            order = list(view.order)
            rng.shuffle(order)
            view.order = tuple(order)
        elif x < 0.85 and view.progs:
            view.closed_progs.add(rng.choice(view.progs))
        elif x < 0.87:  # a new view (a new trace)
            view = View(order=view.order, progs=list(view.progs),
                        closed_progs=set(view.closed_progs))
        elif x < 0.9:  # a tuple equal to the last one, not the same object
            view.order = tuple(list(view.order))
        free = g._free(view)
        g.free = free  # as next() keeps it
        assert free == _free_by_definition(view), step
