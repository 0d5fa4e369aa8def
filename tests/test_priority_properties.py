"""Property: after any sequence of place/remove/reprioritize with foreign programs attached and
detached in between, the managed programs run in priority order, the foreign ones keep their
relative order, every managed program is in the chain, a reprioritize makes at most one change
where the backend has transactions, and (one writer) nothing is ever retried.

Runs on every backend and dialect; the v2 runs add foreign FIRST/LAST pin holders, the cgroup
runs foreign PREORDER programs and foreign links (relatives the kernel refuses: each refusal is
a retry the recorder saw), with one kind of placement (links or programs) per example."""
from __future__ import annotations

import pytest

from conftest import load_backend
from mprog import After, Before, Head, MprogError, Tail
from mprog.priority import Manager
from priority_helpers import Recorder, foreign_order, managed_in_order

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MANAGED, FOREIGN = 6, 3
CHAINS = [("core", "upstream", 250), ("core", "v2", 250), ("model", "upstream", 150),
          ("model", "v2", 150), ("kernel", "upstream", 80), ("core", "cgroup", 200),
          ("model", "cgroup", 150), ("kernel", "cgroup", 80)]

priorities = st.integers(0, 3)                  # few values: ties are common
ops = st.one_of(
    st.tuples(st.just("place"), st.integers(0, MANAGED - 1), priorities, st.booleans()),
    st.tuples(st.just("reprioritize"), st.integers(0, MANAGED - 1), priorities),
    st.tuples(st.just("remove"), st.integers(0, MANAGED - 1)),
    st.tuples(st.just("foreign"), st.integers(0, FOREIGN - 1),
              st.sampled_from(["head", "tail", "after", "before", "first", "last"]),
              st.integers(0, 8)),
)
bounds = st.sampled_from([None, "head", "tail", "before f0", "after f0"])


@pytest.mark.parametrize("name,dialect,examples", CHAINS,
                         ids=[f"{b}-{d}" for b, d, _ in CHAINS])
def test_order_holds_after_any_sequence(request, name, dialect, examples):
    module = load_backend(name)
    if name == "kernel":
        request.getfixturevalue("_expedited_rcu")
    managed = [module.Program(f"m{i}", dialect=dialect) for i in range(MANAGED)]
    foreign = [module.Program(f"f{i}", dialect=dialect) for i in range(FOREIGN)]
    cgroup = dialect == "cgroup"
    foreign_ids = {f.id for f in foreign}

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(ops, min_size=6, max_size=30), bounds, st.booleans())
    def run(sequence, bound_name, all_links):
        bound = {None: None, "head": Head(), "tail": Tail(),
                 "before f0": Before(prog_id=foreign[0].id),
                 "after f0": After(foreign[0])}[bound_name]
        with module.Bundle(dialect) as b:
            rec = Recorder(b)
            m = Manager(rec, anchor=bound)
            given_priority = {}
            foreign_now = []
            foreign_links = {}
            for op in sequence:
                rev = b.revision
                if op[0] == "foreign":
                    foreign_step(b, dialect, foreign[op[1]], op[2], op[3], foreign_links)
                    foreign_now = foreign_order(b.query().prog_ids, foreign_ids)
                    continue
                # Each op names a program among those it can act on (placed or not yet).
                ready = [p for p in managed if (p in m) != (op[0] == "place")]
                if not ready:
                    continue
                prog = ready[op[1] % len(ready)]
                if op[0] == "place":
                    m.place(prog, op[2], link=all_links if cgroup else op[3])
                    given_priority[prog.id] = op[2]
                elif op[0] == "reprioritize":
                    moves_by_program = m.link_of(prog) is None
                    m.reprioritize(prog, op[2])
                    given_priority[prog.id] = op[2]
                    one_change = name != "kernel" and moves_by_program and not cgroup
                    assert b.revision - rev <= (1 if one_change else 2)
                else:
                    m.remove(prog)
                    del given_priority[prog.id]
                ids = b.query().prog_ids
                assert managed_in_order(ids, given_priority), (op, b.query())
                assert {i for i in ids if i not in foreign_ids} == set(given_priority)
                assert foreign_order(ids, foreign_ids) == foreign_now, op
            assert m.retries == rec.stale
            assert m.retries == 0 or cgroup  # one writer: only refused cgroup relatives
            for prog in m.programs():
                m.remove(prog)
            for link in foreign_links.values():
                link.close()

    run_then_close(run, module, managed + foreign)


def run_then_close(run, module, programs):
    """Run the hypothesis test, then close its programs (and check the kernel's are all)."""
    try:
        run()
    finally:
        for p in programs:
            p.close()
        if module.__name__ == "mprog.kernel":
            module.assert_nothing_left()


def foreign_step(b, dialect, f, where, k, links):
    """Someone else attaches ``f`` (somewhere, maybe pinned in v2; in cgroup maybe PREORDER
    or through a link) or, if it is there, detaches it. Refusals (a pin already held, a place
    next to a pin, a cgroup relative of the other kind) are theirs: ignored."""
    ids = b.query().prog_ids
    try:
        if f.id in links:
            links.pop(f.id).close()
        elif f.id in ids:
            b.detach(f)
        elif dialect == "cgroup" and where == "first":
            b.attach(f, Head(preorder=True) if k % 2 else Tail(preorder=True))
        elif dialect == "cgroup" and where == "last":
            links[f.id] = b.link(f, Head() if k % 2 else Tail())
        elif where in ("after", "before") and ids:
            x = ids[k % len(ids)]
            b.attach(f, After(prog_id=x) if where == "after" else Before(prog_id=x))
        elif where in ("first", "last") and dialect == "v2":
            b.attach(f, Head(first=True) if where == "first" else Tail(last=True))
        else:
            b.attach(f, Head() if where == "head" else Tail())
    except MprogError:
        pass


KINDS = st.sampled_from(["program", "preorder", "link"])


@pytest.mark.parametrize("name,examples", [("core", 120), ("model", 80), ("kernel", 40)])
def test_cgroup_relatives_the_kernel_refuses_are_counted_once_and_avoided(request, name,
                                                                          examples):
    """Foreign entries of every kind a cgroup query cannot tell apart (by program, PREORDER,
    through a link) and a bound next to one of them: managed programs placed by program end in
    priority order, foreign ones keep theirs, no place is left unnamed (NoAnchor), and each
    refused relative was a PREORDER program or a link's entry, refused once, counted as a
    retry."""
    module = load_backend(name)
    foreign = [module.Program(f"f{i}", dialect="cgroup") for i in range(5)]
    managed = [module.Program(f"m{i}", dialect="cgroup") for i in range(4)]

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(KINDS, min_size=1, max_size=len(foreign)), st.integers(0, 4),
           st.booleans(), st.lists(priorities, min_size=1, max_size=len(managed)))
    def run(kinds, at, before, wanted):
        kind_of = {f.id: k for f, k in zip(foreign, kinds)}
        with module.Bundle("cgroup") as b:
            links = [b.link(f, Tail()) if k == "link" else
                     b.attach(f, Tail(preorder=k == "preorder"))
                     for f, k in zip(foreign, kinds)]
            try:
                named = foreign[at % len(kinds)]
                bound = Before(prog_id=named.id) if before else After(prog_id=named.id)
                rec = Recorder(b)
                m = Manager(rec, anchor=bound)
                given_priority = {}
                for prog, priority in zip(managed, wanted):
                    m.place(prog, priority)
                    given_priority[prog.id] = priority
                ids = b.query().prog_ids
                assert managed_in_order(ids, given_priority)
                assert foreign_order(ids, kind_of) == [f.id for f in foreign[:len(kinds)]]
                refused = [c[2].prog_id for c, nxt in zip(rec.calls, rec.calls[1:])
                           if c[1] == nxt[1] and c[0] == nxt[0] == "attach"]
                assert m.retries == rec.stale == len(refused) == len(set(refused))
                assert all(kind_of[i] in ("preorder", "link") for i in refused)
                for prog in m.programs():
                    m.remove(prog)
            finally:
                for link in links:
                    if link is not None:
                        link.close()

    run_then_close(run, module, foreign + managed)
