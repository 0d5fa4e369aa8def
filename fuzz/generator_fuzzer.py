"""Coverage-guided differential fuzzing, the generator way: the C++ core against the model,
driven by atheris (libFuzzer for Python).

The input is the entropy of the campaign's own op generator: every random choice the
generator makes (which op, which flags, which relative, which revision) reads the next bytes
of the input, so libFuzzer's mutations and its coverage feedback (of the model's Python and of
the binding) steer the same structured operations ``python -m mprog fuzz`` draws at random.
Any divergence or broken invariant raises, and libFuzzer keeps the input.

    pip install '.[fuzz]'
    python fuzz/generator_fuzzer.py -max_total_time=60 CORPUS_DIR
    python fuzz/generator_fuzzer.py --write-seeds DIR      # a seed corpus
    python fuzz/generator_fuzzer.py CRASH_FILE              # replay one input

The first input byte picks the dialect; a trace ends when the input does (or at MAX_OPS).
"""
from __future__ import annotations

import pathlib
import random
import sys
from typing import Any, List

MAX_OPS = 64


class InputRandom(random.Random):
    """A ``random.Random`` whose every draw reads the next bytes of a fuzz input.

    ``random()`` reads one byte and ``getrandbits(k)`` reads ``ceil(k / 8)``: a mutated byte
    changes one decision. ``choice``, ``randint`` and ``shuffle`` go through these two. When the
    input is used up every draw is 0 and ``exhausted`` is set.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0
        super().__init__(0)

    @property
    def exhausted(self) -> bool:
        return self._at >= len(self._data)

    def _take(self, n: int) -> int:
        chunk = self._data[self._at:self._at + n]
        self._at += n
        return int.from_bytes(chunk, "little") if chunk else 0

    def random(self) -> float:
        return self._take(1) / 256.0

    def getrandbits(self, k: int) -> int:
        return self._take((k + 7) // 8) & ((1 << k) - 1) if k else 0

    def seed(self, *args: Any, **kwargs: Any) -> None:  # the input is the only entropy
        super().seed(0)


def run_input(data: bytes) -> None:
    """Run the trace ``data`` encodes on core and model; raises ``Divergence`` on a difference.

    As a campaign does: the engine's generator and trial (``mprog.ops``, ``mprog.differential``),
    digests compared after every step and the full states and invariants at the end.
    """
    import mprog
    from mprog import model
    from mprog.differential.campaign import weights_for
    from mprog.differential.trial import Trial
    from mprog.ops import Generator

    if not data:
        return
    dialect = "v2" if data[0] & 1 else "upstream"
    rng = InputRandom(data[1:])
    with Trial({"core": mprog, "model": model}, dialect, full=False) as trial:
        generator = Generator(dialect, rng, weights_for(trial))
        while len(trial.ops) < MAX_OPS and not rng.exhausted:
            for op in generator.next(trial.view):
                trial.step(op)
        trial.check_full()


def write_seeds(directory: str) -> None:
    """A few inputs of plain random bytes per dialect: long enough for a trace of MAX_OPS."""
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(8):
        body = random.Random(i).randbytes(600)
        (out / f"seed-{i}").write_bytes(bytes((i & 1,)) + body)


def main(argv: List[str]) -> None:
    if len(argv) == 3 and argv[1] == "--write-seeds":
        write_seeds(argv[2])
        return
    import atheris

    # Import what the harness runs, then instrument every loaded function for coverage
    # (instrument_imports misses modules an editable install loads through its own finder).
    import mprog  # noqa: F401
    import mprog.differential.campaign  # noqa: F401
    import mprog.model  # noqa: F401
    import mprog.ops  # noqa: F401
    atheris.instrument_all()
    atheris.Setup(argv, run_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
