"""mprog.priority on every backend and dialect: the placement policy in scenarios, the plan
against the calls really made, and retries counted where a change was refused as stale.
(The cgroup dialect's own rules: tests/test_priority_cgroup.py.)"""
from __future__ import annotations

import pytest

from conftest import load_backend
from mprog import After, Before, Head, Tail
from mprog.priority import Manager
from priority_helpers import Recorder, managed_in_order

CHAINS = [("core", "upstream"), ("core", "v2"), ("model", "upstream"), ("model", "v2"),
          ("kernel", "upstream"), ("core", "cgroup"), ("model", "cgroup"), ("kernel", "cgroup")]


@pytest.fixture(params=CHAINS, ids=[f"{b}-{d}" for b, d in CHAINS])
def chain(request):
    """(backend module, a fresh bundle of the dialect); the kernel's with expedited RCU."""
    name, dialect = request.param
    module = load_backend(name)
    if name == "kernel":
        request.getfixturevalue("_expedited_rcu")
    made = []

    def program(label):
        p = module.Program(label, dialect=dialect)
        made.append(p)
        return p

    bundle = module.Bundle(dialect)
    yield module, bundle, program
    bundle.close()
    for p in made:
        p.close()
    if name == "kernel":
        module.assert_nothing_left()


def order(bundle, *programs):
    """The chain as the labels of ``programs`` (others as '?')."""
    names = {p.id: p.name for p in programs}
    return [names.get(i, "?") for i in bundle.query().prog_ids]


def test_lower_priority_runs_first_ties_by_program_id(chain):
    _, b, program = chain
    a, c, d, e = (program(n) for n in "acde")
    m = Manager(b)
    m.place(d, 5)
    m.place(a, 1)
    m.place(e, 5)          # a tie: program ids decide, and e's id is larger than d's
    m.place(c, 3)
    assert order(b, a, c, d, e) == ["a", "c", "d", "e"]
    assert m.priority(c) == 3 and c in m and m.retries == 0


def test_foreign_programs_stay_and_new_ones_sit_next_to_their_neighbours(chain):
    _, b, program = chain
    f1, f2, x, y, z = (program(n) for n in ("f1", "f2", "x", "y", "z"))
    b.attach(f1, Tail())
    m = Manager(b)
    m.place(y, 20)                        # nothing managed yet: an append
    b.attach(f2, Tail())                  # foreign, after y
    m.place(z, 30)                        # right after y, its predecessor in order
    m.place(x, 10)                        # no predecessor: right before y
    assert order(b, f1, f2, x, y, z) == ["f1", "x", "y", "z", "f2"]
    m.reprioritize(x, 25)                 # between y and z
    assert order(b, f1, f2, x, y, z) == ["f1", "y", "x", "z", "f2"]
    m.remove(y)
    assert order(b, f1, f2, x, y, z) == ["f1", "x", "z", "f2"]


@pytest.mark.parametrize("bound,expected", [
    (Head(), ["x", "f1", "f2"]), (Tail(), ["f1", "f2", "x"]), (None, ["f1", "f2", "x"]),
    ("before f2", ["f1", "x", "f2"]), ("after f1", ["f1", "f2", "x"])])
def test_the_bound_says_where_the_first_managed_program_goes(chain, bound, expected):
    _, b, program = chain
    f1, f2, x = program("f1"), program("f2"), program("x")
    b.attach(f1, Tail())
    b.attach(f2, Tail())
    if bound == "before f2":
        bound = Before(prog_id=f2.id)
    elif bound == "after f1":
        bound = After(f1)
    Manager(b, anchor=bound).place(x, 1)
    assert order(b, f1, f2, x) == expected


def test_a_bound_never_breaks_priority_order(chain):
    _, b, program = chain
    f, x, y = program("f"), program("x"), program("y")
    m = Manager(b, anchor=Tail())          # after every foreign program...
    m.place(y, 2)
    b.attach(f, Tail())                    # ...but a foreign one arrived after y
    m.place(x, 1)                          # x must precede y: as near the bound as allowed
    assert order(b, f, x, y) == ["x", "y", "f"]


def test_a_bound_on_a_link_and_on_a_missing_program(chain):
    module, b, program = chain
    f, g, x, y = program("f"), program("g"), program("x"), program("y")
    b.attach(g, Tail())
    link = b.link(f)
    try:
        Manager(b, anchor=Before(link)).place(x, 1)
        assert order(b, f, g, x) == ["g", "x", "f"]
        gone = program("gone")
        Manager(b, anchor=Before(gone)).place(y, 1)      # bounds nothing: an append
        assert order(b, f, g, x, y) == ["g", "x", "f", "y"]
    finally:
        link.close()


def test_plan_lists_the_exact_calls_place_and_reprioritize_make(chain):
    module, b, program = chain
    x, y, z, f = program("x"), program("y"), program("z"), program("f")
    rec = Recorder(b)
    m = Manager(rec)
    b.attach(f, Tail())
    cgroup = b.dialect == "cgroup"
    for prog, priority in ((y, 2), (x, 1), (z, 3)):
        plan = m.plan(prog, priority)
        before = len(rec.calls)
        m.place(prog, priority)
        (call,) = rec.calls[before:]
        assert len(plan.calls) == 1 and plan.changes == 1
        c = plan.calls[0]
        assert call == (c.op, c.prog.id, c.anchor, c.expected_revision) == \
            ("attach", prog.id, c.anchor, plan.revision)
        assert b.query().prog_ids.index(prog.id) == plan.index
        if module.__name__ == "mprog.kernel" or cgroup:
            assert plan.explanation is None           # no dry run (kernel; cgroup dialect)
        else:
            assert plan.explanation.ok and plan.explanation.index == plan.index
    rev = b.revision
    plan = m.plan(x, 4)
    assert not m.plan(x, 1).calls                     # already where it belongs
    m.reprioritize(x, 4)
    assert order(b, f, x, y, z) == ["f", "y", "z", "x"]
    if module.__name__ == "mprog.kernel" or cgroup:   # detach, then a guarded attach
        assert [c.op for c in plan.calls] == ["detach", "attach"] and not plan.transaction
        assert b.revision == rev + 2
        assert rec.calls[-2:] == [("detach", x.id, None, rev),           # cgroup: the end
                                  ("attach", x.id, Tail() if cgroup else After(prog_id=z.id),
                                   rev + 1)]
    else:                                              # one transaction: one change
        assert plan.transaction and plan.changes == 1 and b.revision == rev + 1
        assert rec.calls[-1] == ("transaction", rev, (
            ("detach", x.id, None, rev), ("attach", x.id, After(prog_id=z.id), rev)))
    assert str(plan).startswith(f"revision {rev}: ")


def test_reprioritize_that_still_fits_makes_no_change(chain):
    _, b, program = chain
    f, x, y = program("f"), program("x"), program("y")
    m = Manager(b)
    m.place(x, 1)
    b.attach(f, Tail())
    m.place(y, 9)
    rev = b.revision
    m.reprioritize(x, 5)
    m.reprioritize(y, 6)
    assert b.revision == rev and order(b, f, x, y) == ["x", "y", "f"]
    assert m.priority(x) == 5


def test_linked_programs_move_with_a_new_link(chain):
    _, b, program = chain
    x, y = program("x"), program("y")
    m = Manager(b)
    link = m.place(x, 1, link=True)
    assert link is not None and link is m.link_of(x) and link.attached
    m.place(y, 2)
    new = m.reprioritize(x, 3)
    assert order(b, x, y) == ["y", "x"]
    assert link.closed and new is m.link_of(x) and new.attached
    assert b.query().link_ids[1] == (0 if b.dialect == "cgroup" else new.id)
    m.remove(x)
    assert new.closed and order(b, x, y) == ["y"] and x not in m


def test_remove_of_a_program_someone_else_detached(chain):
    _, b, program = chain
    x = program("x")
    m = Manager(b)
    m.place(x, 1)
    b.detach(x)
    m.remove(x)
    assert x not in m
    with pytest.raises(KeyError):
        m.remove(x)
    with pytest.raises(KeyError):
        m.reprioritize(x, 2)


def test_bad_arguments(chain):
    _, b, program = chain
    x = program("x")
    m = Manager(b)
    with pytest.raises(TypeError):
        m.place(x, "1")
    with pytest.raises(TypeError):
        Manager(b, anchor=object())
    with pytest.raises(TypeError):
        Manager(b, priority_of=42)
    m.place(x, 1)
    with pytest.raises(ValueError):
        m.place(x, 2)
    assert m.priority(x) == 1 and len(b) == 1


def test_a_stale_read_is_retried_and_counted(chain):
    """Another writer changes the chain between the manager's query and its change: the
    change is refused (ESTALE, nothing changed), the manager reads again, and counts it."""
    _, b, program = chain
    x, y, f = program("x"), program("y"), program("f")
    rec = Recorder(b)
    m = Manager(rec, priority_of={y.id: 2}.get)
    m.place(x, 1)
    interfered = []
    real_query = rec.query

    def query_then_interfere(*a):
        state = real_query(*a)
        if not interfered:              # once: another writer adds y where it belongs
            interfered.append(True)
            b.attach(y, After(x))
            b.attach(f, Tail())
        return state

    rec.query = query_then_interfere
    z = program("z")
    m.place(z, 3)
    assert m.retries == rec.stale == 1
    assert order(b, x, y, z, f) == ["x", "y", "z", "f"]


def test_v2_pins_are_respected(v2_backend):
    b = v2_backend.Bundle("v2")
    first, last, x, y = (v2_backend.Program(name=n) for n in ("first", "last", "x", "y"))
    b.attach(first, Head(first=True))
    b.attach(last, Tail(last=True))
    m = Manager(b, anchor=Head())
    m.place(x, 2)                       # Head() bound, yet never before a FIRST holder
    m.place(y, 1)
    m.reprioritize(y, 3)                # and never after a LAST holder
    assert [p.name for p in b] == ["first", "x", "y", "last"]
    assert managed_in_order(b.query().prog_ids, {x.id: 2, y.id: 3})


def test_a_move_staged_on_a_newer_chain_is_retried(api_backend):
    """The transaction of a move begins after the query; if the chain changed in between, its
    staged calls are refused as stale (not with the NotFound of a relative that left)."""
    b = api_backend.Bundle()
    x, y, z = (api_backend.Program(name=n) for n in "xyz")
    rec = Recorder(b)
    m = Manager(rec)
    for prog, priority in ((x, 1), (y, 2), (z, 3)):
        m.place(prog, priority)
    real_query = rec.query
    interfered = []

    def query_then_interfere(*a):
        state = real_query(*a)
        if not interfered:              # once: z, the anchor x's move was planned on, leaves
            interfered.append(True)
            m.bundle.bundle.detach(z)
        return state

    rec.query = query_then_interfere
    m.reprioritize(x, 4)                # planned: After(z); staged on the chain without z
    assert m.retries == rec.stale == 1
    assert [p.name for p in b] == ["y", "x"]
