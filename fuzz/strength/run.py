"""The planted-bug (mutation) strength report: how fast each fuzzing engine finds each bug.

    python fuzz/strength/run.py [--budget S] [--campaign-seeds N] [--only NAME,...] [--json FILE]

Copies the tree (tracked and untracked, not ignored files) to a temporary directory, builds
the Python extension and, with clang, the libFuzzer target there, then for each mutant of
``fuzz/strength/mutants.py`` (and first for the unmutated tree, which no engine may flag):
applies it to the copy, rebuilds what it touches, runs each engine for at most the budget and
records whether it found the bug and after how many seconds. The working tree is never
written. Prints a Markdown table (docs/fuzzing.md keeps the latest one).

Engines: ``campaign`` (the default ``python -m mprog fuzz``, --campaign-seeds runs, each with
its own seed), ``statemachine`` (the hypothesis state machine), ``atheris``
(fuzz/differential_fuzzer.py: coverage-guided core against model, hypothesis traces through
``fuzz_one_input``), ``atheris-gen`` (fuzz/generator_fuzzer.py: the same, the campaign's
generator reading its draws from the input) and ``libfuzzer``
(core_ops_fuzzer: the core alone against its invariants; core mutants only). Seconds are
wall time from the engine's start, its startup included for the two coverage-guided ones.

Not part of the test run: it takes minutes (about 25 mutants x 4 engines).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from mutants import MUTANTS, Mutant  # noqa: E402

ENGINES = ("campaign", "statemachine", "atheris", "atheris-gen", "libfuzzer")
#: the Python harness of each atheris engine, under fuzz/
HARNESSES = {"atheris": "differential_fuzzer.py", "atheris-gen": "generator_fuzzer.py"}


def sh(cmd: List[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


class Tree:
    """The temporary copy, its builds, and the environment that imports mprog from it."""

    def __init__(self, top: str) -> None:
        self.top = top
        self.src = os.path.join(top, "src")
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], cwd=ROOT, check=True,
                               capture_output=True).stdout.decode().split("\0")
        for f in filter(None, files):
            if not os.path.isfile(os.path.join(ROOT, f)):
                continue  # deleted in the working tree but still in the index
            os.makedirs(os.path.dirname(os.path.join(self.src, f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(self.src, f))
        # -S: no site, so no editable-install hook; the paths it would add, by hand.
        paths = [os.path.join(self.src, "python")] + site.getsitepackages()
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONHASHSEED="0")
        self.fuzzer: Optional[str] = None

    def configure(self, libfuzzer: bool = True) -> None:
        import pybind11
        sh(["cmake", "-S", self.src, "-B", os.path.join(self.top, "py"), "-G", "Ninja",
            "-DSKBUILD=ON", "-DCMAKE_BUILD_TYPE=Release", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}"])
        if libfuzzer and shutil.which("clang++"):
            sh(["cmake", "-S", self.src, "-B", os.path.join(self.top, "fuzz"), "-G", "Ninja",
                "-DCMAKE_CXX_COMPILER=clang++", "-DMPROG_FUZZ=ON", "-DMPROG_BUILD_TESTS=OFF",
                "-DMPROG_INSTALL=OFF", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
            self.fuzzer = os.path.join(self.top, "fuzz", "fuzz", "core_ops_fuzzer")

    def build(self) -> None:
        sh(["cmake", "--build", os.path.join(self.top, "py"), "--target", "_core"])
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        shutil.copy2(os.path.join(self.top, "py", f"_core{suffix}"),
                     os.path.join(self.src, "python", "mprog", f"_core{suffix}"))
        if self.fuzzer:
            sh(["cmake", "--build", os.path.join(self.top, "fuzz"), "--target", "core_ops_fuzzer"])

    def apply(self, m: Mutant) -> str:
        path = os.path.join(self.src, m.file)
        with open(path) as f:
            text = f.read()
        if text.count(m.old) != 1:
            raise SystemExit(f"{m.name}: the snippet occurs {text.count(m.old)} times in {m.file}")
        with open(path, "w") as f:
            f.write(text.replace(m.old, m.new))
        return text

    def restore(self, m: Mutant, text: str) -> None:
        with open(os.path.join(self.src, m.file), "w") as f:
            f.write(text)

    # ---- engines

    def python_engine(self, engine: str, dialect: str, budget: float, seed: int) -> Dict[str, Any]:
        cmd = [sys.executable, "-S", os.path.join(self.src, "fuzz", "strength", "engine.py"),
               engine, dialect, str(budget), str(seed)]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=budget + 120)
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines:
            return {"detected": True, "seconds": float("nan"),
                    "detail": f"crashed: {p.stderr.strip().splitlines()[-1:]}"}
        result: Dict[str, Any] = json.loads(lines[-1])
        if not result["mprog"].startswith(self.src):
            raise SystemExit(f"the engine imported mprog from {result['mprog']}, not the copy")
        return result

    def libfuzzer_engine(self, target: List[str], corpus_from: str, budget: float,
                         seed: int) -> Dict[str, Any]:
        work = tempfile.mkdtemp(dir=self.top)
        corpus = os.path.join(work, "corpus")
        shutil.copytree(corpus_from, corpus)
        start = time.monotonic()
        try:
            p = subprocess.run(target + [f"-max_total_time={int(budget)}", f"-seed={seed}",
                                         "-timeout=20", f"-artifact_prefix={work}/", corpus],
                               env=self.env, capture_output=True, text=True,
                               timeout=budget + 120)
        except subprocess.TimeoutExpired:  # a start-up slower than 2 minutes: a loaded machine
            return {"detected": False, "seconds": time.monotonic() - start,
                    "detail": "killed: no result within the budget plus 120 s"}
        finally:
            seconds = time.monotonic() - start
            shutil.rmtree(work, ignore_errors=True)
        if p.returncode == 0:
            return {"detected": False, "seconds": seconds, "detail": ""}
        # atheris prints the uncaught Python exception on stdout, libFuzzer on stderr
        return {"detected": True, "seconds": seconds, "detail": why(p.stdout + "\n" + p.stderr)}

    def seeds(self) -> Dict[str, str]:
        out = {"libfuzzer": os.path.join(self.top, "seeds", "core_ops")}
        sh([sys.executable, os.path.join(self.src, "fuzz", "core_ops_seeds.py"), out["libfuzzer"]])
        for engine, script in HARNESSES.items():
            out[engine] = os.path.join(self.top, "seeds", engine)
            sh([sys.executable, os.path.join(self.src, "fuzz", script), "--write-seeds",
                out[engine]], env=self.env)
        return out


def why(stderr: str) -> str:
    """What a coverage-guided engine reported: a divergence or broken invariant if it says
    one, else the Python exception (atheris) or libFuzzer's own error line."""
    lines = stderr.splitlines()
    for marks in (("Divergence", "invariant broken"), ("Error:", "Exception:"), ("ERROR:",)):
        found = [ln.strip() for ln in lines if any(m in ln for m in marks)]
        if found:
            return found[0][:160]
    return "exit"


def has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def measure(tree: Tree, m: Optional[Mutant], engines: List[str], budget: float,
            campaign_seeds: int, seeds: Dict[str, str], seed_base: int = 1000
            ) -> List[Dict[str, Any]]:
    dialect = m.dialect if m else "upstream"
    rows = []
    for engine in engines:
        if engine == "libfuzzer" and (not tree.fuzzer or (m is not None and not m.native)):
            continue  # the C++ target fuzzes the core alone: a model bug is out of its reach
        if engine == "campaign":
            runs = [tree.python_engine("campaign", dialect, budget, seed_base * (k + 1))
                    for k in range(campaign_seeds)]
        elif engine == "statemachine":
            runs = [tree.python_engine("statemachine", dialect, budget, 0)]
        elif engine in HARNESSES:
            script = os.path.join(tree.src, "fuzz", HARNESSES[engine])
            runs = [tree.libfuzzer_engine([sys.executable, "-S", script], seeds[engine],
                                          budget, 1)]
        else:
            assert tree.fuzzer
            runs = [tree.libfuzzer_engine([tree.fuzzer], seeds["libfuzzer"], budget, 1)]
        found = [r["seconds"] for r in runs if r["detected"]]
        timed = [t for t in found if t == t]  # a crashed run was found, but says no time
        rows.append({"mutant": m.name if m else "(none)", "what": m.what if m else "",
                     "engine": engine, "runs": len(runs), "detected": len(found),
                     "seconds": statistics.median(timed) if timed else (float("nan") if found else None),
                     "max_seconds": max(timed) if timed else None,
                     "crashes": len(found) - len(timed),
                     "detail": next((r["detail"] for r in runs if r["detected"]), runs[0]["detail"])})
        print(f"  {rows[-1]['mutant']:<36} {engine:<12} {len(found)}/{len(runs)} "
              f"{rows[-1]['seconds']}", file=sys.stderr, flush=True)
    return rows


def cell(r: Optional[Dict[str, Any]], budget: float) -> str:
    """``0.4 s`` (one run), ``0.1 s (max 0.4, 3/3)`` (median of several), ``crash``
    (the engine's process died: found, at an unknown time), ``not in 20 s``, or ``n/a``."""
    if r is None:
        return "n/a"
    if not r["detected"]:
        return f"not in {budget:.0f} s"
    if r["seconds"] != r["seconds"]:  # NaN: every detecting run crashed
        return "crash"
    if r["runs"] == 1:
        return f"{r['seconds']:.1f} s"
    most = "" if r["max_seconds"] in (None, r["seconds"]) else f"max {r['max_seconds']:.1f}, "
    crashes = f", {r['crashes']} by a crash" if r.get("crashes") else ""
    return f"{r['seconds']:.1f} s ({most}{r['detected']}/{r['runs']}{crashes})"


def table(rows: List[Dict[str, Any]], budget: float) -> str:
    """One row per mutant, one column per engine."""
    engines = [e for e in ENGINES if any(r["engine"] == e for r in rows)]
    out = ["| mutant | planted bug | " + " | ".join(engines) + " |",
           "|---|---|" + "---|" * len(engines)]
    for name in dict.fromkeys(r["mutant"] for r in rows):
        mine = {r["engine"]: r for r in rows if r["mutant"] == name}
        what = (next(iter(mine.values()))["what"] or "none (the tree as it is)").replace("|", "\\|")
        out.append(f"| {name} | {what} | " +
                   " | ".join(cell(mine.get(e), budget) for e in engines) + " |")
    return "\n".join(out)


def summary(rows: List[Dict[str, Any]], budget: float) -> str:
    """One row per engine: how many of the mutants it ran on it found (in all its runs, in
    some), and the median and slowest of its times to detect (a run's median, for the
    campaign's several); whether it flagged the unmutated tree."""
    out = ["| engine | mutants found (all runs) | found by some run | median time | slowest "
           "| flagged the unmutated tree |", "|---|---|---|---|---|---|"]
    for engine in ENGINES:
        mine = [r for r in rows if r["engine"] == engine and r["mutant"] != "(none)"]
        if not mine:
            continue
        clean = [r for r in rows if r["engine"] == engine and r["mutant"] == "(none)"]
        every = [r for r in mine if r["detected"] == r["runs"]]
        some = [r for r in mine if r["detected"]]
        times = [r["seconds"] for r in some if r["seconds"] is not None
                 and r["seconds"] == r["seconds"]]
        slowest = [r["max_seconds"] for r in some if r["max_seconds"] is not None]
        out.append(f"| {engine} | {len(every)}/{len(mine)} | {len(some)}/{len(mine)} | "
                   + (f"{statistics.median(times):.1f} s" if times else "-") + " | "
                   + (f"{max(slowest):.1f} s" if slowest else "-") + " | "
                   + ("yes" if any(r["detected"] for r in clean) else "no" if clean else "-")
                   + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per engine run (20)")
    ap.add_argument("--campaign-seeds", type=int, default=3, help="campaign runs per mutant (3)")
    ap.add_argument("--seed-base", type=int, default=1000,
                    help="campaign run k starts at seed SEED_BASE * (k + 1) (1000)")
    ap.add_argument("--only", help="comma-separated mutant names")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--deadline", type=float,
                    help="minutes: start no mutant after this (the ones left are listed as not "
                         "measured), so a run ends in about this plus one mutant's time")
    ap.add_argument("--table-from", help="only print the table of rows an earlier --json wrote")
    args = ap.parse_args()
    if args.table_from:
        with open(args.table_from) as f:
            rows = json.load(f)
        print(table(rows, args.budget) + "\n\n" + summary(rows, args.budget))
        return 0
    engines = [e for e in args.engines.split(",") if e not in HARNESSES or has_atheris()]
    skipped: List[str] = []
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only.split(",")]
    top = tempfile.mkdtemp(prefix="mprog-strength-")
    started = time.monotonic()
    try:
        tree = Tree(top)
        tree.configure(libfuzzer="libfuzzer" in engines)  # its build only where it runs
        tree.build()
        seeds = tree.seeds()
        rows = measure(tree, None, engines, args.budget, args.campaign_seeds, seeds,
                       args.seed_base)
        for i, m in enumerate(chosen):
            if args.deadline is not None and time.monotonic() - started > args.deadline * 60:
                skipped = [x.name for x in chosen[i:]]
                break
            text = tree.apply(m)
            try:
                tree.build()
                rows += measure(tree, m, engines, args.budget, args.campaign_seeds, seeds,
                                args.seed_base)
            finally:
                tree.restore(m, text)
            if args.json:  # as it goes: a run stopped early keeps what it measured
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    load = os.getloadavg()
    print(table(rows, args.budget))
    print()
    print(summary(rows, args.budget))
    if skipped:
        print(f"\nnot measured (the deadline of {args.deadline:g} min): {', '.join(skipped)}")
    print(f"\n{len(chosen) - len(skipped)} mutants, {time.monotonic() - started:.0f} s in all; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"on {os.cpu_count()} cores")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
