"""Shrinking a diverging trace: delta debugging, then simpler arguments, then tidy labels.

A candidate trace "still fails" when a fresh trial on it raises a ``Divergence`` with the same
signature (kind and op, and for answer divergences the shape of the answers), so shrinking
does not wander off to a different bug.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from ..ops.vocabulary import Op, relabel
from .trial import Divergence, run_trace


class _Budget:
    def __init__(self, max_runs: int, seconds: Optional[float]) -> None:
        self.runs = 0
        self.max_runs = max_runs
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def spent(self) -> bool:
        return self.runs >= self.max_runs or (
            self.deadline is not None and time.monotonic() > self.deadline)


def minimize(backends: Dict[str, Any], dialect: str, divergence: Divergence, *,
             max_runs: int = 5000, seconds: Optional[float] = 120.0) -> Divergence:
    """The smallest trace found that still shows ``divergence``'s signature."""
    signature = divergence.signature
    budget = _Budget(max_runs, seconds)

    def fails(ops: List[Op]) -> Optional[Divergence]:
        if budget.spent():
            return None
        budget.runs += 1
        d = run_trace(backends, dialect, ops)
        return d if d is not None and d.signature == signature else None

    best = divergence
    best = _ddmin(best, fails)
    best = _simplify(best, fails)
    best = _ddmin(best, fails)  # simpler arguments can make more ops unnecessary
    relabeled = relabel(best.ops)
    if relabeled != best.ops:
        d = fails(relabeled)
        if d is not None:
            best = d
    return best


def _ddmin(best: Divergence, fails: Callable[[List[Op]], Optional[Divergence]]) -> Divergence:
    """Zeller's ddmin over the op list, on complements (what remains when a chunk is cut)."""
    ops = best.ops
    n = 2
    while len(ops) >= 2:
        size = -(-len(ops) // n)
        reduced = False
        for start in range(0, len(ops), size):
            candidate = ops[:start] + ops[start + size:]
            d = fails(candidate)
            if d is not None:
                best, ops = d, d.ops
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(ops):
                break
            n = min(len(ops), n * 2)
    return best


def _simpler(op: Op) -> Iterator[Op]:
    """Variants of ``op`` with one argument made plainer."""
    def variant(**changes: Any) -> Op:
        out = copy.deepcopy(op)
        out.update(changes)
        return out

    if op.get("expected_revision", {"kind": "zero"})["kind"] != "zero":
        yield variant(expected_revision={"kind": "zero"})
    if op.get("relative") is not None:
        yield variant(relative=None)
    if op.get("replace") is not None:
        yield variant(replace=None)
    if op["op"] == "detach" and op.get("prog") is not None:
        yield variant(prog=None)
    if op["op"] == "update" and op.get("old_prog") is not None:
        yield variant(old_prog=None)
    if op["op"] == "query" and op["count"]["kind"] != "none":
        yield variant(count={"kind": "none"})
    flags = op.get("flags", 0)
    if isinstance(flags, int) and flags > 0:
        bit = 1
        while bit <= flags:
            if flags & bit:
                yield variant(flags=flags & ~bit)
            bit <<= 1


def _simplify(best: Divergence, fails: Callable[[List[Op]], Optional[Divergence]]) -> Divergence:
    changed = True
    while changed:
        changed = False
        for i in range(len(best.ops)):
            if i >= len(best.ops):
                break
            for candidate in _simpler(best.ops[i]):
                d = fails(best.ops[:i] + [candidate] + best.ops[i + 1:])
                if d is not None:
                    best = d
                    changed = True
                    break
    return best
