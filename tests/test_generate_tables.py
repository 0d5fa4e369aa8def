"""What the generator works out once or keeps between calls is what it would work out anew.

The generator runs for every op of every campaign, so it keeps its weight tables and the
programs free to attach between calls (``Generator._draw``, ``Generator._free``); these tests
hold both to the plain definitions. The tables' bounds are searched near where they should
be (``generate._least``); they must be the ones bisecting every value of random() finds.
"""
from __future__ import annotations

import random

import pytest

from mprog.ops import Generator, View, generate
from mprog.ops.generate import COUNT_KINDS, PLACEMENTS, Weights, _table, _table_of


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


def _bounds_by_bisection(choices):
    """Each value's bound: the least of the 2**53 values of random() whose plain draw goes
    past it, by bisecting all of them."""
    values = [v for v, _ in choices]
    bounds, low = [], 0
    for k in range(len(choices) - 1):
        high = 2 ** 53
        while low < high:
            mid = (low + high) // 2
            if values.index(_by_subtraction(choices, mid / 2 ** 53)) > k:
                high = mid
            else:
                low = mid + 1
        bounds.append(low / 2 ** 53)
    return tuple(bounds)


def _kind_choices(monkeypatch):
    """The choices of every kind table generators of every temperament make."""
    out = []
    monkeypatch.setattr(generate, "_table", lambda choices: out.append(choices))
    for w in (Weights(), Weights(transaction=0.0), Weights(bad=3.0, attach=1.0, detach=30.0)):
        for close_bias in (0.2, 1.0, 3.0):
            g = Generator("upstream", random.Random(0), w)
            g.close_bias = close_bias
            for key in [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]:
                g._kind_table(*key)
    monkeypatch.undo()
    return out


def _random_choices(seed):
    rng = random.Random(seed)
    weights = [rng.choice((0, 0.01, 0.3, 1, 2.5, 1e-9, 1e6, rng.random() * 10))
               for _ in range(rng.randint(2, 12))]
    if not any(weights):
        weights[-1] = 1.0
    return list(zip(range(len(weights)), weights))


@pytest.mark.parametrize("seed", range(120))
def test_the_searched_bounds_are_the_bisected_ones(seed):
    choices = _random_choices(seed)
    assert _table_of.__wrapped__(tuple(choices))[1] == _bounds_by_bisection(choices)


def test_the_generators_tables_have_the_bisected_bounds(monkeypatch):
    tables = _kind_choices(monkeypatch) + [[(c.name, c.weight_for(a)) for c in PLACEMENTS]
                                for a in (True, False)]
    for choices in tables + [list(COUNT_KINDS), list(zip(range(5), Weights().revisions))]:
        assert _table_of.__wrapped__(tuple(choices))[1] == _bounds_by_bisection(choices)


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


@pytest.mark.parametrize("seed", range(4))
def test_the_chain_lists_kept_between_calls_are_the_chains(seed):
    """The chain's programs attached by program, by link, and its links are kept while the
    view holds the same chain (``Generator._chain_list``): a new chain, an equal one in new
    tuples, or new link slots under the same order, each gives its own lists."""
    rng = random.Random(seed)
    g = Generator("upstream", random.Random(seed))
    view = View(progs=list(range(20)))
    for step in range(1500):
        x = rng.random()
        n = len(view.order)
        if x < 0.4:  # a new chain
            n = rng.randint(0, 10)
            view.order = tuple(rng.sample(range(20), n))
            view.slot_links = tuple(rng.choice((None, rng.randrange(30))) for _ in range(n))
        elif x < 0.55:  # the same order, other slots (a program now attached by a link)
            view.slot_links = tuple(rng.choice((None, rng.randrange(30))) for _ in range(n))
        elif x < 0.65:  # equal tuples, not the same objects
            view.order, view.slot_links = tuple(list(view.order)), tuple(list(view.slot_links))
        g.next(view)
        view.txs.clear()
        order, slots = view.order, view.slot_links
        assert g._chain_list(generate.BY_PROG) == [p for p, l in zip(order, slots)
                                                   if l is None], step
        assert g._chain_list(generate.BY_LINK) == [p for p, l in zip(order, slots)
                                                   if l is not None], step
        assert g._chain_list(generate.LINKS) == [l for l in slots if l is not None], step


class _OwnBits(random.Random):
    """A Random with a getrandbits of its own (as the generator fuzzer's InputRandom)."""

    def getrandbits(self, k):
        return super().getrandbits(k) ^ (1 if k > 1 else 0)


class _OwnChoice(random.Random):
    def choice(self, seq):
        return seq[-1]


class _OnlyRandom(random.Random):
    """A Random drawing from random() alone: its _randbelow is not the getrandbits one."""

    def random(self):
        return super().random() / 2


@pytest.mark.parametrize("cls", [random.Random, _OwnBits, _OwnChoice, _OnlyRandom])
def test_the_generators_choice_draws_what_rng_choice_draws(cls):
    """``generate._chooser`` draws the element ``rng.choice`` draws, leaving the generator in
    the same state, for every length (powers of two and their neighbours too); an empty
    sequence is an IndexError. A class with its own choice keeps its own."""
    for seed in range(40):
        a, b = cls(seed), cls(seed)
        choice = generate._chooser(b)
        for n in list(range(1, 70)) + [127, 128, 129, 1000, 2**31, 2**31 + 1]:
            assert choice(range(n)) == a.choice(range(n)), (seed, n)
        assert a.getstate() == b.getstate()
        with pytest.raises(IndexError):
            choice([])
    if cls is _OwnChoice:
        assert generate._chooser(cls(0))((1, 2, 3)) == 3


def test_a_generator_given_another_rng_draws_from_it():
    """``rng`` may be replaced (the tests above do): the bound draws follow it."""
    g = Generator("upstream", random.Random(0))
    g.rng = _Fixed([0.5, 0.1])
    assert g._random() == 0.5
    assert g._choice((7,)) == 7
