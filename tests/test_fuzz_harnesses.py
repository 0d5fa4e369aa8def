"""The fuzz harnesses' own pieces (fuzz/): what CI's bounded runs and the strength report rely on.

- The generator harness's input decoding is deterministic and reads the input in order, and its
  seeds run on core and model without a divergence (atheris itself is not needed here).
- The hypothesis harness's ``fuzz_one_input`` reads any bytes as a trace, runs it, and raises
  on a divergence (a planted model bug); its seeds run clean.
- The libFuzzer target's seeds are whole records.
- Every planted bug of the strength report still applies: its snippet occurs exactly once in
  its file. A change to a rule file that moves a snippet fails here, so the mutant gets
  updated with it instead of silently measuring nothing.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(relpath: str, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


differential = load("fuzz/generator_fuzzer.py", "generator_fuzzer")
traces = load("fuzz/differential_fuzzer.py", "differential_fuzzer")
seeds = load("fuzz/core_ops_seeds.py", "core_ops_seeds")
mutants = load("fuzz/strength/mutants.py", "strength_mutants")


def test_input_random_reads_the_input_in_order():
    r = differential.InputRandom(bytes([0, 128, 255, 1, 2]))
    assert r.random() == 0.0 and r.random() == 0.5 and r.random() == 255 / 256
    assert r.getrandbits(16) == 0x0201 and r.exhausted
    assert r.getrandbits(8) == 0 and r.random() == 0.0  # used up: every draw is 0
    again = differential.InputRandom(bytes(range(40)))
    other = differential.InputRandom(bytes(range(40)))
    assert [again.randint(0, 9) for _ in range(10)] == [other.randint(0, 9) for _ in range(10)]


def test_differential_seeds_run_without_divergence(tmp_path):
    differential.write_seeds(str(tmp_path))
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 2 and {f.read_bytes()[0] & 1 for f in files} == {0, 1}
    for f in files:
        differential.run_input(f.read_bytes())  # raises Divergence on a difference


def test_hypothesis_harness_runs_any_bytes_as_a_trace(tmp_path):
    fuzz_one_input = traces.differential_test().hypothesis.fuzz_one_input
    traces.write_seeds(str(tmp_path))
    for f in sorted(tmp_path.iterdir()):
        fuzz_one_input(f.read_bytes())  # raises Divergence on a difference
    fuzz_one_input(b"")  # too short for a trace: hypothesis rejects it, no error
    fuzz_one_input(bytes(2000))


def test_hypothesis_harness_finds_a_planted_model_bug(monkeypatch):
    """A model whose detach answers ENOENT where it succeeded: some input must diverge."""
    import errno
    import random

    from mprog import model
    from mprog.differential.trial import Divergence

    real = model.Bundle.detach

    def lying(self, *args, **kw):
        real(self, *args, **kw)
        raise model.NotFound(errno.ENOENT, "planted")

    monkeypatch.setattr(model.Bundle, "detach", lying)
    fuzz_one_input = traces.differential_test().hypothesis.fuzz_one_input
    rng = random.Random(1)
    with pytest.raises(Divergence):
        for _ in range(200):
            fuzz_one_input(rng.randbytes(1500))


def test_core_ops_seeds_are_whole_records():
    written = seeds.seeds()
    assert written
    for name, data in written.items():
        assert (len(data) - 1) % 8 == 0, name
        assert data[0] == (1 if name.startswith("v2") else 0), name


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.name)
def test_planted_bug_still_applies(mutant):
    with open(os.path.join(ROOT, mutant.file)) as f:
        text = f.read()
    assert text.count(mutant.old) == 1, (
        f"{mutant.name}: its snippet occurs {text.count(mutant.old)} times in {mutant.file}; "
        "update fuzz/strength/mutants.py to the file as it is now")
    assert mutant.old != mutant.new
