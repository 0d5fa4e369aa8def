"""The planted-bug report's own pieces (fuzz/strength/run.py): the per-engine summary and
what it says an engine found. The report itself takes minutes and stays out of the test run."""
from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz", "strength"))
_spec = importlib.util.spec_from_file_location("strength_run",
                                               os.path.join(ROOT, "fuzz", "strength", "run.py"))
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)


def _row(mutant, engine, runs, detected, seconds=None, max_seconds=None):
    return {"mutant": mutant, "what": "", "engine": engine, "runs": runs, "detected": detected,
            "seconds": seconds, "max_seconds": max_seconds, "crashes": 0, "detail": ""}


def test_the_summary_counts_each_engine_by_mutant():
    rows = [_row("(none)", "campaign", 3, 0), _row("(none)", "statemachine", 1, 1, 2.0, 2.0),
            _row("a", "campaign", 3, 3, 0.1, 0.4), _row("b", "campaign", 3, 2, 1.0, 5.0),
            _row("c", "campaign", 3, 0),
            _row("a", "statemachine", 1, 1, 3.0, 3.0), _row("b", "statemachine", 1, 0),
            _row("c", "statemachine", 1, 1, float("nan"))]  # found by a crash: no time
    lines = run.summary(rows, 10).splitlines()
    campaign = next(ln for ln in lines if ln.startswith("| campaign "))
    machine = next(ln for ln in lines if ln.startswith("| statemachine "))
    assert campaign == "| campaign | 1/3 | 2/3 | 0.6 s | 5.0 s | no |"
    assert machine == "| statemachine | 2/3 | 2/3 | 3.0 s | 3.0 s | yes |"
    assert not any(ln.startswith("| libfuzzer ") for ln in lines)  # not run: no row


def test_what_a_coverage_guided_engine_found_prefers_the_divergence():
    stderr = ("INFO: Running with entropic power schedule\n"
              "=== Uncaught Python exception: ===\n"
              "Traceback (most recent call last):\n"
              "mprog.differential.trial.Divergence: answer divergence at step 4\n"
              "==12== ERROR: libFuzzer: fuzz target exited\n")
    assert run.why(stderr) == "mprog.differential.trial.Divergence: answer divergence at step 4"
    # what a Python harness prints after a divergence, at exit (not what it found)
    shutdown = ("Divergence: answer divergence at step 11: backends answer differently\n"
                "Exception ignored in: <function _removeHandlerRef at 0x7f>\n"
                "TypeError: 'NoneType' object is not callable\n")
    assert run.why(shutdown).startswith("Divergence: answer divergence at step 11")
    assert run.why("ValueError: record 3: malformed\n==1== ERROR: libFuzzer: deadly signal\n") \
        == "ValueError: record 3: malformed"
    assert run.why("==1== ERROR: AddressSanitizer: heap-buffer-overflow\n").startswith(
        "==1== ERROR: AddressSanitizer")
    assert run.why("") == "exit"
