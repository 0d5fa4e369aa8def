"""``Manager``: keep the programs it manages in priority order on one chain, without a lock.

Every change is planned from one query and guarded by that query's revision; when another
writer got there first the change is refused (ESTALE) and changes nothing, and the manager
reads again and plans again (``mprog.retry``, with backoff), counting each retry in
``retries``. Managers of one chain that agree on priorities therefore converge on one order,
in threads or in processes, whichever of them runs first.
"""
from __future__ import annotations

import random
import threading
from typing import Any, Callable, Dict, List, Literal, Optional, Set, overload

from ..anchors import Anchor
from ..retry import retry
from . import dialects, policy
from .execute import RefusedRelative, execute
from .plan import Plan, placement, removal
from .shared import Priorities, PriorityOf
from .view import Known, View, view_of


class Manager:
    """Places programs on ``bundle`` (any backend's) so that they run in priority order.

    ``priority_of``: the priorities of programs other managers placed (a function of a program
    id, or a store this manager also writes; see ``mprog.priority.shared``); programs without
    one are foreign and are never moved. ``anchor``: the bound of where managed programs go
    (``Head()``, ``Tail()``, ``Before(x)``, ``After(x)``; see ``mprog.priority.policy``).
    ``attempts``: reads per operation before a ``StaleRevision`` is given up and raised.
    A manager's own methods are serialized by a lock; managers share nothing but the chain.

    cgroup bundles: the list must be an ALLOW_MULTI list (or empty); one held in mode none
    or ALLOW_OVERRIDE is refused with EPERM before any change (``mprog.priority.dialects``).
    The manager tracks its links itself (the query's link ids are 0 there).
    """

    def __init__(self, bundle: Any, priority_of: Optional[PriorityOf] = None, *,
                 anchor: Optional[Anchor] = None, attempts: int = 16) -> None:
        policy.check_bound(anchor)
        dialects.check(bundle.dialect)
        self.bundle = bundle
        self.anchor = anchor
        self.attempts = attempts
        #: Every read-again after a refused (stale) change, over the manager's life.
        self.retries = 0
        self._priorities = Priorities(priority_of)
        self._programs: Dict[int, Any] = {}
        self._links: Dict[int, Any] = {}
        self._lock = threading.RLock()
        self._atomic: Optional[bool] = None
        #: cgroup: programs the kernel refused as a relative while they stay in the list.
        self._refused: Set[int] = set()
        self._jitter = random.Random()  # one per manager: seeding one per call costs ~20 us

    # -- what it manages -----------------------------------------------------------------

    def __contains__(self, prog: Any) -> bool:
        return prog.id in self._programs

    def priority(self, prog: Any) -> int:
        """The priority this manager gave ``prog`` (KeyError if it does not manage it)."""
        found = self._priorities.own(self._managed(prog).id)
        assert found is not None, "every managed program has its own priority"
        return found

    def link_of(self, prog: Any) -> Optional[Any]:
        """The link holding ``prog`` if it was placed with ``link=True`` (a move makes a new
        one: the manager owns its links, and closes the old one)."""
        return self._links.get(self._managed(prog).id)

    def programs(self) -> List[Any]:
        """The programs this manager manages (placed and not removed)."""
        return list(self._programs.values())

    # -- changes -------------------------------------------------------------------------

    @overload
    def place(self, prog: Any, priority: int, *, link: Literal[True]) -> Any: ...

    @overload
    def place(self, prog: Any, priority: int, *, link: Literal[False] = False) -> None: ...

    @overload
    def place(self, prog: Any, priority: int, *, link: bool) -> Optional[Any]: ...

    def place(self, prog: Any, priority: int, *, link: bool = False) -> Optional[Any]:
        """Attach ``prog`` (or link it: returns the Link) where ``priority`` puts it."""
        _check_priority(priority)
        with self._lock:
            if prog.id in self._programs:
                raise ValueError(f"program {prog.id} is already managed: use reprioritize()")
            self._priorities.set(prog.id, priority)
            self._programs[prog.id] = prog
            try:
                return self._settle(prog, link_mode=link, move=False)
            except BaseException:
                self._forget(prog)
                raise

    def reprioritize(self, prog: Any, priority: int) -> Optional[Any]:
        """Give ``prog`` a new priority and move it if its place no longer fits.

        One change where the backend has transactions (a move by program is a detach and an
        attach staged together); on the live kernel a detach and a guarded attach. With a
        store other managers read, the program leaves the chain before its stored priority
        changes, then is placed again (two changes), so nobody sees it in a wrong place.
        Returns its link if it was placed with ``link=True``.
        """
        _check_priority(priority)
        with self._lock:
            self._managed(prog)
            link_mode = prog.id in self._links
            old = self._priorities.own(prog.id)
            assert old is not None
            if self._priorities.writable and old != priority:
                self._run(lambda view: removal(view, prog, self._links.get(prog.id)),
                          placing=False)
                self._links.pop(prog.id, None)
            self._priorities.set(prog.id, priority)
            try:
                return self._settle(prog, link_mode=link_mode, move=False)
            except BaseException:  # not placed anew: it keeps the priority it had
                self._priorities.set(prog.id, old)
                raise

    def remove(self, prog: Any) -> None:
        """Take ``prog`` out of the chain (if it is still there) and stop managing it."""
        with self._lock:
            self._managed(prog)
            self._run(lambda view: removal(view, prog, self._links.get(prog.id)),
                      placing=False)
            self._forget(prog)

    def plan(self, prog: Any, priority: Optional[int] = None, *,
             link: Optional[bool] = None) -> Plan:
        """The calls ``place(prog, priority)`` (or, for a managed program, ``reprioritize``)
        would make now, from one query, without making them. Where the backend has ``explain``
        the plan carries its dry run of the first call."""
        with self._lock:
            managed = prog.id in self._programs
            if priority is None:
                if not managed:
                    raise TypeError("plan() of a program not managed needs its priority")
                priority = self._priorities.own(prog.id)
            assert priority is not None
            _check_priority(priority)
            link_mode = (prog.id in self._links) if link is None else link
            state = self.bundle.query()
            dialects.check_mode(self.bundle.dialect, state, "plan")
            view = self._view(state, prog.id, priority)
            moving = (managed and self._priorities.writable
                      and self._priorities.own(prog.id) != priority)
            made = placement(view, prog, (priority, prog.id), link_mode=link_mode,
                             link=self._links.get(prog.id), bound=self.anchor,
                             atomic=self._has_transactions() and not moving, move=moving)
            return _explained(self.bundle, made)

    # -- the loop ------------------------------------------------------------------------

    def _settle(self, prog: Any, *, link_mode: bool, move: bool) -> Optional[Any]:
        key = (self._priorities.own(prog.id), prog.id)
        atomic = self._has_transactions()

        def plan(view: View) -> Plan:
            return placement(view, prog, key, link_mode=link_mode,  # type: ignore[arg-type]
                             link=self._links.get(prog.id), bound=self.anchor, atomic=atomic,
                             move=move)

        self._run(plan)
        return self._links.get(prog.id)

    def _run(self, plan: Callable[[View], Plan], placing: bool = True) -> None:
        """Read, plan, make the calls; again (counted) when a change was refused as stale
        (or, cgroup, a relative was refused: it is not named again while it stays)."""
        attempt = 0

        def step(state: Any) -> None:
            nonlocal attempt
            attempt += 1
            if attempt > 1:
                self.retries += 1
            if placing:
                dialects.check_mode(self.bundle.dialect, state, "place")
            made = plan(view_of(state, self._priorities.of, self.bundle.dialect,
                                self._known(state)))
            try:
                new_link = execute(self.bundle, made)
            except RefusedRelative as e:
                self._refused.add(e.prog_id)
                raise
            finally:  # a link the plan closed (a move) is no longer the program's
                old = self._links.get(made.prog_id)
                if old is not None and old.closed:
                    del self._links[made.prog_id]
            if new_link is not None:
                self._links[made.prog_id] = new_link

        retry(self.bundle, step, attempts=self.attempts, rng=self._jitter)

    def _view(self, state: Any, prog_id: int, priority: int) -> View:
        def priority_of(pid: int) -> Optional[int]:
            return priority if pid == prog_id else self._priorities.of(pid)
        return view_of(state, priority_of, self.bundle.dialect, self._known(state))

    def _known(self, state: Any) -> Known:
        """cgroup: what the query does not say (which entries are links, and whose)."""
        if self.bundle.dialect != "cgroup":
            return Known()
        self._refused.intersection_update(state.prog_ids)  # one that left may come back
        links = {pid: link.id for pid, link in self._links.items() if not link.closed}
        bound: Any = getattr(self.anchor, "target", None)
        if policy.is_link(bound) and not bound.closed:
            links.setdefault(bound.prog.id, bound.id)
        return Known(self._programs.keys() - links.keys(), links, self._refused)

    def _has_transactions(self) -> bool:
        if self._atomic is None:
            try:
                self.bundle.transaction().discard()
                self._atomic = True
            except (NotImplementedError, AttributeError):  # the live kernel: one change
                self._atomic = False                       # per syscall; the v2 oracle
        return self._atomic

    def _managed(self, prog: Any) -> Any:
        if prog.id not in self._programs:
            raise KeyError(f"program {prog.id} is not managed here")
        return prog

    def _forget(self, prog: Any) -> None:
        self._programs.pop(prog.id, None)
        self._links.pop(prog.id, None)
        self._priorities.forget(prog.id)

    def __repr__(self) -> str:
        return (f"<priority.Manager of {len(self._programs)} program(s), "
                f"retries={self.retries}>")


def _check_priority(priority: Any) -> None:
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"a priority is an int, not {type(priority).__name__}")


def _explained(bundle: Any, made: Plan) -> Plan:
    if not made.calls or made.calls[0].op not in ("attach", "detach"):
        return made
    first = made.calls[0]
    try:
        why = bundle.explain(first.op, first.prog, first.anchor if first.op == "attach" else 0,
                             expected_revision=made.revision)
    except (NotImplementedError, AttributeError):  # no dry run (the live kernel): the plan
        return made                                 # comes from the query alone
    return Plan(made.prog_id, made.revision, made.calls, made.transaction, made.index, why)
