"""The result of ``Bundle.query``: the chain as the kernel reports it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class QueryResult:
    """Revision, total count and per-entry arrays, in chain order.

    ``count`` is the chain's total; the arrays hold as many entries as were asked for
    (all of them unless ``query(count=...)`` asked for fewer).
    """

    revision: int
    count: int
    prog_ids: Tuple[int, ...] = ()
    link_ids: Tuple[int, ...] = ()
    prog_attach_flags: Tuple[int, ...] = ()
    link_attach_flags: Tuple[int, ...] = ()
