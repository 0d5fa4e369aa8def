"""Differential fuzzing: the same operations on several backends, compared after every step.

The operations, the interpreter that runs one on a backend and the random generator are
``mprog.ops``'s (one vocabulary for every engine); this package compares backends with them.

- ``trial``: ``Trial`` drives N backends in lockstep; ``Divergence`` reports a difference.
- ``invariants``: what must hold in every backend after every step.
- ``minimize``: delta debugging of a diverging trace.
- ``traces``: trace files (JSON), and ``compare``: the backends on one, step by step.
- ``campaign``: random traces until a budget is spent (``python -m mprog fuzz``).
"""
from __future__ import annotations

from .backends import BackendUnavailable, available, load, resolve
from .campaign import CampaignResult, Found, run_campaign, run_trace_seed
from ..ops import OPS, Generator, describe, relabel
from .minimize import minimize
from .traces import load as load_trace
from .traces import compare, save_divergence, to_json
from .trial import Divergence, Trial, run_trace

__all__ = ["BackendUnavailable", "CampaignResult", "Divergence", "Found", "Generator", "OPS",
           "Trial", "available", "describe", "load", "load_trace", "minimize", "relabel",
           "compare", "resolve", "run_campaign", "run_trace", "run_trace_seed",
           "save_divergence", "to_json"]
