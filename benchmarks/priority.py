"""How long ``mprog.priority``'s place and reprioritize take, per backend.

A chain of 8 foreign and 8 managed programs; a ninth managed program is placed (in the middle
of the managed ones) and removed again, and another moved from the front of the managed
programs to their end and back. Each timed call is one ``place`` or ``reprioritize``: a query,
the plan, and its change(s). Medians, in ns. The same on a cgroup list (``dialect="cgroup"``:
the foreign programs attached ALLOW_MULTI; a move is two changes there on every backend).

    python benchmarks/priority.py [--quick]     # alone; benchmarks/run.py includes it
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Dict, List, Optional


def figures(backend: Any, rounds: int, dialect: str = "upstream") -> Dict[str, float]:
    from mprog import Tail
    from mprog.priority import Manager

    foreign = [backend.Program(f"f{i}", dialect=dialect) for i in range(8)]
    managed = [backend.Program(f"m{i}", dialect=dialect) for i in range(10)]
    bundle = backend.Bundle(dialect)
    try:
        for f in foreign:
            bundle.attach(f, Tail())
        m = Manager(bundle)
        for i, p in enumerate(managed[:8]):
            m.place(p, 10 * i)
        newcomer, mover = managed[8], managed[0]
        place: List[float] = []
        move: List[float] = []
        for r in range(rounds):
            t0 = time.perf_counter_ns()
            m.place(newcomer, 35)
            place.append(time.perf_counter_ns() - t0)
            m.remove(newcomer)
            t0 = time.perf_counter_ns()
            m.reprioritize(mover, 100 if r % 2 == 0 else 0)
            move.append(time.perf_counter_ns() - t0)
        return {"place_ns": statistics.median(place),
                "reprioritize_ns": statistics.median(move), "retries": m.retries}
    finally:
        bundle.close()
        for p in foreign + managed:
            p.close()


#: (dialect, suffix of its figures' names)
DIALECTS = (("upstream", ""), ("cgroup", "_cgroup"))


def all_backends(quick: bool, log: Any) -> Dict[str, Optional[float]]:
    """``priority_place_ns_<backend>`` and ``priority_reprioritize_ns_<backend>`` for core,
    model and the kernel (tcx with expedited grace periods; null where it is unavailable),
    and the same with ``_cgroup`` after them on a cgroup list."""
    import mprog
    import mprog.model
    out: Dict[str, Optional[float]] = {}
    runs = [("core", mprog, 500 if quick else 3000), ("model", mprog.model, 200 if quick else 1000)]
    for dialect, suffix in DIALECTS:
        for name, backend, rounds in runs:
            got = figures(backend, rounds, dialect)
            out[f"priority_place_ns_{name}{suffix}"] = got["place_ns"]
            out[f"priority_reprioritize_ns_{name}{suffix}"] = got["reprioritize_ns"]
        out.update(_kernel(quick, log, dialect, suffix))
    return out


def _kernel(quick: bool, log: Any, dialect: str, suffix: str) -> Dict[str, Optional[float]]:
    place, move = f"priority_place_ns_kernel{suffix}", f"priority_reprioritize_ns_kernel{suffix}"
    out: Dict[str, Optional[float]] = {place: None, move: None}
    try:
        import mprog.kernel as kernel
        ok, why = kernel.available(dialect)
        if not ok:
            log(f"priority: kernel ({dialect}) unavailable: {why}")
            return out
        with kernel.expedited_grace_periods():
            got = figures(kernel, 50 if quick else 200, dialect)
        out[place], out[move] = got["place_ns"], got["reprioritize_ns"]
    except OSError as e:
        log(f"priority: kernel ({dialect}): {e}")
    return out


if __name__ == "__main__":
    import sys

    for key, value in all_backends("--quick" in sys.argv, print).items():
        print(f"{key:<40} {'-' if value is None else f'{value / 1000:.1f} us'}")
