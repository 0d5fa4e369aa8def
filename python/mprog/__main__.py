"""``python -m mprog``: differential fuzzing from the command line.

    python -m mprog fuzz [--backends core,model] [--dialect upstream|v2|cgroup]
                         [--seconds N | --ops N | --traces N] [--seed S] [--trace-len L]
                         [--out DIR] [--jobs N] [--bad-input PERCENT]
    python -m mprog replay FILE [--backends core,model]
    python -m mprog show FILE [--backend core|model] [--dialect upstream|v2]
    python -m mprog --version

FILE is a differential trace (or journal), or a trace recorded by ``mprog.trace.record``.

Exit status 1 if any divergence was found (or replayed), 2 for usage errors (each said in one
line: nonsense arguments are refused before anything runs), a malformed trace, a backend that
cannot run here, or output that was closed early (``| head``).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from typing import Callable, ContextManager, List, Optional, TextIO

from . import __version__
from .differential import backends as _backends
from .differential.campaign import CampaignResult, cpus, run_campaign
from .differential.traces import compare, ops_of
from . import trace as _trace


def _progress_printer(stream: TextIO) -> Callable[[CampaignResult, float], None]:
    tty = stream.isatty()

    def show(result: CampaignResult, elapsed: float) -> None:
        per_backend = "  ".join(f"{name} {rate:,.0f}"
                                for name, rate in result.backend_ops_per_second().items())
        line = (f"{elapsed:6.1f}s  traces {result.traces}  ops {result.ops}  "
                f"{result.ops_per_second:,.0f} ops/s ({per_backend})  "
                f"divergences {result.divergences} ({len(result.distinct)} distinct)")
        if tty:
            stream.write("\r" + line + "\x1b[K")
        else:
            stream.write(line + "\n")
        stream.flush()

    return show


def _kernel_grace_periods(names: List[str], normal: bool) -> ContextManager[object]:
    """Expedited RCU while the live kernel fuzzes (each tcx change waits for a grace period:
    ~20 ms normally, ~0.1 ms expedited); machine-wide, so the old setting is put back."""
    if "kernel" not in names or normal:
        return contextlib.nullcontext()
    from .kernel import expedited_grace_periods
    return expedited_grace_periods()


def _fuzz(args: argparse.Namespace) -> int:
    names = _backends.parse(args.backends)
    problem = _fuzz_nonsense(args, names)
    if problem:
        print(f"mprog fuzz: {problem}", file=sys.stderr)
        return 2
    try:
        modules = _backends.resolve(names)
        _backends.check_dialect(modules, args.dialect)
    except _backends.BackendUnavailable as e:
        print(f"mprog fuzz: {e}", file=sys.stderr)
        return 2
    budget = [x is not None for x in (args.seconds, args.ops, args.traces)]
    seconds = args.seconds if any(budget) else 20.0
    out = sys.stderr
    with _kernel_grace_periods(names, args.normal_rcu):
        result = run_campaign(modules, args.dialect, seconds=seconds, ops=args.ops,
                              traces=args.traces, seed=args.seed, trace_len=args.trace_len,
                              out=args.out, minimize=not args.no_minimize,
                              progress=None if args.quiet else _progress_printer(out),
                              journal=args.journal, jobs=args.jobs,
                              max_reports=args.max_reports, bad_input=args.bad_input)
    if not args.quiet and out.isatty():
        out.write("\n")
    print(f"backends {','.join(modules)}  dialect {args.dialect}  seed {result.seed}  "
          f"jobs {args.jobs or cpus()}")
    per_backend = ", ".join(f"{name} {rate:,.0f}"
                            for name, rate in result.backend_ops_per_second().items())
    print(f"{result.traces} traces ({result.full_traces} checked in full), {result.ops} ops in "
          f"{result.seconds:.1f}s: {result.ops_per_second:,.0f} ops/s "
          f"(per backend, of its own time: {per_backend})")
    for problem in result.cleanup_problems[:10]:
        print(f"cleanup: {problem}")
    if not result.divergences:
        print("no divergence")
        return 1 if result.cleanup_problems else 0
    print(f"{result.divergences} diverging traces, {len(result.found)} distinct:")
    for found in result.found:
        d = found.divergence
        print()
        print(f"seed {found.seed} (trace of {found.original_length} ops, minimized to "
              f"{len(d.ops)}; seen {found.repeats}x)")
        print(f"  reproduce: python -m mprog fuzz --backends {','.join(names)} "
              f"--dialect {args.dialect} --seed {found.seed} --traces 1 "
              f"--trace-len {args.trace_len}")
        print("  " + d.report().replace("\n", "\n  "))
        if found.path:
            print(f"  trace: {found.path}")
            print(f"  replay: python -m mprog replay {found.path} --backends {','.join(names)}")
    return 1


def _fuzz_nonsense(args: argparse.Namespace, names: List[str]) -> Optional[str]:
    """What is wrong with the fuzz arguments, in one line (None: nothing)."""
    if len(names) < 2:
        return f"--backends needs at least two backends to compare, got {args.backends!r}"
    if len(set(names)) != len(names):
        return (f"--backends names a backend twice ({args.backends!r}): it would be compared "
                f"with itself")
    for name, value in (("--seconds", args.seconds),):
        if value is not None and not (math.isfinite(value) and value > 0):
            return f"{name} must be a positive number of seconds, not {value}"
    for name, value, least in (("--ops", args.ops, 1), ("--traces", args.traces, 1),
                               ("--trace-len", args.trace_len, 1), ("--jobs", args.jobs, 0),
                               ("--max-reports", args.max_reports, 0)):
        if value is not None and value < least:
            return f"{name} must be at least {least}, not {value}"
    if args.bad_input is not None and not (math.isfinite(args.bad_input)
                                           and 0 <= args.bad_input <= 100):
        return f"--bad-input is a percentage (0 to 100), not {args.bad_input}"
    if args.out is not None:
        if not os.path.isdir(args.out):
            return f"--out {args.out!r} is not a directory"
        if not os.access(args.out, os.W_OK | os.X_OK):
            return f"--out {args.out!r} is not writable"
    return None


def _replay(args: argparse.Namespace) -> int:
    try:
        data = _trace.load(args.file).as_differential()
    except (OSError, ValueError) as e:
        print(f"mprog replay: {e}", file=sys.stderr)
        return 2
    names = _backends.parse(args.backends) if args.backends else data["backends"]
    dialect = args.dialect or data["dialect"]
    try:
        modules = _backends.resolve(names)
        _backends.check_dialect(modules, dialect)
    except _backends.BackendUnavailable as e:
        print(f"mprog replay: {e}", file=sys.stderr)
        return 2
    print(f"replaying {args.file}: {len(data['steps'])} ops, dialect {dialect}, "
          f"backends {','.join(modules)}")
    divergence = compare(modules, dialect, ops_of(data), echo=print)
    if divergence is None:
        print("no divergence")
        return 0
    return 1


def _show(args: argparse.Namespace) -> int:
    try:
        recorded = _trace.load(args.file)
        dialect = args.dialect or recorded.dialect
        module = _backends.load(args.backend)
        _backends.check_dialect({args.backend: module}, dialect)
    except (OSError, ValueError, _backends.BackendUnavailable) as e:
        print(f"mprog show: {e}", file=sys.stderr)
        return 2
    return 0 if _trace.show(recorded, args.backend, dialect) else 1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mprog",
                                     description="Differential fuzzing of mprog's backends.")
    parser.add_argument("--version", action="version", version=f"mprog {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    fuzz = sub.add_parser("fuzz", help="run random traces against several backends")
    fuzz.add_argument("--backends", default="core,model",
                      help="comma-separated: core, model, kernel (default core,model)")
    fuzz.add_argument("--dialect", default="upstream", choices=("upstream", "v2", "cgroup"))
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="run this long (default 20)")
    budget.add_argument("--ops", type=int, help="run this many operations")
    budget.add_argument("--traces", type=int, help="run this many traces")
    fuzz.add_argument("--seed", type=int, help="campaign seed (trace i uses seed+i)")
    fuzz.add_argument("--trace-len", type=int, default=150, help="ops per trace (default 150)")
    fuzz.add_argument("--out", default=".", help="where minimized traces go (default .)")
    fuzz.add_argument("--max-reports", type=int, default=5,
                      help="distinct divergences to minimize and write (default 5)")
    fuzz.add_argument("--no-minimize", action="store_true", help="write traces unshrunk")
    fuzz.add_argument("--quiet", action="store_true", help="no progress line")
    fuzz.add_argument("--jobs", type=int, default=1,
                      help="worker processes running traces (0: one per core; default 1)")
    fuzz.add_argument("--bad-input", type=float, metavar="PERCENT",
                      help="percent of ops given one bad argument (wrong type, out of range, "
                           "another backend's object; default 2, 0 turns it off)")
    fuzz.add_argument("--normal-rcu", action="store_true",
                      help="with the kernel backend, keep the kernel's normal (slow) RCU grace "
                           "periods instead of expediting them for the run")
    fuzz.add_argument("--journal", metavar="FILE",
                      help="write each op before it runs (a crashed run's trace; replayable)")
    fuzz.set_defaults(func=_fuzz)

    rep = sub.add_parser("replay", help="re-run a trace file, printing every answer")
    rep.add_argument("file")
    rep.add_argument("--backends", help="comma-separated (default: the file's)")
    rep.add_argument("--dialect", choices=("upstream", "v2", "cgroup"), help="default: the file's")
    rep.set_defaults(func=_replay)

    show = sub.add_parser("show", help="replay a trace on one backend, printing the chain "
                                       "as a table after each op (exit 1 if an outcome "
                                       "differs from the recorded one)")
    show.add_argument("file")
    show.add_argument("--backend", default="core", choices=("core", "model"))
    show.add_argument("--dialect", choices=("upstream", "v2", "cgroup"), help="default: the file's")
    show.set_defaults(func=_show)

    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func  # each subcommand's set_defaults
    try:
        return func(args)
    except BrokenPipeError:
        # The reader went away (``| head``): say so once, and keep Python's own flush at exit
        # from raising again on the closed stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        print(f"mprog {args.command}: output closed early (broken pipe)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
