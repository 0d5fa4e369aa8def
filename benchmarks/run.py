"""mprog benchmarks: one command, one table, optionally JSON.

    python benchmarks/run.py [--quick] [--json FILE] [--no-build]

Every figure is a median over repeated runs; every ratio compares figures measured in this
same run (small machines are noisy: absolute numbers wander, ratios less so).
C++ figures come from the binaries in benchmarks/ (built into build-bench/ with CMake):
mprog_bench_native (attach/detach and the floor) and, if present, mprog_bench_read (the read
side), each run in five processes (a figure is the median of theirs: see
median_of_processes). A figure that cannot be measured here (a backend missing, no live
kernel) is null.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

# The speed targets: (figure, comparison, limit, what it means).
TARGETS = [
    ("native_attach_ratio_to_floor", "<=", 2.0, "native attach at 32 within 2x of the floor"),
    ("native_detach_ratio_to_floor", "<=", 2.0, "native detach at 32 within 2x of the floor"),
    ("python_pair_ns", "<", 500.0, "attach+detach pair from Python under 500 ns"),
    ("reader_ratio_to_floor", "<=", 1.5, "read side within 1.5x of its floor"),
    ("replay_ops_per_s", ">", 20e6, "trace replay above 20 M ops/s"),
    ("core_vs_kernel_change_ratio", ">=", 1e4, "core >= 10,000x faster per change than kernel"),
    ("fuzz_ops_per_s", ">=", 1e5, "campaign (core,model, one process) >= 100,000 ops/s"),
    ("core_vs_model_pair_ratio", "<=", 20.0, "model pair within 20x of the core's (Python)"),
    ("fuzz_jobs2_ratio", ">=", 1.7, "fuzz --jobs 2 at least 1.7x one process"),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- C++ binaries ----

def build(targets: List[str]) -> List[str]:
    """Configure build-bench/ and build what can be built; returns the targets built."""
    if not shutil.which("cmake"):
        log("cmake not found: no C++ figures")
        return []
    cfg = subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"],
                         capture_output=True, text=True)
    if cfg.returncode:
        log("cmake configure failed:\n" + cfg.stderr[-2000:])
        return []
    built = []
    for target in targets:  # one at a time, so one broken target does not hide the others
        r = subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", target],
                           capture_output=True, text=True)
        if r.returncode:
            log(f"building {target} failed:\n" + (r.stdout + r.stderr)[-2000:])
        else:
            built.append(target)
    return built


def binary(target: str) -> Optional[str]:
    for sub in ("benchmarks", ""):
        path = os.path.join(BUILD, sub, target)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def run_json(target: str, args: List[str]) -> Dict[str, float]:
    path = binary(target)
    if path is None:
        return {}
    r = subprocess.run([path] + args, capture_output=True, text=True, timeout=600)
    if r.returncode:
        log(f"{target} exited with {r.returncode}: {r.stderr[-1000:]}")
    for line in reversed(r.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    log(f"{target} printed no JSON")
    return {}


def median_of_processes(target: str, args: List[str], processes: int = 5) -> Dict[str, float]:
    """``run_json`` in several processes, each figure the median of theirs. The native
    figures move with the process more than within one: about one process in 8 to 30 ran
    its floor 20% and its detach 50-60% slower at 16-32 programs, and the read side's floor
    (a walk of 32 pointers) took 6.8 ns in one process and 11.8 in the next, whatever the
    build (the placement of its memory, as far as we could tell); the median is the usual
    process's."""
    runs = [run_json(target, args) for _ in range(processes)]
    keys = set.intersection(*(set(r) for r in runs)) if all(runs) else set()
    return {k: statistics.median(r[k] for r in runs) for k in sorted(keys)}


def read_side_targets() -> List[str]:
    try:
        with open(os.path.join(ROOT, "benchmarks", "CMakeLists.txt")) as f:
            return ["mprog_bench_read"] if "mprog_bench_read" in f.read() else []
    except OSError:
        return []


# ---- Python figures ----

def median_ns_per(fn: Callable[[int], None], n: int, repeats: int) -> float:
    """Median over `repeats` runs of fn(n), in ns per unit of n."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn(n)
        samples.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(samples)


class Pairs:
    """attach + detach of one program on a chain of size - 1, through the protocol, on one
    backend; ``sample(n)`` times n pairs, in ns per pair."""

    def __init__(self, backend: Any, size: int = 32, dialect: str = "upstream") -> None:
        kind = {"dialect": "cgroup"} if dialect == "cgroup" else {}
        self.programs = [backend.Program(name=f"p{i}", **kind) for i in range(size)]
        self.bundle = backend.Bundle(dialect=dialect)
        # A cgroup's list holds more than one program only in ALLOW_MULTI mode.
        self.flags = int(backend.CgroupFlag.ALLOW_MULTI) if dialect == "cgroup" else 0
        for p in self.programs[:-1]:
            self.bundle.attach(p, self.flags)

    def sample(self, n: int) -> float:
        p, flags = self.programs[-1], self.flags
        attach, detach = self.bundle.attach, self.bundle.detach
        t0 = time.perf_counter_ns()
        for _ in range(n):
            attach(p, flags)
            detach(p)
        return (time.perf_counter_ns() - t0) / n

    def close(self) -> None:
        self.bundle.close()
        for q in self.programs:
            q.close()


def pair_ns(backend: Any, pairs: int, repeats: int, size: int = 32,
            dialect: str = "upstream") -> float:
    """Median over ``repeats`` samples of ``pairs`` pairs (``Pairs``), after a warm-up."""
    return interleaved_pairs({"one": (backend, pairs)}, repeats, size, dialect)["one"]


def interleaved_pairs(backends: Dict[str, Any], rounds: int, size: int = 32,
                      dialect: str = "upstream") -> Dict[str, float]:
    """The pair (``Pairs``) on several backends, ``{name: (module, pairs per sample)}``:
    each round takes one sample of each in turn, and each figure is the median of its
    samples. Interleaved, a slow phase of a noisy machine lands on both sides of a ratio
    (measured one after the other, a ratio moved by half from one run to the next)."""
    made: Dict[str, Pairs] = {}
    try:
        for name, (backend, _) in backends.items():
            made[name] = Pairs(backend, size, dialect)
        for name, (_, n) in backends.items():
            made[name].sample(max(1, n // 10))  # warm up
        samples: Dict[str, List[float]] = {name: [] for name in backends}
        for _ in range(rounds):
            for name, (_, n) in backends.items():
                samples[name].append(made[name].sample(n))
        return {name: statistics.median(v) for name, v in samples.items()}
    finally:
        for pairs in made.values():
            pairs.close()


def core_and_model_pairs(quick: bool, dialect: str = "upstream") -> Dict[str, Optional[float]]:
    """The core's pair and the model's, interleaved (samples of about 5 ms each)."""
    import mprog
    backends: Dict[str, Any] = {"core": (mprog, 20_000)}
    try:
        import mprog.model as model
        if hasattr(model, "Bundle"):
            backends["model"] = (model, 1_500)
    except ImportError as e:
        log(f"model: {e}")
    out: Dict[str, Optional[float]] = {"core": None, "model": None}
    out.update(interleaved_pairs(backends, 15 if quick else 41, dialect=dialect))
    return out


def kernel_pair(quick: bool, expedited: bool) -> Optional[float]:
    try:
        import mprog.kernel as kernel
    except ImportError as e:
        log(f"kernel: {e}")
        return None
    ok, why = kernel.available()
    if not ok:
        log(f"kernel: unavailable: {why}")
        return None
    try:
        # A change on the live hook waits for an RCU grace period: tens of milliseconds with
        # the kernel's normal grace periods (the figure the targets use), about 0.1 ms with
        # expedited ones (how the tests run it). The setting is put back afterwards.
        with kernel.grace_periods(expedited):
            return pair_ns(kernel, (10 if quick else 30) * (10 if expedited else 1),
                           3 if quick else 5)
    except OSError as e:
        log(f"kernel: {e}")
        return None


def replay_figures(quick: bool) -> Dict[str, float]:
    from mprog import batch

    out = {}
    # Churn: 31 programs stay, a 32nd is attached and detached; every op succeeds.
    setup = batch.Records()
    for i in range(31):
        setup.attach(i)
    churn = batch.Records()
    churn.attach(31)
    churn.detach(31)
    data = bytes(setup) + bytes(churn) * 500_000  # 1,000,031 ops
    ops = len(data) // batch.RECORD.size
    samples = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter_ns()
        result = batch.replay(data, 32)
        samples.append(ops / ((time.perf_counter_ns() - t0) / 1e9))
        assert result.counts == {0: ops}
    out["replay_ops_per_s"] = statistics.median(samples)
    # Mixed: the random traces of tests/test_batch.py (many ops fail, as in fuzzing).
    rng = random.Random(5)
    mixed = batch.random_trace(rng, 100_000 if quick else 300_000, 8)
    samples = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter_ns()
        batch.replay(mixed, 8)
        samples.append(len(mixed) / ((time.perf_counter_ns() - t0) / 1e9))
    out["replay_mixed_ops_per_s"] = statistics.median(samples)
    # The same mixed trace call by call through mprog.Bundle, for the ratio.
    import mprog

    part = batch.Records(bytes(mixed)[: 20_000 * batch.RECORD.size])
    part._links = mixed.links  # a prefix creates at most as many links
    samples = []
    for _ in range(3):
        t0 = time.perf_counter_ns()
        batch.apply(mprog, part, 8)
        samples.append(len(part) / ((time.perf_counter_ns() - t0) / 1e9))
    out["per_call_mixed_ops_per_s"] = statistics.median(samples)
    return out


def campaign_rate(names: List[str], seconds: float, seed: int, jobs: int = 1,
                  cpu: Optional[List[float]] = None) -> Optional[float]:
    """ops/s of one differential campaign (no minimizing, nothing written); ``cpu`` gets the
    ops per second of this process's CPU time (the figure a busy machine disturbs least)."""
    from mprog.differential.backends import BackendUnavailable, resolve
    from mprog.differential.campaign import run_campaign

    try:
        backends = resolve(names)
    except BackendUnavailable as e:
        log(f"fuzz {','.join(names)}: {e}")
        return None
    c0 = time.process_time()
    result = run_campaign(backends, "upstream", seconds=seconds, seed=seed, out=None,
                          minimize=False, jobs=jobs)
    if cpu is not None:
        cpu.append(result.ops / (time.process_time() - c0))
    return result.ops_per_second


def fuzz_figures(quick: bool) -> Dict[str, Any]:
    """The campaign (core,model) in one process and in two worker processes, and three-way
    with the live kernel (expedited RCU grace periods, put back afterwards)."""
    seconds = 1.5 if quick else 4.0
    out: Dict[str, Any] = {"fuzz_backends": "core,model"}
    cpu: List[float] = []
    # A short campaign first, its figure dropped, as every figure here is taken warm: the
    # first campaign of a process builds the generator's tables and touches its code first.
    campaign_rate(["core", "model"], 0.3, 999)
    # Five samples each (one 1.5 s campaign moves by several percent with the host alone),
    # one process and two taken in turn, so that a slow phase of the host lands on both
    # sides of fuzz_jobs2_ratio (taken one set after the other, the ratio followed the
    # host's phases: 1.49-2.15 over twelve runs).
    by_jobs: Dict[int, List[Optional[float]]] = {1: [], 2: []}
    for i in range(5):
        for jobs in (1, 2):
            by_jobs[jobs].append(campaign_rate(["core", "model"], seconds, 1000 * i, jobs,
                                               cpu if jobs == 1 else None))
    for key, jobs in (("fuzz_ops_per_s", 1), ("fuzz_ops_per_s_jobs2", 2)):
        taken = [x for x in by_jobs[jobs] if x is not None]
        out[key] = statistics.median(taken) if len(taken) == len(by_jobs[jobs]) else None
    out["fuzz_cpu_ops_per_s"] = statistics.median(cpu) if cpu else None
    try:
        import mprog.kernel as kernel
        ok, why = kernel.available()
    except ImportError as e:
        ok, why = False, str(e)
    if not ok:
        log(f"fuzz three-way: kernel unavailable: {why}")
        out["fuzz3_ops_per_s"] = None
        return out
    with kernel.grace_periods(True):
        samples = [campaign_rate(["core", "model", "kernel"], seconds, 1000 * i)
                   for i in range(3)]
    out["fuzz3_ops_per_s"] = statistics.median(samples) if None not in samples else None
    return out


# ---- the table ----

def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.1f} M"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


ROWS = [
    ("C++ control path (ns per op, 32 programs unless noted)", None),
    # The floors copy the chain's program pointers (not all 64 slots) into the peer array,
    # write the terminator and publish with one seq_cst store (benchmarks/native.cpp).
    ("floor_insert_ns_32", "floor, attach: copy 31 pointers + insert 1 + swap"),
    ("floor_delete_ns_32", "floor, detach: copy 32 pointers but 1 + swap"),
    ("native_attach_ns_1", "attach, chain of 1"),
    ("native_detach_ns_1", "detach, chain of 1"),
    ("native_attach_ns_16", "attach, chain of 16"),
    ("native_detach_ns_16", "detach, chain of 16"),
    ("native_attach_ns_32", "attach"),
    ("native_detach_ns_32", "detach"),
    ("native_attach_ns_62", "attach, chain of 62"),
    ("native_detach_ns_62", "detach, chain of 62"),
    ("native_attach_ratio_to_floor", "attach / attach floor"),
    ("native_detach_ratio_to_floor", "detach / detach floor"),
    ("C++ read side (ns per walk)", None),
    ("reader_floor_ns_32", "floor: walk 32 pointers, no section"),
    ("reader_ns_32", "read section + walk 32"),
    ("reader_ns_32_with_writer", "... while a writer updates"),
    ("reader_ratio_to_floor", "reader / floor"),
    ("Python and other backends (ns per attach+detach pair)", None),
    ("python_pair_ns", "core via mprog.Bundle"),
    ("model_pair_ns", "mprog.model"),
    ("kernel_pair_ns", "mprog.kernel (live tcx, normal RCU)"),
    ("kernel_pair_ns_expedited", "mprog.kernel (rcu_expedited=1)"),
    ("core_vs_model_pair_ratio", "model / core (Python pair)"),
    ("python_pair_ns_v2", "core, v2 dialect"),
    ("model_pair_ns_v2", "model, v2 dialect"),
    ("core_vs_model_pair_ratio_v2", "model / core, v2"),
    ("python_pair_ns_cgroup", "core, cgroup dialect (ALLOW_MULTI)"),
    ("model_pair_ns_cgroup", "model, cgroup dialect (ALLOW_MULTI)"),
    ("core_vs_model_pair_ratio_cgroup", "model / core, cgroup"),
    ("core_vs_kernel_pair_ratio", "kernel / core (Python pair)"),
    ("core_vs_kernel_change_ratio", "kernel / native C++ (per change)"),
    ("core_vs_kernel_expedited_change_ratio", "kernel (expedited) / native C++"),
    ("Throughput (ops/s)", None),
    ("replay_ops_per_s", "replay: 1 M attach/detach ops, one call"),
    ("replay_mixed_ops_per_s", "replay: random trace (many fail)"),
    ("per_call_mixed_ops_per_s", "same trace call by call (mprog.batch.apply)"),
    ("replay_vs_per_call_ratio", "replay / call by call"),
    ("fuzz_ops_per_s", "differential fuzz campaign (core,model)"),
    ("fuzz_cpu_ops_per_s", "... per second of the campaign's CPU time"),
    ("fuzz_ops_per_s_jobs2", "... with --jobs 2 (worker processes)"),
    ("fuzz_jobs2_ratio", "--jobs 2 / one process"),
    ("fuzz3_ops_per_s", "three-way (core,model,kernel; expedited RCU)"),
    ("mprog.priority (ns per call; 8 foreign + 8 managed programs)", None),
    ("priority_place_ns_core", "place, core"),
    ("priority_place_ns_model", "place, model"),
    ("priority_place_ns_kernel", "place, kernel (rcu_expedited=1)"),
    ("priority_reprioritize_ns_core", "reprioritize (a move), core"),
    ("priority_reprioritize_ns_model", "reprioritize (a move), model"),
    ("priority_reprioritize_ns_kernel", "reprioritize (a move), kernel (expedited)"),
    ("priority_place_ns_core_cgroup", "place on a cgroup list, core"),
    ("priority_place_ns_model_cgroup", "place on a cgroup list, model"),
    ("priority_place_ns_kernel_cgroup", "place on a cgroup list, kernel"),
    ("priority_reprioritize_ns_core_cgroup", "reprioritize on a cgroup list (2 changes), core"),
    ("priority_reprioritize_ns_model_cgroup", "reprioritize on a cgroup list (2 changes), model"),
    ("priority_reprioritize_ns_kernel_cgroup", "reprioritize on a cgroup list, kernel"),
]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats: under a minute")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--no-build", action="store_true", help="use build-bench/ as it is")
    args = ap.parse_args(argv)
    started = time.monotonic()

    figures: Dict[str, Any] = {}
    targets = ["mprog_bench_native"] + read_side_targets()
    if not args.no_build:
        log("building " + ", ".join(targets) + " in build-bench/ ...")
        build(targets)
    log("native attach/detach ...")
    figures.update(median_of_processes("mprog_bench_native", ["--quick"] if args.quick else []))
    if "mprog_bench_read" in targets:
        log("read side ...")
        figures.update(median_of_processes("mprog_bench_read", []))

    log("Python pairs ...")
    for dialect in ("upstream", "v2", "cgroup"):
        pairs = core_and_model_pairs(args.quick, dialect)
        suffix = "" if dialect == "upstream" else f"_{dialect}"
        figures["python_pair_ns" + suffix] = pairs["core"]
        figures["model_pair_ns" + suffix] = pairs["model"]
    log("kernel pairs ...")
    figures["kernel_pair_ns"] = kernel_pair(args.quick, expedited=False)
    figures["kernel_pair_ns_expedited"] = kernel_pair(args.quick, expedited=True)
    log("replay ...")
    figures.update(replay_figures(args.quick))
    log("fuzz ...")
    figures.update(fuzz_figures(args.quick))
    log("priority ...")
    import priority
    figures.update(priority.all_backends(args.quick, log))

    f = figures.get
    # Each change against the floor of its own shape, measured in the same run.
    figures["native_attach_ratio_to_floor"] = ratio(f("native_attach_ns_32"),
                                                    f("floor_insert_ns_32"))
    figures["native_detach_ratio_to_floor"] = ratio(f("native_detach_ns_32"),
                                                    f("floor_delete_ns_32"))
    if f("reader_ratio_to_floor") is None:
        figures["reader_ratio_to_floor"] = ratio(f("reader_ns_32"), f("reader_floor_ns_32"))
    figures["core_vs_model_pair_ratio"] = ratio(f("model_pair_ns"), f("python_pair_ns"))
    for dialect in ("v2", "cgroup"):
        figures[f"core_vs_model_pair_ratio_{dialect}"] = ratio(
            f(f"model_pair_ns_{dialect}"), f(f"python_pair_ns_{dialect}"))
    figures["core_vs_kernel_pair_ratio"] = ratio(f("kernel_pair_ns"), f("python_pair_ns"))
    native_pair = (f("native_attach_ns_32") + f("native_detach_ns_32")
                   if f("native_attach_ns_32") is not None and f("native_detach_ns_32") is not None
                   else None)
    figures["core_vs_kernel_change_ratio"] = ratio(f("kernel_pair_ns"), native_pair)
    figures["core_vs_kernel_expedited_change_ratio"] = ratio(f("kernel_pair_ns_expedited"),
                                                             native_pair)
    figures["replay_vs_per_call_ratio"] = ratio(f("replay_mixed_ops_per_s"),
                                                f("per_call_mixed_ops_per_s"))
    figures["fuzz_jobs2_ratio"] = ratio(f("fuzz_ops_per_s_jobs2"), f("fuzz_ops_per_s"))
    for key in ("reader_ns_32", "reader_ns_32_with_writer", "reader_floor_ns_32", "fuzz_ops_per_s",
                "floor_ns", "floor_insert_ns_32", "floor_delete_ns_32", "native_attach_ns_32",
                "native_detach_ns_32"):
        figures.setdefault(key, None)

    met = {}
    for key, op, limit, _ in TARGETS:
        v = f(key)
        met[key] = None if v is None else (v <= limit if op == "<=" else v < limit if op == "<"
                                           else v > limit if op == ">" else v >= limit)
    figures["targets"] = {key: {"limit": f"{op} {limit:g}", "value": f(key), "met": met[key]}
                          for key, op, limit, _ in TARGETS}
    figures["seconds"] = time.monotonic() - started
    figures["quick"] = args.quick

    print(f"mprog benchmarks ({'quick' if args.quick else 'full'}, {os.cpu_count()} CPUs, "
          f"{figures['seconds']:.0f} s; medians; ratios from this run; load average "
          f"{os.getloadavg()[0]:.1f} at the end: other work on the machine slows every figure)")
    for key, label in ROWS:
        if label is None:
            print(f"\n{key}")
            continue
        print(f"  {label:<52} {fmt(f(key)):>14}   {key}")
    print("\nTargets")
    for key, op, limit, text in TARGETS:
        state = {True: "met", False: "NOT met", None: "not measured"}[met[key]]
        print(f"  {text:<52} {fmt(f(key)):>14}   {state}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2, sort_keys=True)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
