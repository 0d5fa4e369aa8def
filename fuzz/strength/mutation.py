"""Mutation score of the model's rule files against the default campaign, with cosmic-ray.

    pip install cosmic-ray
    python fuzz/strength/mutation.py [--files python/mprog/model/upstream.py,...] [--budget 2]

Opt-in (not in the test run, not in CI): cosmic-ray makes every mutant its operators give for a
file (a compared value, an operator, a constant, a removed ``not``, ...; ~250 for the upstream
rules) and runs a test command on each; here that command is a short default campaign (core
against model, the file's dialect, ``--budget`` seconds, ``engine.py campaign ... --exit-status``),
so a mutant is *killed* when the campaign finds a divergence. As ``run.py`` does, everything
happens in a temporary copy of the tree (cosmic-ray writes the mutants into the files it
tests), with the extension built there. Prints the score per file and every survivor's diff,
to be read one by one: an equivalent mutant (same behaviour, nothing to find) or a blind spot
of the generator.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import Tree  # noqa: E402

FILES = ("python/mprog/model/upstream.py", "python/mprog/model/v2.py")


def config(path: str, module: str, command: str, timeout: float) -> None:
    with open(path, "w") as f:
        f.write(f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout}\n'
                f'excluded-modules = []\ntest-command = "{command}"\n\n'
                '[cosmic-ray.distributor]\nname = "local"\n')


def score(tree: Tree, relpath: str, budget: float, seed: int) -> Dict[str, Any]:
    dialect = "v2" if relpath.endswith("v2.py") else "upstream"
    work = os.path.join(tree.top, os.path.basename(relpath).replace(".py", ""))
    os.makedirs(work)
    cfg, session = os.path.join(work, "config.toml"), os.path.join(work, "session.sqlite")
    command = (f"{sys.executable} -S {os.path.join(tree.src, 'fuzz', 'strength', 'engine.py')} "
               f"campaign {dialect} {budget} {seed} --exit-status")
    config(cfg, os.path.join(tree.src, relpath), command, budget + 60)
    run = dict(cwd=tree.src, env=tree.env, check=True)
    subprocess.run(["cosmic-ray", "init", cfg, session], **run)  # type: ignore[arg-type]
    # the unmutated file must pass, or every mutant would count as killed
    subprocess.run(["cosmic-ray", "baseline", cfg], **run)  # type: ignore[arg-type]
    subprocess.run(["cosmic-ray", "exec", cfg, session], **run)  # type: ignore[arg-type]
    dump = subprocess.run(["cosmic-ray", "dump", session], cwd=tree.src, env=tree.env,
                          check=True, capture_output=True, text=True).stdout
    outcomes: Dict[str, int] = {}
    survivors: List[Dict[str, Any]] = []
    for line in filter(None, dump.splitlines()):
        item, result = json.loads(line)
        outcome = (result or {}).get("test_outcome") or "not run"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "survived":
            spec = item["mutations"][0]
            survivors.append({"operator": spec["operator_name"], "occurrence": spec["occurrence"],
                              "line": spec["start_pos"][0], "diff": result.get("diff", "")})
    return {"file": relpath, "dialect": dialect, "budget": budget, "outcomes": outcomes,
            "survivors": survivors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default=",".join(FILES))
    ap.add_argument("--budget", type=float, default=2.0, help="campaign seconds per mutant (2)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", help="work in this new directory and keep it (the sessions: "
                    "cosmic-ray dump DIR/NAME/session.sqlite, even of a run stopped early)")
    args = ap.parse_args()
    if not shutil.which("cosmic-ray"):
        raise SystemExit("cosmic-ray is not installed: pip install cosmic-ray")
    top = args.keep or tempfile.mkdtemp(prefix="mprog-mutation-")
    if args.keep:
        os.makedirs(top)
    try:
        tree = Tree(top)
        tree.configure(libfuzzer=False)
        tree.build()
        results = [score(tree, f, args.budget, args.seed) for f in args.files.split(",")]
    finally:
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)
    for r in results:
        o = r["outcomes"]
        killed, survived = o.get("killed", 0), o.get("survived", 0)
        print(f"{r['file']} ({r['dialect']} campaign, {r['budget']:g} s per mutant): "
              f"{killed} killed, {survived} survived, other {json.dumps(o)}; "
              f"score {killed / max(1, killed + survived):.1%}")
        for s in r["survivors"]:
            print(f"--- survivor: {s['operator']} #{s['occurrence']} at line {s['line']}\n"
                  f"{s['diff']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
