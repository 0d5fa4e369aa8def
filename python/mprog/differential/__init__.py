"""Differential fuzzing: the same operations on several backends, compared after every step.

- ``ops``: the operation vocabulary (plain JSON-able dicts; objects named by label).
- ``side``: one backend's objects in a trial, and normalized answers and states.
- ``trial``: ``Trial`` drives N backends in lockstep; ``Divergence`` reports a difference.
- ``invariants``: what must hold in every backend after every step.
- ``generate``: the seeded, biased random operation generator.
- ``minimize``: delta debugging of a diverging trace.
- ``traces``: trace files (JSON) and replay.
- ``campaign``: random traces until a budget is spent (``python -m mprog fuzz``).
"""
from __future__ import annotations

from .backends import BackendUnavailable, available, load, resolve
from .campaign import CampaignResult, Found, run_campaign, run_trace_seed
from .generate import Generator
from .minimize import minimize, relabel
from .ops import OPS, describe
from .traces import load as load_trace
from .traces import replay, save_divergence, to_json
from .trial import Divergence, Trial, run_trace

__all__ = ["BackendUnavailable", "CampaignResult", "Divergence", "Found", "Generator", "OPS",
           "Trial", "available", "describe", "load", "load_trace", "minimize", "relabel",
           "replay", "resolve", "run_campaign", "run_trace", "run_trace_seed",
           "save_divergence", "to_json"]
