"""Read, plan, apply; and again on ESTALE: the optimistic-concurrency loop of a BPF daemon.

Every change can be guarded by ``expected_revision``; when another writer got there first the
change fails with ``StaleRevision`` and nothing happened. ``retry`` re-reads the chain and
calls the plan again, with exponential backoff and jitter between attempts.
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable, Optional, TypeVar

from .errors import StaleRevision
from .query import QueryResult

T = TypeVar("T")

__all__ = ["retry"]


def retry(bundle: Any, plan: Callable[[QueryResult], T], *, attempts: int = 8,
          backoff: float = 0.0005, max_backoff: float = 0.05,
          sleep: Callable[[float], None] = time.sleep,
          rng: Optional[random.Random] = None) -> T:
    """Call ``plan(bundle.query())`` until it does not raise ``StaleRevision``.

    ``plan`` must make its changes with ``expected_revision=state.revision`` (or in one
    ``bundle.transaction(expected_revision=state.revision)``), so that a change planned
    against an old state is refused rather than applied. After ``attempts`` stale tries the
    last ``StaleRevision`` propagates. Returns what ``plan`` returns.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    jitter = rng or random.Random()
    delay = backoff
    for attempt in range(attempts):
        try:
            return plan(bundle.query())
        except StaleRevision:
            if attempt == attempts - 1:
                raise
            sleep(delay * (0.5 + jitter.random()))
            delay = min(delay * 2, max_backoff)
    raise AssertionError("unreachable")
