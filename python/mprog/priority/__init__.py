"""Priorities on top of anchors: keep managed programs in priority order on one chain.

    from mprog.priority import Manager
    m = Manager(bundle)                 # any backend's bundle: core, model, live kernel
    m.place(audit, 10)                  # lower runs first; ties by program id
    link = m.place(stats, 20, link=True)
    m.reprioritize(audit, 30)           # one change where the backend has transactions
    m.remove(stats)
    print(m.plan(policy, 15))           # the exact calls place() would make, not made
    m.retries                           # reads again after a refused (stale) change

Built on the public protocol only (query, anchors, ``expected_revision``, detach, links,
transactions where they exist, ``mprog.retry``), so it runs unchanged on the live kernel, in
the tcx dialects and on cgroup lists (``mprog.priority.dialects`` says what differs there).
The placement policy is ``mprog.priority.policy``'s docstring; README.md has the guide.
"""
from __future__ import annotations

from .manager import Manager
from .plan import Call, Plan

__all__ = ["Call", "Manager", "Plan"]
