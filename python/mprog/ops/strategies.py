"""Hypothesis strategies for operations and whole traces, in the one vocabulary (``mprog.ops``).

``traces(dialect)`` draws a list of ops that a ``Trial`` runs as it is: every label an op names
is made by an earlier op of the trace (programs, links, transactions); where that op failed
(a link refused), the trial skips the ops naming it.
Unlike the seeded generator (``mprog.ops.generate``), a drawn trace does not look at the state:
it is a plain data structure that hypothesis shrinks and that a coverage-guided fuzzer mutates
through ``fuzz_one_input`` (``fuzz/differential_fuzzer.py``). The flags come from the same
placement cases as the generator's (``generate.PLACEMENTS``), so both draw every case the rules
tell apart; ``flags``, ``relatives``, ``revisions`` and ``counts`` serve the state machine of
``tests/test_differential.py`` too.

Needs hypothesis (the ``test`` and ``fuzz`` extras); ``import mprog.ops`` does not load it.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from hypothesis import strategies as st

from ..flags import MAX_PROGRAMS
from .generate import PLACEMENTS, RAW_IDS, UNKNOWN_BITS
from .vocabulary import (ASSIGNABLE, BAD_VALUES, KNOWN_FLAGS, UNMADE_USES, WATCH_THEN, Op,
                         disambiguate, flag)

PINS = ("FIRST", "LAST")

revisions = st.sampled_from(("zero", "zero", "zero", "current", "current", "stale",
                             "future")).map(lambda k: {"kind": k})
counts = st.sampled_from(("none", "zero", "short", "short", "exact", "larger")).map(
    lambda k: {"kind": k})


def flags(dialect: str) -> st.SearchStrategy[int]:
    """A placement case's directives, maybe a pin (v2), maybe ID/LINK; now and then a random
    subset of the known bits or an unknown bit."""
    F = {name: flag(dialect, name) for name in ("BEFORE", "AFTER", "REPLACE", "ID", "LINK",
                                                 "FIRST", "LAST")}
    cases = st.sampled_from(PLACEMENTS).map(lambda c: sum(F[n] for n in c.directive))
    pins = st.sampled_from((0, 0, F["FIRST"], F["LAST"], F["FIRST"] | F["LAST"])) \
        if F["FIRST"] else st.just(0)
    naming = st.sampled_from((0, 0, F["ID"], F["LINK"], F["ID"] | F["LINK"]))
    sensible = st.builds(lambda c, p, n: c | p | n, cases, pins, naming)
    subset = st.sets(st.sampled_from(sorted(KNOWN_FLAGS[dialect].values()))).map(sum)
    unknown = st.builds(lambda f, u: f | u, sensible, st.sampled_from(UNKNOWN_BITS))
    return st.one_of(sensible, sensible, sensible, subset, unknown)


def relatives(progs: st.SearchStrategy[int],
              links: Optional[st.SearchStrategy[int]] = None) -> st.SearchStrategy[Any]:
    """None, a program or link by handle or by id, an id nobody has, or a plain int."""
    choices = [st.none(), progs.map(lambda p: {"kind": "prog", "ref": p}),
               progs.map(lambda p: {"kind": "id_prog", "ref": p})]
    if links is not None:
        choices += [links.map(lambda l: {"kind": "link", "ref": l}),
                    links.map(lambda l: {"kind": "id_link", "ref": l})]
    choices += [st.sampled_from(RAW_IDS).map(lambda v: {"kind": "id_raw", "value": v}),
                st.sampled_from((0, 5)).map(lambda v: {"kind": "int", "value": v})]
    return st.one_of(*choices)


def _bad(op: Op, draw: Callable[..., Any]) -> Op:
    slots = [k for k in ("prog", "new_prog", "old_prog", "flags", "relative", "replace",
                         "expected_revision", "count") if k in op]
    if not slots:
        return op
    op = dict(op)
    op[draw(st.sampled_from(slots))] = {
        "kind": "bad", "value": draw(st.sampled_from(sorted(BAD_VALUES) + ["foreign_prog",
                                                                           "foreign_link"]))}
    return op


class _Labels:
    """What a trace has made so far: the labels later ops may name."""

    def __init__(self) -> None:
        self.progs = 0
        self.links = 0
        self.txs: List[int] = []  # open transactions, newest last
        self.next_tx = 0
        self.filled = False  # one fill per trace: it is many ops


#: op kinds and how often a trace draws each (hypothesis draws uniformly from a list, so a
#: kind listed twice is drawn twice as often); "fill" appends programs up to a full chain
KINDS = (["attach"] * 5 + ["link"] * 4 + ["detach"] * 4 + ["new_prog"] * 2 + ["update"] * 3
         + ["query", "prog_close", "link_detach", "link_close", "fill", "tx_begin", "tx_attach",
            "tx_detach", "tx_commit", "tx_discard", "watch"])


@st.composite
def _op(draw: Callable[..., Any], dialect: str, made: _Labels, transactions: bool,
        bad: bool) -> List[Op]:
    kinds = [k for k in KINDS if transactions or not k.startswith("tx_")]
    kind = draw(st.sampled_from(kinds), label="kind")
    if kind == "new_prog" or made.progs == 0:
        made.progs += 1
        return [{"op": "new_prog", "as": made.progs - 1}]
    progs = st.integers(0, made.progs - 1)
    links = st.integers(0, made.links - 1) if made.links else None
    if kind in ("update", "link_detach", "link_close") and links is None:
        kind = "link"
    if kind in ("tx_attach", "tx_detach", "tx_commit", "tx_discard") and not made.txs:
        kind = "tx_begin"
    ops: List[Op]
    if kind == "fill" and made.filled:
        kind = "attach"
    if kind == "fill":
        made.filled = True
        upto = draw(st.sampled_from((MAX_PROGRAMS, MAX_PROGRAMS - 1, 8)), label="upto")
        first = made.progs
        made.progs += upto
        ops = []
        for label in range(first, first + upto):  # more than needed: the full ones fail
            ops += [{"op": "new_prog", "as": label},
                    {"op": "attach", "prog": label, "flags": 0, "relative": None,
                     "replace": None, "expected_revision": {"kind": "zero"}}]
        return ops
    rel = relatives(progs, links)
    if kind in ("attach", "tx_attach"):
        op: Op = {"op": "attach", "prog": draw(progs), "flags": draw(flags(dialect)),
                  "relative": draw(rel), "replace": draw(st.one_of(st.none(), rel)),
                  "expected_revision": draw(revisions)}
    elif kind == "link":
        made.links += 1
        op = {"op": "link", "as": made.links - 1, "prog": draw(progs),
              "flags": draw(flags(dialect)), "relative": draw(rel),
              "expected_revision": draw(revisions)}
    elif kind in ("detach", "tx_detach"):
        op = {"op": "detach", "prog": draw(st.one_of(st.none(), progs)),
              "flags": draw(flags(dialect)), "relative": draw(rel),
              "expected_revision": draw(revisions)}
    elif kind == "update":
        replace = flag(dialect, "REPLACE")
        op = {"op": "update", "link": draw(links), "new_prog": draw(progs),
              "flags": draw(st.sampled_from((0, 0, replace, replace, 1 << 3))),
              "old_prog": draw(st.one_of(st.none(), progs))}
    elif kind in ("link_detach", "link_close"):
        op = {"op": kind, "link": draw(links)}
    elif kind == "prog_close":
        op = {"op": kind, "prog": draw(progs)}
    elif kind == "query":
        op = {"op": kind, "count": draw(counts)}
    elif kind == "tx_begin":
        op = {"op": kind, "as": made.next_tx, "expected_revision": draw(revisions)}
        made.txs.append(made.next_tx)
        made.next_tx += 1
    elif kind in ("tx_commit", "tx_discard"):
        op = {"op": kind, "tx": made.txs.pop(draw(st.integers(0, len(made.txs) - 1)))}
    elif kind == "watch":  # (a trial with a backend that has no watchers skips it)
        op = {"op": kind, "then": draw(st.sampled_from(WATCH_THEN))}
    else:
        op = {"op": kind}
    if kind in ("tx_attach", "tx_detach"):
        op["op"] = kind
        op["tx"] = draw(st.sampled_from(made.txs))
    if bad and draw(st.integers(0, 49)) == 0:  # about 2% of ops, as the campaign's default
        misuse = draw(st.integers(0, 19))
        if misuse == 0:  # and now and then an instance never initialized
            of = draw(st.sampled_from(sorted(UNMADE_USES)))
            return [{"op": "unmade_use", "of": of, "use": draw(st.sampled_from(UNMADE_USES[of]))}]
        if misuse == 1:  # or an attribute a handle reports, assigned
            on = draw(st.sampled_from(("prog", "bundle") + (("link",) if links else ())))
            assigned: Op = {"op": "assign", "attr": draw(st.sampled_from(ASSIGNABLE[on]))}
            if on != "bundle":
                assigned[on] = draw(links if on == "link" and links is not None else progs)
            return [assigned]
        op = _bad(op, draw)
    return [disambiguate(op, dialect)]


@st.composite
def traces(draw: Callable[..., Any], dialect: str, *, max_ops: int = 64,
           transactions: bool = True, bad: bool = True) -> List[Op]:
    """A trace of up to ``max_ops`` draws (a fill is one draw of many ops)."""
    made = _Labels()
    ops: List[Op] = []
    for _ in range(draw(st.integers(1, max_ops), label="length")):
        ops += draw(_op(dialect, made, transactions, bad))
    if draw(st.integers(0, 19)) == 0:  # a closed bundle answers every op alike: rarely, late
        ops.insert(draw(st.integers(len(ops) // 2, len(ops))), {"op": "bundle_close"})
    return ops


def dialect_traces(dialects: Tuple[str, ...] = ("upstream", "v2"), **kw: Any
                   ) -> st.SearchStrategy[Dict[str, Any]]:
    """``{"dialect": D, "ops": [...]}``: a dialect, then a trace in it."""
    return st.sampled_from(dialects).flatmap(
        lambda d: traces(d, **kw).map(lambda ops: {"dialect": d, "ops": ops}))
