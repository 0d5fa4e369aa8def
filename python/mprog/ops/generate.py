"""THE random generator of operations: seeded, and biased toward the cases where bugs live.

``Generator(dialect, random.Random(seed))`` looks at a ``View`` of the current (agreed) state
and proposes the next operations. Not uniform: it fills chains to 63 often, asks for current,
stale and future revisions, names closed programs and detached or closed links, names
relatives by handle and by id (and by ids nobody has), draws flags as subsets of the dialect's
known bits (now and then with an unknown bit), asks queries with short counts, stages
transactions and commits them (also after the chain moved on), and passes bad input.

``Weights`` says how often each kind of op is drawn; a weight of 0 turns it off (a trial with
the live kernel has no transactions; ``bad`` is how often an argument is replaced by bad
input). ``batch.random_trace`` uses this generator too, with only what its records can say.
"""
from __future__ import annotations

from bisect import bisect_right
import functools
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..flags import MAX_PROGRAMS
from .vocabulary import (ASSIGNABLE, BAD_VALUES, KNOWN_FLAGS, UNMADE_USES, WATCH_THEN, Op,
                         disambiguate, flag)

#: Bits no dialect knows, plus the other dialect's ID/FIRST/LAST where they are unknown.
UNKNOWN_BITS = (1 << 0, 1 << 1, 1 << 9, 1 << 15, 1 << 31, 1 << 32)

#: Ids that no backend hands out (0 is "no id": ENOENT with ID).
RAW_IDS = (0, 0xFFFFFFF0, 0x7FFFFFFE, 0xFFFFFFFF)

#: The cases of an expected revision, in the order of ``Weights.revisions``.
REVISION_KINDS = ("zero", "current", "stale", "future", "value")

#: The weight of each kind of op that is bad input itself (``unmade_use``, ``assign``) per
#: percent of bad input (``Weights.bad``): at the default 2%, about one op in a thousand of
#: those the kind table draws (a fill draws none). Kept rare: records cannot say them, so each
#: is run op by op, and the first such op of a trace hands the core's interpreter every
#: object the executor made (what a trace that needs none of it saves: about 3%).
MISUSE_SHARE = 0.02

#: The dialect of the programs a ``new_prog`` now and then makes instead of the trial's: a
#: tcx program of the other chain dialect (the same kind of program to the kernel), or in the
#: cgroup dialect a tcx one (which a cgroup list refuses).
OTHER_DIALECT_PROGRAM = {"upstream": "v2", "v2": "upstream", "cgroup": "upstream"}

#: The kinds of op that are bad input themselves (given no bad argument besides).
_MISUSES = ("unmade_use", "assign")

#: The classes ``unmade_use`` draws from.
_UNMADE_CLASSES = tuple(UNMADE_USES)

#: The cases of a query's count, and their weights.
COUNT_KINDS = (("none", 4), ("zero", 1), ("short", 3), ("exact", 1), ("larger", 1),
               ("value", 0.3))


#: Values, and the least ``random()`` that draws past each of them (``Generator._draw``).
Table = Tuple[Tuple[Any, ...], Tuple[float, ...]]

#: ``random()`` returns a multiple of 2**-53 below 1: m * _UNIT for an int m below _GRID (a
#: product both exact and cheap; dividing by the int 2**53 takes Python's slow exact path).
_GRID = 2 ** 53
_UNIT = 2.0 ** -53


def _table(choices: List[Tuple[Any, float]]) -> Table:
    """The table of ``(value, weight)`` pairs (weights >= 0, not all 0)."""
    return _table_of(tuple(choices))


@functools.lru_cache(maxsize=None)
def _table_of(choices: Tuple[Tuple[Any, float], ...]) -> Table:
    # The plain weighted draw (u * total, less each weight in turn until below zero) gives an
    # index that only grows with u = random(): so each value's upper bound in u can be found
    # once by searching the 2**53 values random() returns, and a draw is one bisection of
    # these bounds that picks exactly what the plain draw picks, rounding included.
    values = tuple(v for v, _ in choices)
    weights = tuple(w for _, w in choices)
    total = sum(weights)
    bounds = []
    low = 0
    share = 0.0
    for k in range(len(values) - 1):  # the least u drawing past value k
        share += weights[k]
        low = _least(functools.partial(_draws_past, weights[:k + 1], total), low,
                     int(share / total * _GRID))
        bounds.append(low * _UNIT)
    return values, tuple(bounds)


def _draws_past(weights: Tuple[float, ...], total: float, m: int) -> bool:
    """Whether the plain draw at u = m / 2**53 goes past all of ``weights`` (the first ones of
    a table). Each subtraction only lowers x, so past the last means past every one."""
    x = m * _UNIT * total
    for w in weights:
        x -= w
    return x >= 0


def _least(past: Any, low: int, guess: int) -> int:
    """The least m in [low, 2**53) with ``past(m)`` (False below it, True from it on), or
    2**53 if none. Searched outward from ``guess``, the bound without rounding: the rounded
    one is a few steps away, so this takes a handful of draws where bisecting 2**53 takes 53
    (the tables are made once per process, but a short campaign feels it)."""
    guess = min(max(guess, low), _GRID - 1)
    step = 1
    if past(guess):  # walk down, doubling the step, until below the bound
        high, low_ = guess, guess - 1
        while low_ >= low and past(low_):
            high, low_ = low_, low_ - step
            step *= 2
        low_ = max(low_, low - 1)
    else:  # walk up
        low_, high = guess, guess + 1
        while high < _GRID and not past(high):
            low_, high = high, high + step
            step *= 2
        high = min(high, _GRID)
    while high - low_ > 1:  # past(low_) is False (or below the range), past(high) True
        mid = (low_ + high) // 2
        if past(mid):
            high = mid
        else:
            low_ = mid
    return high


_COUNTS = _table(list(COUNT_KINDS))


def _chooser(rng: random.Random) -> Callable[[Sequence[Any]], Any]:
    """``rng.choice``, or a function drawing the very same element with the very same calls
    of ``rng.getrandbits``, for less (the generator chooses about once per op).

    In CPython 3.9 to 3.13 (each one's random.py read), ``Random.choice(seq)`` is
    ``seq[self._randbelow(len(seq))]``, and ``_randbelow(n)`` (``_randbelow_with_getrandbits``,
    which a class gets unless it brings its own ``random`` without ``getrandbits``) draws
    ``getrandbits(n.bit_length())`` until the draw is below n; an empty sequence is an
    IndexError with nothing drawn. That is not documented, so wherever it is not known to
    hold (another version, a class with a ``choice`` or ``_randbelow`` of its own) the call
    stays ``rng.choice``, and the traces stay the same."""
    cls = type(rng)
    known = _CHOICE_KNOWN.get(cls)
    if known is None:
        known = _CHOICE_KNOWN[cls] = _choice_known(cls)
    if not known:
        return rng.choice
    getrandbits = rng.getrandbits

    def choice(seq: Sequence[Any]) -> Any:
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        k = n.bit_length()
        i = getrandbits(k)
        while i >= n:
            i = getrandbits(k)
        return seq[i]

    return choice


#: ``_choice_known`` by class, asked once per class (a generator is made per trace)
_CHOICE_KNOWN: Dict[type, bool] = {}


def _choice_known(cls: type) -> bool:
    """Whether ``cls.choice`` is known to draw as ``_chooser``'s function does (its docstring)."""
    return ((3, 9) <= sys.version_info[:2] <= (3, 13)
            and getattr(cls, "choice", None) is getattr(random.Random, "choice")
            and getattr(cls, "_randbelow", None) is getattr(
                random.Random, "_randbelow_with_getrandbits", False))


@functools.lru_cache(maxsize=None)
def _flag_bits(dialect: str) -> Dict[str, int]:
    """The flags the generator names, by name, as ``dialect`` has them (0 where it has none).
    Shared by every generator of the dialect: nothing changes it."""
    return {name: flag(dialect, name)
            for name in ("REPLACE", "BEFORE", "AFTER", "ID", "LINK", "FIRST", "LAST")}


@functools.lru_cache(maxsize=None)
def _dialect_bits(dialect: str) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """The bits ``dialect`` knows, and the other dialect's bits it does not."""
    known = tuple(KNOWN_FLAGS[dialect].values())
    other = KNOWN_FLAGS["v2" if dialect == "upstream" else "upstream"]
    return known, tuple(v for v in other.values() if v not in set(known))


@functools.lru_cache(maxsize=None)
def _placement_tables(dialect: str) -> Dict[bool, Table]:
    """For attach (True) and detach (False): each placement case with its directive bits in
    ``dialect``, weighted."""
    bits = {c.name: sum(flag(dialect, n) for n in c.directive) for c in PLACEMENTS}
    return {attach: _table([((c, bits[c.name]), c.weight_for(attach)) for c in PLACEMENTS])
            for attach in (True, False)}


@functools.lru_cache(maxsize=None)
def _dialect_constants(dialect: str) -> Tuple[Any, ...]:
    """What a generator of ``dialect`` reads and never changes (``Generator.__init__`` names
    each): made once, not once per trace."""
    F = _flag_bits(dialect)
    return (KNOWN_FLAGS[dialect], F, _placement_tables(dialect),
            (F["FIRST"], F["LAST"], F["FIRST"], F["LAST"], F["FIRST"] | F["LAST"]), F["ID"],
            (F["LINK"], F["ID"], F["LINK"] | F["ID"])) + _dialect_bits(dialect)


@functools.lru_cache(maxsize=None)
def _revision_table(revisions: Tuple[float, ...]) -> Table:
    return _table(list(zip(REVISION_KINDS, revisions)))


#: Which of the chain's lists ``Generator._chain_list`` gives.
BY_PROG, BY_LINK, LINKS = 0, 1, 2


#: Each generator class's kind tables (``Generator._kind_table``), by its weights and
#: temperament, then by the state's key as a number (``Generator.next``; None: not made yet).
_KIND_TABLES: Dict[Tuple[Any, ...], List[Optional["Table"]]] = {}


@dataclass(frozen=True)
class Placement:
    """One case the placement rules tell apart: which directives, and whether a relative is
    named (docs/protocol.md, docs/v2.md)."""

    name: str
    directive: Tuple[str, ...]
    relative: bool
    weight: float  # for attach and link
    detach_weight: float = -1.0  # for detach, where it differs

    def weight_for(self, attach: bool) -> float:
        return self.weight if attach or self.detach_weight < 0 else self.detach_weight


#: The placement cases, each drawn with a fair share: a rare combination (BEFORE|AFTER with no
#: relative, say, which v2's detach resolves to AFTER's target) is a case of its own, not the
#: product of several unlikely draws. Plain appends weigh most: they build the chains.
PLACEMENTS = (
    Placement("plain", (), False, 4.0),
    Placement("before", ("BEFORE",), True, 2.0),
    Placement("after", ("AFTER",), True, 2.0),
    Placement("before_end", ("BEFORE",), False, 1.0),
    Placement("after_end", ("AFTER",), False, 1.0),
    Placement("both", ("BEFORE", "AFTER"), True, 1.0),
    Placement("both_end", ("BEFORE", "AFTER"), False, 1.0),
    Placement("stray_relative", (), True, 0.5),
    # v2: under REPLACE the relative is the program replaced; on detach REPLACE is refused
    Placement("replace", ("REPLACE",), True, 1.2, detach_weight=0.2),
    Placement("replace_alone", ("REPLACE",), False, 0.6, detach_weight=0.1),
)


@dataclass
class Weights:
    """How often each kind of op is drawn (relative weights; 0: never)."""

    new_prog: float = 1.0
    attach: float = 10.0
    link: float = 8.0
    detach: float = 8.0
    query: float = 3.0
    prog_close: float = 0.6
    update: float = 5.0
    link_detach: float = 2.5
    link_close: float = 0.8
    transaction: float = 1.0  # tx_begin; staged ops, commit and discard follow from it
    bundle_close: float = 0.02
    #: ``watch`` (the first of a trace has the bundle watched; each reports what the watcher
    #: was told since the last; the end of the trace compares the rest). Kept rare: it runs
    #: op by op in the batched engine, and every change after it calls a Python watcher on
    #: both backends. At this weight about one trace in forty is watched, and a campaign op
    #: costs about 1.2% more instructions (callgrind, 400 traces).
    watch: float = 0.03
    # percent of ops with one argument replaced by bad input (docs/protocol.md: every backend
    # answers bad input alike; `fuzz --bad-input P` sets it, 0 turns it off)
    bad: float = 2.0
    #: revisions: zero, current, stale, future, value
    revisions: Tuple[float, ...] = (55, 25, 10, 6, 1)
    #: percent of the programs a ``new_prog`` makes (not a fill's) that are of another dialect
    #: than the trial's (``OTHER_DIALECT_PROGRAM``; op by op, as ``MISUSE_SHARE`` says why)
    other_dialect: float = 1.0
    #: relative kinds: id_raw and int (the rest is by handle or by id)
    raw_relatives: bool = True
    #: flags beyond 32 bits now and then (records hold a u32)
    wide_flags: bool = True


#: The ops of a fill (``Generator.fill``), but for their labels and expected revision.
_FILL_LINK: Op = {"op": "link", "as": None, "prog": None, "flags": 0, "relative": None,
                  "expected_revision": None}
_FILL_ATTACH: Op = {"op": "attach", "prog": None, "flags": 0, "relative": None, "replace": None,
                    "expected_revision": None}


#: What the batch records (``mprog.batch``) can say: a fixed set of programs made up front, no
#: query, transaction or bad input, no stale or literal revision, no closing of the bundle.
BATCH = Weights(new_prog=0, query=0, transaction=0, bundle_close=0, watch=0, bad=0,
                revisions=(75, 18, 0, 7, 0), other_dialect=0, raw_relatives=False,
                wide_flags=False)


@dataclass
class View:
    """What the generator looks at: the agreed state, by label (kept by the trial).

    ``progs``, ``links`` and ``closed_progs`` only grow (the generator keeps what it derived
    from them while they do; a new ``View`` starts afresh)."""

    order: Tuple[Any, ...] = ()  # program labels in chain order
    slot_links: Tuple[Any, ...] = ()  # link label of each slot, or None
    progs: List[int] = field(default_factory=list)  # every program created, in order
    closed_progs: Set[int] = field(default_factory=set)
    links: List[int] = field(default_factory=list)  # every link created, in order
    closed_links: Set[int] = field(default_factory=set)
    link_prog: Dict[int, Any] = field(default_factory=dict)  # each link's program, last known
    txs: List[int] = field(default_factory=list)  # transactions begun and not yet ended
    #: the cgroup dialect's tree: each cgroup's program labels in list order (0: the bundle),
    #: None for a closed one
    cgroups: Dict[int, Optional[Tuple[Any, ...]]] = field(default_factory=lambda: {0: ()})


class Generator:
    """Proposes operations for one trace; ``next(view)`` returns a list of ops.

    For the cgroup dialect this is a ``mprog.ops.cgroup.CgroupGenerator``."""

    # Slots: reading its own attributes is much of what the generator does for each op.
    __slots__ = ("dialect", "_rng", "_random", "_choice", "w", "known", "next_prog", "next_link", "next_tx", "F",
                 "fill_bias", "close_bias", "_cases", "_revisions", "_pins", "_naming",
                 "_known_bits", "_other_bits", "_unknown_bits", "_kinds", "_id",
                 "free", "_seen",  # the programs free to attach, and what they came from
                 # the view next() was given, and what the drawing methods read of it
                 "v", "order", "slot_links", "progs", "links",
                 "_chain", "_chain_of")  # the chain's lists (_chain_list), and their chain

    def __new__(cls, dialect: str, rng: random.Random,
                weights: Optional[Weights] = None) -> "Generator":
        if cls is Generator and dialect == "cgroup":
            from .cgroup import CgroupGenerator
            return super().__new__(CgroupGenerator)
        return super().__new__(cls)

    def __init__(self, dialect: str, rng: random.Random,
                 weights: Optional[Weights] = None) -> None:
        self.dialect = dialect
        self.rng = rng  # (and its draws, bound: see the setter)
        self.w = weights or Weights()
        self.next_prog = 0
        self.next_link = 0
        self.next_tx = 0
        # a per-trace temperament, so some traces live near a full chain and others near empty
        self.fill_bias = self._choice((0.02, 0.08, 0.25))
        self.close_bias = self._choice((0.2, 1.0, 3.0))
        # What does not change during a trace is worked out once (the generator runs for every
        # op of every campaign, and a campaign makes one per trace): the weight tables, each
        # placement case's directive bits, the pins, the bits of the other dialect. The draws
        # are exactly the ones spelled out below.
        (self.known, self.F, self._cases, self._pins, self._id, self._naming,
         self._known_bits, self._other_bits) = _dialect_constants(dialect)
        self._revisions = _revision_table(tuple(self.w.revisions))
        self._unknown_bits = UNKNOWN_BITS if self.w.wide_flags else UNKNOWN_BITS[:-1]
        # The kind tables depend on the weights and the temperament only: shared by every
        # generator drawing with the same ones (a campaign makes one generator per trace).
        self._kinds = _KIND_TABLES.setdefault(
            (type(self), tuple(vars(self.w).values()), self.close_bias), [None] * 8)
        # the programs free to attach, kept while the view only grows (see ``_free``)
        self._seen: Tuple[Any, ...] = ()
        self.free: List[int] = []
        self._chain: List[Optional[List[Any]]] = [None, None, None]
        self._chain_of: Tuple[Any, Any] = ((), ())

    @property
    def rng(self) -> random.Random:
        return self._rng

    @rng.setter
    def rng(self, rng: random.Random) -> None:
        # The draws bound once, not looked up on the Random for each of the few per op.
        self._rng = rng
        self._random = rng.random
        self._choice = _chooser(rng)

    # ---------------------------------------------------------------- overview

    def next(self, view: View) -> List[Op]:
        self.v = view
        self.order = order = view.order
        self.slot_links = view.slot_links
        self.progs = progs = view.progs
        self.links = links = view.links
        self.free = free = self._free(view)
        random = self._random
        w = self.w
        if w.new_prog and (not progs or (not free and random() < 0.6)):
            return [self.new_prog()]
        n = len(order)
        if n < MAX_PROGRAMS and random() < self.fill_bias:
            return self.fill(self._choice((MAX_PROGRAMS, MAX_PROGRAMS, MAX_PROGRAMS - 1,
                                           min(MAX_PROGRAMS, n + self.rng.randint(1, 6)))))
        # the kind table for the state: few free programs or not, links, a transaction open
        # a number (cheap), from ints (arithmetic on bools takes the slow path)
        key = (4 if len(free) < 3 else 0) + (0 if links else 2) + (0 if view.txs else 1)
        kinds = self._kinds[key]
        if kinds is None:
            kinds = self._kinds[key] = self._kind_table(len(free) < 3, bool(links),
                                                        bool(view.txs))
        values, bounds = kinds  # self._draw(kinds), spelled out: this runs for every op
        op = values[bisect_right(bounds, random())](self)
        if w.bad and random() * 100 < w.bad and op["op"] not in _MISUSES:
            op = self.bad(op)
        # only a relative (or v2's replace) under ID can need disambiguating (flags of bad
        # input: let it say)
        if op.get("relative") or op.get("replace"):
            flags = op.get("flags")
            if type(flags) is not int or flags & self._id:
                op = disambiguate(op, self.dialect, raw=self.w.raw_relatives)
        return [op]

    def _kind_table(self, few_free: bool, links: bool, txs: bool) -> Table:
        """The weights of the kinds of op, for a state with few free programs or not, with
        links or not, in a transaction or not (the methods drawing each kind)."""
        w = self.w
        cls = type(self)
        choices = [(cls.new_prog, w.new_prog * (3 if few_free else 1)),
                   (cls.attach, w.attach), (cls.link, w.link), (cls.detach, w.detach),
                   (cls.query, w.query), (cls.prog_close, w.prog_close * self.close_bias),
                   (cls.bundle_close, w.bundle_close), (cls.watch, w.watch),
                   # bad input of its own kinds: an instance never initialized, as itself;
                   # an attribute a handle reports, assigned
                   (cls.unmade_use, w.bad * MISUSE_SHARE), (cls.assign, w.bad * MISUSE_SHARE)]
        if links:
            choices += [(cls.update, w.update), (cls.link_detach, w.link_detach),
                        (cls.link_close, w.link_close * self.close_bias)]
        if w.transaction:
            choices.append((cls.tx_begin, w.transaction * (0.3 if txs else 1)))
            if txs:
                choices += [(cls.tx_attach, 4 * w.transaction),
                            (cls.tx_detach, 3 * w.transaction),
                            (cls.tx_commit, 2 * w.transaction),
                            (cls.tx_discard, 0.4 * w.transaction)]
        return _table(choices)

    def _free(self, view: View) -> List[int]:
        """The programs neither closed nor attached, in order of creation.

        Worked out from the last call's where it can be (this runs for every op): while no
        program closed, the programs made since are appended, and the chain's newcomers (an
        attach, a link) dropped; a program leaving the chain (a detach) means starting over.
        """
        progs, closed, order = view.progs, view.closed_progs, view.order
        seen = self._seen
        if seen and seen[0] is progs and seen[1] is closed and seen[2] == len(closed):
            free = self.free
            start, in_chain = seen[4], seen[5]
            if seen[3] is order and start == len(progs):
                return free  # nothing changed (most calls: an op that failed, a query)
            if not (seen[3] is order or seen[3] == order):
                now = set(order)
                entered = now - in_chain
                if len(in_chain) != len(now) - len(entered):  # some left: start over
                    return self._free_from_scratch(progs, closed, order, now)
                if entered:
                    free = [p for p in free if p not in entered]
                in_chain = now
            if start != len(progs):
                # (the chain first: after a fill, the new programs are mostly in it)
                free = free + [p for p in progs[start:] if p not in in_chain and p not in closed]
            self._seen = (progs, closed, len(closed), order, len(progs), in_chain)
            return free
        return self._free_from_scratch(progs, closed, order, set(order))

    def _free_from_scratch(self, progs: List[int], closed: Set[int], order: Tuple[Any, ...],
                           in_chain: Set[Any]) -> List[int]:
        self._seen = (progs, closed, len(closed), order, len(progs), in_chain)
        # (no union of the two sets made first: it cost more than a second look-up saves)
        return [p for p in progs if p not in in_chain and p not in closed]

    def _draw(self, table: Table) -> Any:
        """A value of ``table``, chosen by weight (what ``_weighted`` draws, in one step)."""
        values, bounds = table
        return values[bisect_right(bounds, self._random())]

    def _weighted(self, choices: List[Any]) -> Any:
        """One of ``(value, weight)`` pairs, chosen by weight."""
        x = self._random() * sum(w for _, w in choices)
        for value, w in choices:
            x -= w
            if x < 0:
                return value
        return choices[-1][0]

    # ------------------------------------------------------------- operations

    def new_prog(self) -> Op:
        op = {"op": "new_prog", "as": self.next_prog}
        self.next_prog += 1
        if self.w.other_dialect and self._random() * 100 < self.w.other_dialect:
            op["dialect"] = OTHER_DIALECT_PROGRAM[self.dialect]
        return op

    def fill(self, upto: int) -> List[Op]:
        """Programs appended plainly (by program or link) until ``upto`` are attached: new
        ones, or (where no program may be made: ``Weights.new_prog`` 0) the free ones."""
        ops: List[Op] = []
        add = ops.append  # (locals: a fill makes most of a campaign's ops)
        random = self._random
        via_link = self.w.link and random() < 0.3
        make = bool(self.w.new_prog)
        count = max(0, upto - len(self.order))
        if make:  # new programs, labelled in turn
            labels: Any = range(self.next_prog, self.next_prog + count)
            self.next_prog += count
        else:  # the free ones, the last made first
            labels = self.free[::-1][:count]
        link = self.next_link
        for label in labels:
            if make:
                add({"op": "new_prog", "as": label})
            if via_link and random() < 0.7:
                op = _FILL_LINK.copy()  # (a copy of a whole dict is cheaper than building it)
                op["as"], op["prog"], op["expected_revision"] = link, label, {"kind": "zero"}
                link += 1
            else:
                op = _FILL_ATTACH.copy()
                op["prog"], op["expected_revision"] = label, {"kind": "zero"}
            add(op)
        self.next_link = link
        return ops

    def attach(self) -> Op:
        flags, relative, _ = self._placement(True)
        replace = None
        if flags & self.F["REPLACE"] or self._random() < 0.05:
            replace = self._replace_target()
        return {"op": "attach", "prog": self._prog_to_add(), "flags": flags,
                "relative": relative, "replace": replace, "expected_revision": self.revision()}

    def link(self) -> Op:
        flags, relative, _ = self._placement(True)
        if flags & self.F["REPLACE"] and self._random() < 0.7:
            flags &= ~self.F["REPLACE"]  # REPLACE on a new link is mostly ENOENT: keep it rare
        op = {"op": "link", "as": self.next_link, "prog": self._prog_to_add(), "flags": flags,
              "relative": relative, "expected_revision": self.revision()}
        self.next_link += 1
        return op

    def detach(self) -> Op:
        flags, relative, case = self._placement(attach=False)
        # by program (no directive): mostly a program; by position: mostly none, since naming
        # one too is a case of its own (it must be the entry the position names, or EINVAL)
        named = self._random() < (0.85 if case.name == "plain" else 0.35)
        prog = None
        if named:
            prog = self._pick([(self._chain_list(BY_PROG), 45), (self._chain_list(BY_LINK), 10),
                               (self.free, 8), (self.progs, 7)])
        return {"op": "detach", "prog": prog, "flags": flags, "relative": relative,
                "expected_revision": self.revision()}

    def _chain_list(self, which: int) -> List[Any]:
        """The chain's programs attached by program (``BY_PROG``), by a link (``BY_LINK``), or
        its links (``LINKS``)."""
        # Each worked out when first asked, once per chain: many ops leave the chain as it
        # was, and the view then holds the very same tuples. (Asked for by a number, not
        # through a method per list: a call less for each.)
        order, slots = self.order, self.slot_links
        lists = self._chain
        if order is not self._chain_of[0] or slots is not self._chain_of[1]:
            lists = self._chain = [None, None, None]
            self._chain_of = (order, slots)
        got = lists[which]
        if got is None:
            if which == BY_PROG:
                got = [p for p, l in zip(order, slots) if l is None]
            elif which == BY_LINK:
                got = [p for p, l in zip(order, slots) if l is not None]
            else:
                got = [l for l in slots if l is not None]
            lists[which] = got
        return got

    def update(self) -> Op:
        random = self._random
        link = self._pick([(self._chain_list(LINKS), 75), (self.links, 25)])
        current = self.v.link_prog.get(link)
        mine = [current] if isinstance(current, int) else []
        new = self._pick([(self.free, 55), (mine, 12), (self.order, 18), (self.progs, 15)])
        x = random()
        replace = self.F["REPLACE"]
        flags = 0 if x < 0.5 else replace if x < 0.9 else self.random_flags()
        old = None
        if flags & replace:
            old = self._pick([(mine, 70), (self.progs, 20), ([None], 10)])
        elif random() < 0.1:
            old = self._choice(self.progs)
        return {"op": "update", "link": link, "new_prog": new, "flags": flags, "old_prog": old}

    def link_detach(self) -> Op:
        return {"op": "link_detach", "link": self._pick([(self._chain_list(LINKS), 80),
                                                         (self.links, 20)])}

    def link_close(self) -> Op:
        return {"op": "link_close", "link": self._choice(self.links)}

    def prog_close(self) -> Op:
        return {"op": "prog_close", "prog": self._pick([(self.order, 40), (self.progs, 60)])}

    def watch(self) -> Op:
        return {"op": "watch", "then": self._choice(WATCH_THEN)}

    def bundle_close(self) -> Op:
        return {"op": "bundle_close"}

    def query(self) -> Op:
        kind = self._draw(_COUNTS)
        count: Dict[str, Any] = {"kind": kind}
        if kind == "value":
            count["value"] = self._choice((1, 63, 64, 2**32 - 1))
        return {"op": "query", "count": count}

    # -- transactions: staged on a copy, committed as one change --------------------------

    def tx_begin(self) -> Op:
        # the expected revision is the commit's: drawn from the same cases as every op's, so
        # a commit that must fail ESTALE (begun stale or future) is as common as a stale attach
        op = {"op": "tx_begin", "as": self.next_tx, "expected_revision": self.revision()}
        self.v.txs.append(self.next_tx)  # the trial drops it again if the begin fails
        self.next_tx += 1
        return op

    def _tx(self) -> int:
        # mostly the newest transaction; now and then one already ended (a ValueError)
        if self._random() < 0.05 and self.next_tx:
            return self.rng.randrange(self.next_tx)
        return self.v.txs[-1]

    def tx_attach(self) -> Op:
        op = self.attach()
        op["op"] = "tx_attach"
        op["tx"] = self._tx()
        return op

    def tx_detach(self) -> Op:
        op = self.detach()
        op["op"] = "tx_detach"
        op["tx"] = self._tx()
        return op

    def tx_commit(self) -> Op:
        return {"op": "tx_commit", "tx": self._tx()}

    def tx_discard(self) -> Op:
        return {"op": "tx_discard", "tx": self._tx()}

    # -- bad input ---------------------------------------------------------------------

    def assign(self) -> Op:
        """An attribute a handle reports (read-only everywhere) assigned: a program's, a
        link's or the bundle's."""
        on = self._choice(("prog", "link", "bundle") if self.links else ("prog", "bundle"))
        op: Op = {"op": "assign", "attr": self._choice(ASSIGNABLE[on])}
        if on != "bundle":
            op[on] = self._choice(self.links if on == "link" else self.progs)
        return op

    def unmade_use(self) -> Op:
        """A Program, Link or Bundle never initialized (``T.__new__(T)``), used as itself."""
        of = self._choice(_UNMADE_CLASSES)
        return {"op": "unmade_use", "of": of, "use": self._choice(UNMADE_USES[of])}

    def bad(self, op: Op) -> Op:
        """``op`` with one of its arguments replaced by bad input (a wrong type, an int out of
        range, another backend's program, another bundle's link)."""
        slots = [k for k in ("prog", "new_prog", "old_prog", "flags", "relative", "replace",
                             "expected_revision", "count") if k in op]
        if not slots:
            return op
        key = self._choice(slots)
        names = list(BAD_VALUES)
        if key in ("relative", "replace", "prog", "new_prog", "old_prog"):
            names += ["foreign_prog", "foreign_link"] * 2  # the foreign ones matter most there
        op = dict(op)
        op[key] = {"kind": "bad", "value": self._choice(names)}
        return op

    # ------------------------------------------------------------- arguments

    def placement(self, attach: bool) -> Any:
        """Flags and a relative: one of the ``PLACEMENTS`` cases, then now and then a pin, a
        REPLACE, an ID/LINK that does not fit the relative, random bits or an unknown bit."""
        flags, relative, _ = self._placement(attach)
        return flags, relative

    def _placement(self, attach: bool) -> Tuple[int, Optional[Dict[str, Any]], "Placement"]:
        random = self._random
        choice = self._choice
        F = self.F
        values, bounds = self._cases[attach]
        case, directive = values[bisect_right(bounds, random())]  # self._draw, spelled out
        if self._pins[0] and random() < 0.3:
            directive |= choice(self._pins)
        if random() < (0.04 if attach else 0.01):  # REPLACE beside another directive
            directive |= F["REPLACE"]
        relative = self.relative() if case.relative else None
        flags = directive
        if relative is not None and random() < 0.85:
            kind = relative["kind"]
            if kind in ("link", "id_link"):
                flags |= F["LINK"]
            if kind in ("id_prog", "id_link", "id_raw"):
                flags |= F["ID"]
        elif random() < 0.08:
            flags |= choice(self._naming)
        if random() < 0.12:
            flags = self.random_flags()
        if random() < 0.04:
            flags |= choice(self._unknown_bits + (self._other_dialect_bit(),))
        return flags, relative, case

    def random_flags(self) -> int:
        """A random subset of the dialect's known bits."""
        flags = 0
        random = self._random
        for value in self._known_bits:
            if random() < 0.3:
                flags |= value
        return flags

    def _other_dialect_bit(self) -> int:
        extra = self._other_bits
        return self._choice(extra) if extra else 1 << 0

    def relative(self) -> Optional[Dict[str, Any]]:
        random = self._random
        x = random()
        if x < 0.55 or not self.links:
            prog = self._pick([(self.order, 70), (self.free, 15), (self.progs, 15)])
            if prog is None:
                return None
            kind = "prog" if random() < 0.6 else "id_prog"
            return {"kind": kind, "ref": prog}
        if x < 0.88 or not self.w.raw_relatives:
            link = self._pick([(self._chain_list(LINKS), 70), (self.links, 30)])
            kind = "link" if random() < 0.6 else "id_link"
            return {"kind": kind, "ref": link}
        if x < 0.95:
            return {"kind": "id_raw", "value": self._choice(RAW_IDS)}
        return {"kind": "int", "value": self._choice((0, 5, 1000))}

    def _replace_target(self) -> Optional[Dict[str, Any]]:
        choice = self._choice
        by_prog = self._chain_list(BY_PROG)
        x = self._random()
        if x < 0.75 and by_prog:
            return {"kind": "prog", "ref": choice(by_prog)}
        if x < 0.85 and self.order:
            return {"kind": "prog", "ref": choice(self.order)}
        if x < 0.92 and self.progs:
            return {"kind": "prog", "ref": choice(self.progs)}
        if x < 0.96 and self.links and self.w.raw_relatives:
            return {"kind": "link", "ref": choice(self.links)}
        if not self.w.raw_relatives:
            return None
        return None if self._random() < 0.5 else {"kind": "int", "value": 0}

    def _prog_to_add(self) -> int:
        prog: Optional[int] = self._pick([(self.free, 80), (self.order, 10), (self.progs, 10)])
        assert prog is not None, "next() asks for an attach or link only once a program exists"
        return prog

    def revision(self) -> Dict[str, Any]:
        values, bounds = self._revisions
        kind = values[bisect_right(bounds, self._random())]  # self._draw, spelled out
        rev: Dict[str, Any] = {"kind": kind}
        if kind == "value":
            rev["value"] = self._choice((1, 2**32, 2**64 - 1))
        return rev

    def _pick(self, pools: List[Any]) -> Any:
        """A random element of one of the non-empty pools, chosen by weight."""
        total = 0
        for pool, w in pools:
            if pool:
                total += w
        if not total:
            return self._choice(self.progs) if self.progs else None
        x = self._random() * total
        for pool, w in pools:
            if pool:
                x -= w
                if x < 0:
                    return self._choice(pool)
        # past every weight (rounding; not with whole weights, whose sums are exact): the last
        return self._choice([pool for pool, _ in pools if pool][-1])
