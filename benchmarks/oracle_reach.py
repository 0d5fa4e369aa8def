"""How well the three-way v2 campaign watches: misreadings planted in the v2 oracle alone.

Each plant swaps one function of ``mprog.oracle`` for a wrong reading of the v2 series, then
runs the test suite's three-way campaign (core, model, oracle; 300 traces of 120 operations,
seed 20230607, every state compared after every step) and counts the traces that diverge.
A plant no trace notices would be a rule the campaign never reaches. Reported in docs/v2.md
("The v2 oracle"); about 12 s of CPU per plant::

    python benchmarks/oracle_reach.py
"""
from __future__ import annotations

import errno as E
import time
from typing import Any, Callable, Dict, Tuple

import mprog.oracle.tcx as T
import mprog.oracle.v2 as V
from mprog.differential import backends
from mprog.differential.campaign import run_campaign
from mprog.errors import error


def _wrap(name: str, plant: Callable[..., Any]) -> Tuple[Any, str, Callable[..., Any]]:
    return V, name, plant


def plants() -> Dict[str, Tuple[Any, str, Callable[..., Any]]]:
    add, replace, head_tail = V.add, V.replace, V.head_tail
    delete, lookup, query_flags, stale = V.delete, V.lookup, V.query_flags, V.stale
    link = T.Bundle.link

    def issue_15(self: Any, prog: Any, flags: Any = 0, relative: Any = None,
                 expected_revision: Any = 0) -> Any:
        if isinstance(flags, int) and int(flags) & ~T.MASK:  # the rule before issue 15
            raise error(E.EINVAL, "link", "unknown flag bits")
        return link(self, prog, flags, relative, expected_revision)

    def append_past_last(entry: Any, new: Any, rel: Any, aflags: int) -> Any:
        out = add(entry, new, rel, aflags)
        if (not aflags & (V.BEFORE | V.AFTER) and len(out) >= 2 and out[-1].flags & V.LAST
                and out[-2].prog is new.prog):
            out[-1], out[-2] = out[-2], out[-1]
        return out

    def last_anywhere(entry: Any, new: Any, rel: Any, rflags: int) -> Any:
        try:
            return replace(entry, new, rel, rflags)
        except V.Fail as f:
            if f.errno != E.EACCES or not rflags & V.LAST or rflags & V.FIRST:
                raise
            i = [s.prog for s in entry].index(rel.prog)
            slot = V.Slot(new.prog, new.link, entry[i].flags | V.LAST)
            return entry[:i] + [slot] + entry[i + 1:]

    def first_before_unchecked(entry: Any, new: Any, rel: Any, aflags: int) -> Any:
        if aflags & V.FIRST and aflags & V.BEFORE and not aflags & (V.LAST | V.AFTER):
            aflags &= ~V.BEFORE
        return head_tail(entry, new, rel, aflags)

    def before_first_takes_last(entry: Any, target: Any, rel: Any, dflags: int) -> Any:
        try:
            return delete(entry, target, rel, dflags)
        except V.Fail as f:
            if f.what != "nothing before the first entry" or target.prog is not None:
                raise
            return entry[:-1]

    def link_fd_0_is_none(obj: Any, flags: int, find: Any, is_nothing: Any) -> Any:
        if (flags & V.LINK and not flags & V.ID and is_nothing(obj)
                and flags & (V.BEFORE | V.AFTER | V.REPLACE)):
            return V.Tuple()
        return lookup(obj, flags, find, is_nothing)

    def pins_swapped(slot: Any) -> Any:
        prog_flags, link_flags = query_flags(slot)
        return link_flags, prog_flags

    def last_after_on_empty(entry: Any, new: Any, rel: Any, aflags: int) -> Any:
        if (not entry and aflags & V.LAST and aflags & V.AFTER
                and not aflags & (V.FIRST | V.BEFORE)):
            return [V.Slot(new.prog, new.link, V.LAST)]
        return head_tail(entry, new, rel, aflags)

    def one_ahead_passes(revision: int, expected: int) -> None:
        if expected != revision + 1:
            stale(revision, expected)

    return {
        "issue 15: link refuses unknown bits first": (T.Bundle, "link", issue_15),
        "an append lands after a LAST holder": _wrap("add", append_past_last),
        "REPLACE gives LAST away from the end": _wrap("replace", last_anywhere),
        "FIRST|BEFORE X does not check X": _wrap("head_tail", first_before_unchecked),
        "detach BEFORE the first entry takes the last": _wrap("delete", before_first_takes_last),
        "LINK with fd 0 means none": _wrap("lookup", link_fd_0_is_none),
        "pins reported in the other query array": _wrap("query_flags", pins_swapped),
        "LAST|AFTER on an empty chain appends": _wrap("head_tail", last_after_on_empty),
        "an expected revision one ahead passes": _wrap("stale", one_ahead_passes),
    }


def main() -> None:
    modules = backends.resolve(["core", "model", "oracle"])
    for name, (owner, attr, plant) in plants().items():
        original = getattr(owner, attr)
        setattr(owner, attr, plant)
        start = time.process_time()
        try:
            result = run_campaign(modules, "v2", traces=300, seed=20230607, trace_len=120,
                                  out=None, minimize=False, max_reports=1, full_every=1)
        finally:
            setattr(owner, attr, original)
        print(f"{name:46} {result.divergences:3}/{result.traces} traces diverge "
              f"({result.ops} ops, {time.process_time() - start:.0f} s CPU)", flush=True)


if __name__ == "__main__":
    main()
