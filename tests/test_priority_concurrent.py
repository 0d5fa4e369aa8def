"""Two managers of one chain at once, without a lock: threads on the core and the model,
processes on the live kernel. They share priorities (a store, or a rule reading program
names); at the end the managed programs run in priority order, the foreign ones are where
they were, and every retry a manager counted is a change the chain refused as stale.

Each test prints its retry count (`pytest -s`): the closing note of issue 14 reports them."""
from __future__ import annotations

import multiprocessing
import random
import sys

import pytest

from conftest import load_backend
from mprog import Head, StaleRevision, Tail
from mprog.priority import Manager
from priority_helpers import (Recorder, foreign_order, kernel_worker, managed_in_order,
                              priority_in_name, run_concurrently)

ROUNDS = 150         # operations per manager
PROGRAMS = 5         # programs per manager


def script(seed, reprioritize=True):
    """A manager's operations: place, reprioritize, remove over its own programs."""
    rng = random.Random(seed)
    kinds = ["place", "place", "remove"] + (["reprioritize"] if reprioritize else [])
    fixed = {i: rng.randrange(6) for i in range(PROGRAMS)}
    return [(kind, i, rng.randrange(6) if kind == "reprioritize" else fixed[i])
            for kind, i in ((rng.choice(kinds), rng.randrange(PROGRAMS))
                            for _ in range(ROUNDS))]


@pytest.fixture
def fast_switching():
    """Switch threads as often as CPython allows (and the recorders yield after each query):
    a query and the change planned from it are then often split by the other manager's."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.mark.parametrize("dialect", ["upstream", "v2", "cgroup"])
@pytest.mark.parametrize("name", ["core", "model"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_threads_converge(name, dialect, seed, fast_switching):
    """(cgroup: every program by program, as managers sharing a cgroup list should place them:
    a program attach cannot name another manager's link there, and query does not say which
    entries are links.)"""
    module = load_backend(name)
    b = module.Bundle(dialect)
    foreign = [module.Program(f"f{i}", dialect=dialect) for i in range(2)]
    b.attach(foreign[0], Tail())
    b.attach(foreign[1], Head())
    store = {}
    recorders = [Recorder(b, pause=True), Recorder(b, pause=True)]
    managers = [Manager(rec, store) for rec in recorders]
    programs = [[module.Program(f"w{k}p{i}", dialect=dialect) for i in range(PROGRAMS)]
                for k in (0, 1)]

    def work(k):
        m, mine = managers[k], programs[k]
        for op, i, priority in script(seed * 10 + k):
            p = mine[i]
            if op == "place" and p not in m:
                m.place(p, priority, link=(i == 0 and dialect != "cgroup"))
            elif op == "reprioritize" and p in m:
                m.reprioritize(p, priority)
            elif op == "remove" and p in m:
                m.remove(p)

    error = run_concurrently([lambda: work(0), lambda: work(1)])
    assert error is None, error
    ids = b.query().prog_ids
    placed = {p.id for m in managers for p in m.programs()}
    assert {i for i in ids if i not in {f.id for f in foreign}} == placed
    assert set(store) == placed
    assert managed_in_order(ids, store)
    assert foreign_order(ids, {f.id for f in foreign}) == [foreign[1].id, foreign[0].id]
    retries = sum(m.retries for m in managers)
    assert retries == sum(rec.stale for rec in recorders)
    print(f"\n{name}-{dialect} seed {seed}: {retries} retries, "
          f"{sum(len(r.calls) for r in recorders)} calls")
    for m in managers:
        for p in m.programs():
            m.remove(p)
    b.close()


@pytest.mark.parametrize("dialect", ["upstream", "cgroup"])
@pytest.mark.parametrize("share", ["store", "names"])
def test_two_processes_converge_on_the_kernel(share, dialect, _expedited_rcu):
    """cgroup: the second process opens the cgroup by its path (CgroupBundle.open)."""
    kernel = load_backend("kernel")
    ctx = multiprocessing.get_context("spawn")
    sync = ctx.Manager()
    store = sync.dict() if share == "store" else None
    b = kernel.Bundle(dialect)
    foreign = [kernel.Program(f"f{i}", dialect=dialect) for i in range(2)]
    try:
        b.attach(foreign[0], Tail())
        b.attach(foreign[1], Head())
        start, leave, out = ctx.Barrier(3), ctx.Event(), ctx.Queue()
        where = b.path if dialect == "cgroup" else b.netns_path
        workers = [ctx.Process(target=kernel_worker, args=(
            where, store,
            [(op, 100 * k + i, priority)
             for op, i, priority in script(k + 7, reprioritize=share == "store")],
            start, out, leave, dialect)) for k in (0, 1)]
        for w in workers:
            w.start()
        start.wait(120)             # both workers are ready: they begin together
        try:
            results = [out.get(timeout=120) for _ in workers]
            assert [r[3] for r in results] == [None, None]
            ids = b.query().prog_ids
            placed = {i for r in results for i in r[2]}
            assert {i for i in ids if i not in {f.id for f in foreign}} == placed
            if share == "store":
                priorities = dict(store)
                assert set(priorities) == placed
            else:
                priorities = {i: priority_in_name(kernel.program_name(i)) for i in placed}
            assert managed_in_order(ids, priorities)
            assert foreign_order(ids, {f.id for f in foreign}) == [foreign[1].id,
                                                                   foreign[0].id]
            retries = sum(r[0] for r in results)
            assert retries == sum(r[1] for r in results)
            print(f"\nkernel {dialect} processes ({share}): {retries} retries, "
                  f"{len(placed)} placed")
        finally:
            leave.set()
            for w in workers:
                w.join(60)
        assert [w.exitcode for w in workers] == [0, 0]
    finally:
        b.close()
        for f in foreign:
            f.close()
        sync.shutdown()
        kernel.assert_nothing_left()


@pytest.mark.parametrize("name", ["core", "model"])
def test_one_expected_revision_wins_once(name, fast_switching):
    """What the managers rely on, on a cgroup list (whose revision never comes back): of two
    threads' guarded changes expecting one revision, at most one is made. (The model's cgroup
    bundles hold one lock per tree for this, as the kernel holds cgroup_mutex.)"""
    module = load_backend(name)
    b = module.Bundle("cgroup")
    programs = [[module.Program(f"t{k}_{i}", dialect="cgroup") for i in range(1000)]
                for k in (0, 1)]
    won = [[], []]

    def work(k):
        for p in programs[k]:
            rev = b.revision
            try:
                b.attach(p, Tail(), expected_revision=rev)
                won[k].append(rev)
                b.detach(p)
            except StaleRevision:
                pass

    assert run_concurrently([lambda: work(0), lambda: work(1)]) is None
    assert not set(won[0]) & set(won[1]) and len(won[0]) + len(won[1]) > 0
    b.close()
    for p in programs[0] + programs[1]:
        p.close()
