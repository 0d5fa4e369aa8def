"""The random generator for the cgroup dialect: trees of up to four cgroups.

It builds on ``Generator`` (the same relatives, revisions, queries and closing of handles)
and adds what the cgroup dialect has: ``new_cgroup`` ops that grow the tree, a target cgroup
for every attach, link, detach and query, the modes (mostly ALLOW_MULTI, sometimes none,
ALLOW_OVERRIDE or both) and PREORDER on attaches, effective queries, and detaches that mostly
name a program and nothing else (cgroup detach takes no flags and no relative).
"""
from __future__ import annotations

import random
from typing import List, Optional

from ..flags import CGROUP_MAX_PROGRAMS, CgroupFlag
from .generate import UNKNOWN_BITS, Generator, View, Weights
from .vocabulary import Op, disambiguate

F = CgroupFlag
#: A tree has at most this many cgroups (the issue's campaign: trees of up to four).
MAX_CGROUPS = 4
#: Ops that act on one cgroup's list and so carry a ``"cgroup"`` label.
TARGETED = ("attach", "link", "detach", "query")


class CgroupGenerator(Generator):
    """``Generator`` for the cgroup dialect (``Generator("cgroup", rng)`` makes one)."""

    __slots__ = ("next_cgroup", "tree_bias", "unknown")

    def __init__(self, dialect: str, rng: random.Random,
                 weights: Optional[Weights] = None) -> None:
        super().__init__(dialect, rng, weights)
        self.next_cgroup = 1
        self.tree_bias = self._choice((0.05, 0.15, 0.3))
        # bits the cgroup dialect does not know (1<<0 and 1<<1 are its modes)
        self.unknown = tuple(b for b in UNKNOWN_BITS if not b & int(sum(F)))

    def next(self, view: View) -> List[Op]:
        random, choice = self._random, self._choice
        cgroups = sorted(view.cgroups)
        if len(cgroups) < MAX_CGROUPS and random() < self.tree_bias:
            op = {"op": "new_cgroup", "as": self.next_cgroup, "parent": choice(cgroups)}
            self.next_cgroup += 1
            return [op]
        open_ = [c for c in cgroups if view.cgroups[c] is not None]
        if len(open_) > 1 and random() < 0.01:
            # close a cgroup below the root, children or not: its list empties for them
            return [{"op": "bundle_close", "cgroup": choice(open_[1:])}]
        # now and then an op on a closed cgroup (ValueError everywhere), mostly open ones
        target = choice(cgroups if random() < 0.03 else open_)
        if view.cgroups[target] is None:  # one op (ValueError everywhere), never a fill
            if not view.progs or random() < 0.5:
                return [{"op": "query", "count": {"kind": "none"}, "cgroup": target}]
            return [{"op": choice(("attach", "link")), "as": self.next_link,
                     "prog": choice(view.progs), "flags": int(F.ALLOW_MULTI), "relative": None,
                     "replace": None, "expected_revision": {"kind": "zero"}, "cgroup": target}]
        # the base generator looks at one list: show it the target's
        order = view.cgroups.get(target) or ()
        view.order, view.slot_links = order, (None,) * len(order)
        if self.w.bundle_close:
            self.w.bundle_close = 0.0  # closing cgroup 0 would end the tree's comparison;
            # the cgroups below it are closed by the op above
        self.w.transaction = self.w.watch = 0.0  # no transactions or watchers in the dialect
        ops = super().next(view)
        out = []
        for op in ops:
            kind = op["op"]
            if kind in TARGETED:
                if len(ops) == 1:  # a fill keeps its plain ALLOW_MULTI appends
                    op = self._cgroup_flags(op)
                op["cgroup"] = target
                if kind == "query" and random() < 0.5:
                    op["effective"] = True
            out.append(disambiguate(op, self.dialect) if op.get("relative") else op)
        return out

    def fill(self, upto: int) -> List[Op]:
        """As ``Generator.fill``, up to the cgroup cap (64), by program with ALLOW_MULTI."""
        ops = super().fill(min(CGROUP_MAX_PROGRAMS, upto + 1))
        for op in ops:
            if op["op"] == "attach":
                op["flags"] = int(F.ALLOW_MULTI)
        return ops

    def _cgroup_flags(self, op: Op) -> Op:
        random, choice = self._random, self._choice
        flags = op.get("flags")
        if not isinstance(flags, int):
            return op  # bad input stays as it is
        kind = op["op"]
        if kind == "detach":
            if random() < 0.85:
                op["flags"], op["relative"] = 0, None
            return op
        if kind == "attach":
            x = random()
            mode = (F.ALLOW_MULTI if x < 0.75 else 0 if x < 0.85 else
                    F.ALLOW_OVERRIDE if x < 0.96 else F.ALLOW_OVERRIDE | F.ALLOW_MULTI)
            flags = (flags & ~int(F.ALLOW_OVERRIDE | F.ALLOW_MULTI)) | int(mode)
        elif kind == "link" and random() < 0.04:
            flags |= int(choice((F.ALLOW_OVERRIDE, F.ALLOW_MULTI, F.REPLACE)))
        if kind in ("attach", "link") and random() < 0.25:
            flags |= int(F.PREORDER)
        if random() < 0.02:
            flags |= choice(self.unknown)
        op["flags"] = flags
        return op
