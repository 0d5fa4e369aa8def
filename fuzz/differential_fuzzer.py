"""Coverage-guided differential fuzzing through hypothesis: the C++ core against the reference
model, on traces drawn by ``mprog.ops.strategies``, mutated by atheris (libFuzzer for Python).

``differential_test()`` is an ordinary ``@given`` test: a dialect and a trace of ops in the one
vocabulary, run by a ``Trial`` as a campaign runs it (answers and digests compared after every
step, full states and invariants at the end). atheris calls its
``.hypothesis.fuzz_one_input(data)``, so the fuzz input is the choice sequence hypothesis draws
the trace from: a mutated byte changes one choice of one op (its kind, a flag case, a label),
and coverage of the model's Python and of the binding steers toward new structured traces.
A divergence raises; libFuzzer keeps the input, and replaying it gives the same trace.

    pip install '.[fuzz]'
    python fuzz/differential_fuzzer.py -max_total_time=60 CORPUS_DIR
    python fuzz/differential_fuzzer.py --write-seeds DIR      # a seed corpus
    python fuzz/differential_fuzzer.py CRASH_FILE              # replay one input (prints the trace)

``fuzz/generator_fuzzer.py`` is the other harness: the campaign's own generator with its
random draws read from the input.
"""
from __future__ import annotations

import json
import pathlib
import random
import sys
from typing import Any, Dict, List

MAX_OPS = 48  # draws per trace (a fill is one draw)
REPLAYING = False  # replaying one input: print the trace of a divergence


def run_case(case: Dict[str, Any]) -> None:
    """Core and model run ``case["ops"]`` alike, or ``Divergence`` (an AssertionError)."""
    import mprog
    from mprog import model
    from mprog.differential.trial import Divergence, Trial

    with Trial({"core": mprog, "model": model}, case["dialect"], full=False) as trial:
        try:
            trial.run(case["ops"])
            trial.check_full()
        except Divergence:
            if REPLAYING:
                print(json.dumps(case), file=sys.stderr)
            raise


def differential_test() -> Any:
    """The ``@given`` test; made on demand so that the harness instruments mprog for coverage
    before hypothesis is imported (instrumenting hypothesis's own engine costs ~10x)."""
    from hypothesis import HealthCheck, given, settings

    from mprog.ops.strategies import dialect_traces

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(dialect_traces(max_ops=MAX_OPS))
    def differential(case: Dict[str, Any]) -> None:
        run_case(case)

    return differential


def write_seeds(directory: str) -> None:
    """Inputs of random bytes: hypothesis reads any byte string as a choice sequence."""
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(8):
        (out / f"seed-{i}").write_bytes(random.Random(i).randbytes(1500))


def main(argv: List[str]) -> None:
    global REPLAYING
    if len(argv) == 3 and argv[1] == "--write-seeds":
        write_seeds(argv[2])
        return
    import atheris

    REPLAYING = len(argv) == 2 and pathlib.Path(argv[1]).is_file()
    # Import what the test runs, then instrument every loaded function for coverage
    # (instrument_imports misses modules an editable install loads through its own finder).
    import mprog  # noqa: F401
    import mprog.differential.trial  # noqa: F401
    import mprog.model  # noqa: F401
    import mprog.ops.generate  # noqa: F401
    atheris.instrument_all()
    atheris.Setup(argv, differential_test().hypothesis.fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
