"""Shared by the priority tests: a bundle that records the calls made on it (and counts the
ones refused as stale), the two invariants, and the worker of the cross-process test."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from mprog import Head, InvalidArgument, NotFound, StaleRevision, Tail


class Recorder:
    """A bundle that forwards every call and records it: ``calls`` as ``(op, prog id,
    anchor, expected_revision)``; ``stale`` counts the changes refused as stale reads."""

    def __init__(self, bundle: Any, pause: bool = False) -> None:
        self.bundle = bundle
        self.calls: List[Tuple[Any, ...]] = []
        self.stale = 0
        self.pause = pause
        self._lock = threading.Lock()

    dialect = property(lambda self: self.bundle.dialect)

    def query(self, *a: Any) -> Any:
        state = self.bundle.query(*a)
        if self.pause:  # let another thread run between a read and the change planned on it
            time.sleep(0)
        return state

    def explain(self, *a: Any, **kw: Any) -> Any:
        return self.bundle.explain(*a, **kw)

    def attach(self, prog: Any, anchor: Any = 0, expected_revision: int = 0) -> None:
        return self._call("attach", prog, anchor, expected_revision)

    def link(self, prog: Any, anchor: Any = 0, expected_revision: int = 0) -> Any:
        return self._call("link", prog, anchor, expected_revision)

    def detach(self, prog: Any, anchor: Any = 0, expected_revision: int = 0) -> None:
        return self._call("detach", prog, anchor, expected_revision)

    def transaction(self, expected_revision: int = 0) -> "_Transaction":
        return _Transaction(self, self.bundle.transaction(expected_revision=expected_revision),
                            expected_revision)

    def _call(self, op: str, prog: Any, anchor: Any, rev: int) -> Any:
        with self._lock:
            self.calls.append((op, prog.id, anchor or None, rev))
        try:
            return getattr(self.bundle, op)(prog, anchor, expected_revision=rev)
        except (StaleRevision, NotFound, InvalidArgument) as e:
            self.refused(e, op, rev, anchor)
            raise

    def refused(self, e: Exception, op: str, rev: int, anchor: Any = None) -> None:
        """Count a refusal the manager retries: ESTALE; a relative gone at the expected
        revision (tcx: the chain was freed and refilled, a stale read too); in the cgroup
        dialect a relative refused (ENOENT: a link's entry; EINVAL: PREORDER)."""
        relative = anchor is not None and not isinstance(anchor, (int, Head, Tail))
        if isinstance(e, InvalidArgument) and not (self.dialect == "cgroup" and relative):
            return
        if isinstance(e, StaleRevision) or (op != "detach" and rev and relative):
            with self._lock:
                self.stale += 1


class _Transaction:
    def __init__(self, rec: Recorder, tx: Any, rev: int) -> None:
        self.rec, self.tx, self.ops = rec, tx, []
        self.rev = rev

    def attach(self, prog: Any, anchor: Any = 0, expected_revision: int = 0) -> None:
        self._stage("attach", prog, anchor, expected_revision)

    def detach(self, prog: Any, anchor: Any = 0, expected_revision: int = 0) -> None:
        self._stage("detach", prog, anchor, expected_revision)

    def _stage(self, op: str, prog: Any, anchor: Any, rev: int) -> None:
        self.ops.append((op, prog.id, anchor or None, rev))
        try:
            getattr(self.tx, op)(prog, anchor, expected_revision=rev)
        except (StaleRevision, NotFound) as e:  # staged on a chain newer than the read
            self.rec.refused(e, op, rev, anchor)
            raise

    def discard(self) -> None:
        self.tx.discard()

    def __enter__(self) -> "_Transaction":
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.tx.discard()
            return
        with self.rec._lock:
            self.rec.calls.append(("transaction", self.rev, tuple(self.ops)))
        try:
            self.tx.commit()
        except StaleRevision:
            with self.rec._lock:
                self.rec.stale += 1
            raise


def managed_in_order(prog_ids: Any, priorities: Dict[int, int]) -> bool:
    """The managed programs of a chain run in (priority, id) order."""
    keys = [(priorities[p], p) for p in prog_ids if p in priorities]
    return keys == sorted(keys)


def foreign_order(prog_ids: Any, foreign: Any) -> List[int]:
    return [p for p in prog_ids if p in foreign]


# ---- the cross-process test: one worker, a Manager in a process of its own ----

def priority_in_name(name: str) -> Optional[int]:
    """The rule of the name-sharing test: a program named ``p<priority>_...``."""
    head = name.split("_", 1)[0]
    return int(head[1:]) if head[:1] == "p" and head[1:].isdigit() else None


def kernel_worker(where: str, store: Any, ops: List[Tuple[str, int, int]],
                  start: Any, out: Any, leave: Any, dialect: str = "upstream") -> None:
    """Open the chain (tcx: by its namespace path; cgroup: by its cgroup's path), run ``ops``
    with a Manager sharing priorities through ``store`` (or, if None, through program names),
    report ``(retries, stale, program ids, error)``, then keep the programs alive until the
    parent has looked."""
    try:
        import mprog.kernel as kernel
        from mprog.kernel.cgroup import CgroupBundle
        from mprog.priority import Manager

        bundle = CgroupBundle.open(where) if dialect == "cgroup" else kernel.Bundle.open(where)
        rec = Recorder(bundle)
        if store is None:
            m = Manager(rec, lambda prog_id: priority_in_name(kernel.program_name(prog_id)))
        else:
            m = Manager(rec, store)
        programs: Dict[int, Any] = {}
        start.wait(120)  # a barrier: the other worker and the parent are ready too
        for op, i, priority in ops:
            if op == "place":
                if i not in programs:
                    programs[i] = kernel.Program(f"p{priority}_{i}", dialect=dialect)
                if programs[i] not in m:
                    m.place(programs[i], priority)
            elif op == "reprioritize" and i in programs and programs[i] in m:
                m.reprioritize(programs[i], priority)
            elif op == "remove" and i in programs and programs[i] in m:
                m.remove(programs[i])
        out.put((m.retries, rec.stale, [p.id for p in m.programs()], None))
        leave.wait(120)
        bundle.close()
    except BaseException as e:  # the parent reports it
        out.put((0, 0, [], repr(e)))


def run_concurrently(targets: List[Any]) -> Optional[BaseException]:
    """Run the callables in threads started together; the first exception, if any."""
    barrier = threading.Barrier(len(targets))
    errors: List[BaseException] = []

    def run(fn: Any) -> None:
        barrier.wait()
        try:
            fn()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors[0] if errors else None
