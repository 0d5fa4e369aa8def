"""What the op generator costs per op of the campaign, and what it draws.

    python benchmarks/generator.py [--dialect upstream] [--traces 300] [--rounds 5]
                                   [--seed 0] [--stats FILE]

Runs ``--traces`` traces of the default campaign (core,model; trace i from seed+i, as
``fuzz`` does) once, recording what the generator returned for each call, and then
``--rounds`` times each: the same campaign as it is, and the same campaign with the
generator's calls answered from the recording (the same ops, so the trial, the backends and
the checks do exactly the same work). It reports:

- ``generator_ns_per_op``: the least CPU time of the first kind less the least of the second,
  per op: what the generator costs inside the campaign (CPU time, ``time.process_time``, so
  other processes on the machine count only through the caches they share). About 1-2 min
  with the defaults.
- ``traces_digest``: a hash of every op the generator drew for these seeds. Two versions of
  the generator with the same digest drew exactly the same traces.
- with ``--stats FILE``: the counts of what was drawn (op kinds, flags by case, relative
  kinds, whether a detach names a program, revision and count kinds, bad-input slots), as
  JSON, so two versions' distributions can be compared line by line.
"""
from __future__ import annotations

import argparse
import collections
import copy
import gc
import hashlib
import json
import os
import sys
import time
from typing import Any, Counter, Dict, Iterator, List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from mprog.differential.backends import resolve  # noqa: E402
from mprog.differential.campaign import run_trace_seed  # noqa: E402
from mprog.ops import generate  # noqa: E402
from mprog.ops.vocabulary import flag_names, is_bad  # noqa: E402

PLACED = ("attach", "link", "detach", "tx_attach", "tx_detach")


def features(op: Dict[str, Any], dialect: str) -> List[str]:
    """The cases one op falls in (one counter key each)."""
    kind = op["op"]
    out = [f"op {kind}"]
    bad = [k for k, v in op.items() if isinstance(v, dict) and is_bad(v)]
    if bad:
        out.append(f"bad {kind} {bad[0]} {op[bad[0]]['value']}")
    if kind in PLACED:
        flags = op.get("flags")
        rel = op.get("relative")
        relkind = "bad" if isinstance(rel, dict) and is_bad(rel) else (
            rel["kind"] if rel else "none")
        shown = flag_names(dialect, flags) if isinstance(flags, int) else "bad"
        out.append(f"{kind} flags {shown}")
        out.append(f"{kind} relative {relkind}")
        if kind.endswith("detach"):
            prog = op.get("prog")
            out.append(f"{kind} named {'no' if prog is None else 'yes'} flags {shown} "
                       f"relative {'no' if rel is None else 'yes'}")
    for key in ("expected_revision", "count"):
        value = op.get(key)
        if isinstance(value, dict):
            out.append(f"{kind} {key} {value['kind']}")
    return out


def campaign(backends: Any, dialect: str, seeds: range, length: int) -> Tuple[float, int]:
    """CPU seconds and ops of one campaign's traces (one per seed)."""
    ops = 0
    t0 = time.process_time()
    for seed in seeds:
        n, divergence, _ = run_trace_seed(backends, dialect, seed, length)
        if divergence is not None:
            print(f"seed {seed}: divergence {divergence.kind}", file=sys.stderr)
        ops += n
    return time.process_time() - t0, ops


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dialect", default="upstream")
    ap.add_argument("--traces", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trace-len", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=5,
                    help="runs of each kind, the least counts (0: only the digest and --stats)")
    ap.add_argument("--stats", help="write the counts of what was drawn here (JSON)")
    args = ap.parse_args()

    cls = generate.Generator
    if args.dialect == "cgroup":
        from mprog.ops.cgroup import CgroupGenerator
        cls = CgroupGenerator
    drawing = cls.next
    drawn: List[List[Dict[str, Any]]] = []

    def record(self: Any, view: Any) -> Any:
        ops = drawing(self, view)
        drawn.append(copy.deepcopy(ops))
        return ops

    backends = resolve(["core", "model"])
    seeds = range(args.seed, args.seed + args.traces)
    cls.next = record  # type: ignore[method-assign]
    try:
        campaign(backends, args.dialect, seeds, args.trace_len)
    finally:
        cls.next = drawing  # type: ignore[method-assign]
    digest = hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:16]

    # The same campaign again, the generator's calls answered from the recording (the same
    # ops, so the trial does exactly the same work): what it costs less is the generator.
    replies: List[Iterator[List[Dict[str, Any]]]] = []

    def replay(self: Any, view: Any) -> Any:
        return next(replies[0])

    spent: Dict[str, float] = {"generator": float("inf"), "recording": float("inf")}
    ops = 0
    for _ in range(args.rounds):
        for how in spent:
            gc.collect()
            if how == "recording":
                replies[:] = [iter([copy.deepcopy(ops) for ops in drawn])]
                cls.next = replay  # type: ignore[method-assign]
            try:
                seconds, ops = campaign(backends, args.dialect, seeds, args.trace_len)
            finally:
                cls.next = drawing  # type: ignore[method-assign]
            spent[how] = min(spent[how], seconds)
    out: Dict[str, Any] = {"dialect": args.dialect, "traces": args.traces, "calls": len(drawn),
                           "ops": sum(map(len, drawn)), "traces_digest": digest}
    if args.rounds:
        out["generator_ns_per_op"] = round((spent["generator"] - spent["recording"]) * 1e9 / ops)
        out["campaign_cpu_us_per_op"] = round(spent["generator"] * 1e6 / ops, 2)
    print(json.dumps(out))
    if args.stats:
        counts: Counter[str] = collections.Counter()
        for ops_ in drawn:
            for op in ops_:
                counts.update(features(op, args.dialect))
        with open(args.stats, "w") as f:
            json.dump(dict(sorted(counts.items())), f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
