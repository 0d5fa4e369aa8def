"""One engine against the tree this Python imports mprog from; prints one JSON line:
``{"engine": ..., "detected": bool, "seconds": float, "detail": str}``.

    python -S fuzz/strength/engine.py campaign|statemachine DIALECT BUDGET_SECONDS SEED [--exit-status]

With ``--exit-status`` it also exits 1 when the engine found something: the test command of a
mutation tool (``fuzz/strength/mutation.py``), for which a failing test kills the mutant.
Run by ``fuzz/strength/run.py`` inside the mutated copy of the tree (``-S`` keeps an editable
install's import hook from pointing ``import mprog`` back at the working tree). The coverage-
guided engines (atheris, libFuzzer) are plain processes the runner starts itself.

- ``campaign``: what ``python -m mprog fuzz`` runs by default (core against model, traces of
  150 ops, trace i seeded SEED + i, one trace in FULL_EVERY checked in full), stopping at the
  first divergence.
- ``statemachine``: the hypothesis state machine of tests/test_differential.py (core against
  model), generation only (no shrinking, no example database), until its first failure.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict


def campaign(dialect: str, budget: float, seed: int) -> Dict[str, Any]:
    from mprog.differential import backends
    from mprog.differential.campaign import FULL_EVERY, run_trace_seed

    modules = backends.resolve(("core", "model"))
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < budget:
        _, divergence, _ = run_trace_seed(modules, dialect, seed + i, 150,
                                          full=i % FULL_EVERY == 0)
        if divergence is not None:
            return {"detected": True, "seconds": time.monotonic() - start,
                    "detail": f"trace {i}: {divergence.kind}: {divergence.message}"}
        i += 1
    return {"detected": False, "seconds": time.monotonic() - start, "detail": f"{i} traces"}


def statemachine(dialect: str, budget: float, seed: int) -> Dict[str, Any]:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "tests")
    sys.path.insert(0, tests)
    import test_differential as td

    machine = td.machine(td.need("core", "model"), dialect)
    run = settings(max_examples=10**6, stateful_step_count=30, deadline=None, database=None,
                   phases=(Phase.generate,), suppress_health_check=list(HealthCheck))
    start = time.monotonic()
    examples = 0
    out_of_time = False

    class Timed(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            nonlocal examples, out_of_time
            examples += 1
            if time.monotonic() - start > budget:
                out_of_time = True  # hypothesis may wrap what this raises: remember it
                raise TimeoutError
            super().__init__()

    try:
        run_state_machine_as_test(Timed, settings=run)
    except BaseException as e:  # noqa: BLE001 - any other failure is a detection
        if out_of_time:
            return {"detected": False, "seconds": time.monotonic() - start,
                    "detail": f"{examples} examples"}
        text = str(e).strip().splitlines()
        return {"detected": True, "seconds": time.monotonic() - start,
                "detail": f"example {examples}: {type(e).__name__}: {text[0] if text else ''}"}
    return {"detected": False, "seconds": time.monotonic() - start,
            "detail": f"{examples} examples"}


def main() -> None:
    engine, dialect, budget, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    import mprog
    result = {"campaign": campaign, "statemachine": statemachine}[engine](dialect, budget, seed)
    result["engine"] = engine
    result["mprog"] = os.path.dirname(mprog.__file__)
    print(json.dumps(result))
    if "--exit-status" in sys.argv[5:] and result["detected"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
