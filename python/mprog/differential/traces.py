"""Trace files: a diverging (or any) trace as JSON, and comparing backends on one.

Format ``mprog-trace/1``::

    {"format": "mprog-trace/1", "dialect": "upstream", "backends": ["core", "model"],
     "seed": 17, "divergence": {"kind", "step", "message", "report", "problems",
                                "states"} | null,
     "steps": [{"op": {...}, "text": "attach(p0, 0)", "answers": {"core": [...], ...}}, ...]}

Only ``dialect`` and the ops are needed to replay; the rest is the record of what was seen.
Files kept under ``tests/traces/`` add ``"verdict": {"supported", "why"}``: which backend
SPEC.md (or the live kernel) supports, and why. A journal (``fuzz --journal``) is a header line
``{"format": "mprog-journal/1", ...}`` then one op per line; ``load`` reads both.
"""
from __future__ import annotations

import json
import os
from typing import IO, Any, Callable, Dict, List, Optional, cast

from ..ops.vocabulary import Op, describe, validate
from .trial import Divergence, Trial

FORMAT = "mprog-trace/1"
JOURNAL = "mprog-journal/1"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def to_json(dialect: str, backends: List[str], ops: List[Op],
            answers: Optional[List[Dict[str, Any]]] = None,
            divergence: Optional[Divergence] = None, seed: Any = None) -> Dict[str, Any]:
    answers = answers or []
    steps = []
    for i, op in enumerate(ops):
        step: Dict[str, Any] = {"op": op, "text": describe(op, dialect)}
        if i < len(answers):
            step["answers"] = answers[i]
        steps.append(step)
    div = None
    if divergence is not None:
        div = {"kind": divergence.kind, "step": len(divergence.ops) - 1,
               "message": divergence.message, "report": divergence.report(),
               "problems": divergence.problems, "notes": divergence.notes,
               "states": divergence.states}
    # a dict through json.dumps/json.loads comes back a dict
    return cast(Dict[str, Any], _jsonable({"format": FORMAT, "dialect": dialect,
                                           "backends": list(backends), "seed": seed,
                                           "divergence": div, "steps": steps}))


def save(path: str, data: Dict[str, Any]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    return path


def save_divergence(directory: str, backends: List[str], divergence: Divergence,
                    seed: Any = None, name: Optional[str] = None) -> str:
    data = to_json(divergence.dialect, backends, divergence.ops, divergence.answers,
                   divergence, seed)
    if name is None:
        op = divergence.op["op"]
        name = f"divergence-{divergence.dialect}-{'-'.join(backends)}-{divergence.kind}-{op}"
        if seed is not None:
            name += f"-seed{seed}"
        name += ".json"
    return save(os.path.join(directory, name), data)


def open_journal(path: str, dialect: str, backends: List[str], seed: Any) -> IO[str]:
    """A journal: a header line, then one op per line, written before each op runs."""
    f = open(path, "w")
    f.write(json.dumps({"format": JOURNAL, "dialect": dialect, "backends": backends,
                        "seed": seed}) + "\n")
    f.flush()
    return f


def load(path: str) -> Dict[str, Any]:
    """A trace file, or a journal (read as a trace without answers)."""
    with open(path) as f:
        text = f.read()
    first = text.split("\n", 1)[0]
    if JOURNAL in first:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        header, ops = lines[0], lines[1:]
        data = to_json(header["dialect"], header["backends"], ops, seed=header.get("seed"))
    else:
        data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not an {FORMAT} file")
    for step in data["steps"]:
        validate(step["op"])
    return data


def ops_of(data: Dict[str, Any]) -> List[Op]:
    return [step["op"] for step in data["steps"]]


def compare(backends: Dict[str, Any], dialect: str, ops: List[Op],
           echo: Optional[Callable[[str], None]] = None) -> Optional[Divergence]:
    """Run ``ops`` on a fresh trial, echoing each op and each backend's answer."""
    with Trial(backends, dialect) as trial:
        for i, op in enumerate(ops):
            try:
                answers = trial.step(op)
            except Divergence as d:
                if echo:
                    echo(f"{i:4d} {describe(op, dialect)}")
                    for name, answer in d.answers[-1].items():
                        echo(f"       {name:>8}: {json.dumps(answer)}")
                    echo(d.report())
                return d
            if echo:
                echo(f"{i:4d} {describe(op, dialect)}")
                for name, answer in answers.items():
                    echo(f"       {name:>8}: {json.dumps(answer)}")
    return None
