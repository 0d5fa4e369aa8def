"""The executor compares the core's state and handles with the model's without making the
core's Python objects (C values against the model's tuples). Its verdict must be Python's
``==`` of the objects the interpreter would make, for every kind of difference: one label,
one flag, the revision, the count, a handle's field, a container of another type, and values
that differ in type but not in ``==`` (``True == 1``)."""
from __future__ import annotations

import copy
import errno
import random
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import mprog
from mprog import _core, batch, model
from mprog.differential.trial import Trial
from mprog.ops import Generator, Interpreter, Weights

#: What records can say, with links, updates and closes often.
WEIGHTS = Weights(query=4, transaction=4, bundle_close=0, watch=0, bad=0,
                  revisions=(55, 25, 10, 6, 0), other_dialect=0, raw_relatives=False,
                  wide_flags=False)


def _trace(seed: int, length: int = 80) -> List[Any]:
    with Trial({"model": model}, "upstream", full=False) as t:
        g = Generator("upstream", random.Random(seed), WEIGHTS)
        while len(t.ops) < length:
            for op in g.next(t.view):
                t.step(op)
        return list(t.ops)


def _lists(ops: List[Any], backend: Any) -> Tuple[List[Any], List[Any], List[Any]]:
    side = Interpreter("side", backend, "upstream")
    try:
        out: Tuple[List[Any], List[Any], List[Any]] = ([], [], [])
        for op in ops:
            out[0].append(side.apply(op))
            state = side.state()
            out[1].append(state)
            out[2].append(side.handles(op) if len(state) > 1 else ())
        return out
    finally:
        assert side.close() == []


def _run(ops: List[Any], expected: Any) -> Any:
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        return ex.run(b"".join(batch.record(op) for op in ops), expected)
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


def _set(t: Any, i: int, value: Any) -> Any:
    """``t`` (a tuple or list) with item ``i`` replaced, of the same type."""
    items = list(t)
    items[i] = value
    return type(t)(items)


def _state_changes(s: Tuple[Any, ...]) -> Iterator[Tuple[str, Any]]:
    if len(s) != 6:
        yield "open", (1, 0, (), (), (), ())
        return
    revision, count = s[0], s[1]
    yield "revision+1", _set(s, 0, revision + 1)
    yield "revision-1", _set(s, 0, revision - 1)
    yield "revision huge", _set(s, 0, revision + 2**70)
    yield "revision negative", _set(s, 0, -revision)
    yield "revision float", _set(s, 0, float(revision))  # equal
    yield "revision str", _set(s, 0, str(revision))
    yield "count+1", _set(s, 1, count + 1)
    yield "count bool", _set(s, 1, bool(count))  # equal where count is 0 or 1
    yield "closed", ("closed",)
    yield "a list", list(s)
    yield "shorter", s[:5]
    for k in range(2, 6):
        yield f"column {k} a list", _set(s, k, list(s[k]))  # () != [] too
        yield f"column {k} longer", _set(s, k, s[k] + (0,))
        for j, x in enumerate(s[k]):
            yield f"column {k}[{j}] None", _set(s, k, _set(s[k], j, None))
            yield f"column {k}[{j}] ?id", _set(s, k, _set(s[k], j, f"?{x}"))
            if x is None:
                yield f"column {k}[{j}] 0", _set(s, k, _set(s[k], j, 0))
                continue
            yield f"column {k}[{j}]+1", _set(s, k, _set(s[k], j, x + 1))
            yield f"column {k}[{j}]^1<<31", _set(s, k, _set(s[k], j, x ^ (1 << 31)))
            yield f"column {k}[{j}] float", _set(s, k, _set(s[k], j, float(x)))  # equal
            yield f"column {k}[{j}] bool", _set(s, k, _set(s[k], j, bool(x)))  # equal: 0, 1


def _handle_changes(h: Tuple[Any, ...]) -> Iterator[Tuple[str, Any]]:
    yield "a list", list(h)
    yield "one more", h + (False,)
    if not h:
        return
    yield "none", ()
    x = h[0]
    if isinstance(x, bool):  # a closed program's handle
        yield "closed flipped", (not x,)
        yield "closed as int", (int(x),)  # equal
        return
    attached, closed, label = x
    yield "a tuple", (tuple(x),)
    yield "attached flipped", ([not attached, closed, label],)
    yield "attached as int", ([int(attached), closed, label],)  # equal
    yield "closed flipped", ([attached, not closed, label],)
    yield "label None", ([attached, closed, None],)
    yield "label 0", ([attached, closed, 0],)
    if label is not None:
        yield "label+1", ([attached, closed, label + 1],)
        yield "label ?id", ([attached, closed, f"?{label}"],)
    yield "shorter", ([attached, closed],)


def _answer_changes(a: List[Any]) -> Iterator[Tuple[str, Any]]:
    yield "a tuple", tuple(a)
    yield "one more", a + [None]
    yield "not ok", ["err"] + a[1:]
    yield "ok as another str", ["o" + "k"[:len(a[0]) - 1]] + a[1:]  # equal, not the same object
    if len(a) == 2 and type(a[1]) is int:
        yield "label+1", [a[0], a[1] + 1]
        yield "label None", [a[0], None]
        yield "label float", [a[0], float(a[1])]  # equal
        yield "label bool", [a[0], bool(a[1])]  # equal for 0 and 1


def _check(ops: List[Any], core: Any, mine: Any, at: int, part: int, value: Any) -> bool:
    """The executor's verdict with the model's part ``part`` at op ``at`` set to ``value``:
    Python's ``==`` against the core's, and the lists up to that op when they differ."""
    want = (list(mine[0]), list(mine[1]), list(mine[2]))
    want[part][at] = value
    got = _run(ops, want)
    differs = value != core[part][at]
    if not differs:
        assert got is None, (at, part, value)
        return False
    assert got is not None and len(got[0]) == at + 1, (at, part, value, core[part][at])
    # the op that differs is the core's own, the ones before it agreed
    assert [got[p][at] for p in range(3)] == [core[p][at] for p in range(3)]
    assert [got[p][:at] for p in range(3)] == [want[p][:at] for p in range(3)]
    return True


@pytest.mark.parametrize("seed", [1, 2])
def test_every_change_of_a_state_or_handle_is_judged_as_python_judges_it(seed: int) -> None:
    ops = _trace(seed)
    core, mine = _lists(ops, mprog), _lists(ops, model)
    assert core == mine
    assert _run(ops, mine) is None
    found = set()
    rng = random.Random(seed)
    for at in sorted(rng.sample(range(len(ops)), 12)) + [len(ops) - 1]:
        for name, state in _state_changes(mine[1][at]):
            if _check(ops, core, mine, at, 1, state):
                found.add("state " + name.split("[")[0])
        # the previous op's state object again (a model whose chain did not move): equal
        # only where the core's chain did not move either, whatever the objects' identity
        if at and _check(ops, core, mine, at, 1, mine[1][at - 1]):
            found.add("state of the op before")
        for name, answer in _answer_changes(mine[0][at]):
            if _check(ops, core, mine, at, 0, answer):
                found.add("answer " + name)
        for name, handles in _handle_changes(mine[2][at]):
            if _check(ops, core, mine, at, 2, handles):
                found.add("handles " + name)
    # the trace had chains and handles for every kind of change to show up
    assert {"state revision+1", "state count+1", "state column 2", "state column 3",
            "state column 4", "state column 5", "state of the op before",
            "handles one more", "answer label+1", "answer a tuple"} <= found, found


def _chain_ops() -> List[Any]:
    attach = {"op": "attach", "relative": None, "replace": None,
              "expected_revision": {"kind": "zero"}}
    return ([{"op": "new_prog", "as": i} for i in range(4)]
            + [{**attach, "prog": 0, "flags": 0},
               {**attach, "prog": 1, "flags": int(mprog.Flag.BEFORE),
                "relative": {"kind": "prog", "ref": 0}},
               {"op": "link", "as": 0, "prog": 2, "flags": 0, "relative": None,
                "expected_revision": {"kind": "zero"}},
               {"op": "update", "link": 0, "new_prog": 3, "flags": 0, "old_prog": None},
               {"op": "prog_close", "prog": 1},
               {"op": "link_detach", "link": 0},
               {"op": "link_close", "link": 0}])


@pytest.mark.parametrize("change", ["label", "link label", "flag", "link flag", "revision",
                                    "count", "attached", "closed", "program", "prog closed"])
def test_a_state_or_handle_differing_in_one_field_is_found_at_that_op(change: str) -> None:
    ops = _chain_ops()
    core, mine = _lists(ops, mprog), _lists(ops, model)
    assert core == mine and _run(ops, mine) is None
    edits: dict[str, Tuple[int, int, Callable[[Any], Any]]] = {
        # op 7 (update): the chain is p1 and p0 by program, then p3 by link 0
        "label": (7, 1, lambda s: _set(s, 2, _set(s[2], 0, 1 - s[2][0]))),
        "link label": (7, 1, lambda s: _set(s, 3, _set(s[3], 2, None))),
        "flag": (7, 1, lambda s: _set(s, 4, _set(s[4], 1, s[4][1] ^ 1))),
        "link flag": (7, 1, lambda s: _set(s, 5, _set(s[5], 2, s[5][2] ^ 8))),
        "revision": (7, 1, lambda s: _set(s, 0, s[0] + 1)),
        "count": (7, 1, lambda s: _set(s, 1, s[1] - 1)),
        "attached": (9, 2, lambda h: ([True] + h[0][1:],)),
        "closed": (10, 2, lambda h: ([h[0][0], False, h[0][2]],)),
        "program": (7, 2, lambda h: (h[0][:2] + [2],)),
        "prog closed": (8, 2, lambda h: (False,)),
    }
    at, part, edit = edits[change]
    assert _check(ops, core, mine, at, part, edit(mine[part][at]))


def _snapshots(ops: List[Any], backend: Any) -> List[Any]:
    side = Interpreter("side", backend, "upstream")
    try:
        out = []
        for op in ops:
            side.apply(op)
            out.append(copy.deepcopy(side.snapshot()))
        return out
    finally:
        assert side.close() == []


def _snapshot_changes(s: Dict[str, Any]) -> Iterator[Tuple[str, Any]]:
    for label, closed in s["progs"].items():
        yield f"program {label} closed flipped", ("progs", label, not closed)
        yield f"program {label} closed as int", ("progs", label, int(closed))  # equal
    for label, (attached, closed, prog) in s["links"].items():
        yield f"link {label} attached", ("links", label, [not attached, closed, prog])
        yield f"link {label} closed", ("links", label, [attached, not closed, prog])
        yield f"link {label} program None", ("links", label, [attached, closed, None])
        yield f"link {label} program+1", ("links", label, [attached, closed, (prog or 0) + 1])
        yield f"link {label} a tuple", ("links", label, (attached, closed, prog))
    self = s["self"]
    yield "revision+1", ("self", "revision", self["revision"] + 1)
    yield "revision float", ("self", "revision", float(self["revision"]))  # equal
    yield "len-1", ("self", "len", self["len"] - 1)
    for i, label in enumerate(self["list"]):
        yield f"list[{i}]+1", ("self", "list", _set(self["list"], i, label + 1))
        yield f"list[{i}] ?id", ("self", "list", _set(self["list"], i, f"?{label}"))


@pytest.mark.parametrize("at", [6, 7, 8, 9, 10])
def test_every_change_of_a_snapshot_is_judged_as_python_judges_it(at: int) -> None:
    ops = _chain_ops()
    mine, core = _lists(ops, model), _snapshots(ops, mprog)
    snaps = _snapshots(ops, model)
    assert [{k: s[k] for k in ("progs", "links", "self")} for s in snaps] == [
        {k: s[k] for k in ("progs", "links", "self")} for s in core]
    found = 0
    for name, (part, key, value) in _snapshot_changes(snaps[at]):
        changed = copy.deepcopy(snaps)
        changed[at][part][key] = value
        side = Interpreter("core", mprog, "upstream")
        ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
        try:
            got = ex.run(b"".join(batch.record(op) for op in ops), mine, changed)
        finally:
            side.adopt(ex.programs, ex.links)
            assert side.close() == []
        if changed[at][part] == core[at][part]:
            assert got is None, name
        else:
            assert got is not None and len(got[0]) == at + 1, name
            found += 1
    assert found >= 6


def test_the_queue_form_judges_as_the_lists_do() -> None:
    """``check`` (one entry per op, as the engine queues them) against ``run`` (three lists):
    the same verdict and the same lists, for an agreeing run and for a difference."""
    ops = _chain_ops()
    core, mine = _lists(ops, mprog), _lists(ops, model)
    records = [batch.record(op) for op in ops]
    changed = (list(mine[0]), list(mine[1]), list(mine[2]))
    changed[1][7] = _set(mine[1][7], 0, mine[1][7][0] + 1)
    for want in (mine, changed):
        got = []
        for form in ("run", "check"):
            side = Interpreter("core", mprog, "upstream")
            ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
            try:
                if form == "run":
                    got.append(ex.run(b"".join(records), want))
                else:
                    queue = [(r, a, s, h, "the caller's") for r, a, s, h in zip(records, *want)]
                    got.append(ex.check(queue))
            finally:
                side.adopt(ex.programs, ex.links)
                assert side.close() == []
        assert got[0] == got[1]
    assert got[1] is not None and len(got[1][0]) == 8 and got[1][1][7] == core[1][7]


@pytest.mark.parametrize("entry", [("x" * 16, ["ok", None], (), ()), (b"x" * 15, 1, 2, 3),
                                   (b"x" * 16, 1, 2), [b"x" * 16, 1, 2, 3]])
def test_the_queue_form_refuses_a_malformed_entry_before_running_anything(entry: Any) -> None:
    with mprog.Bundle() as b:
        ex = _core.Executor(b, errno.errorcode)
        good = (batch.record({"op": "new_prog", "as": 0}), ["ok", 0], (1, 0, (), (), (), ()), ())
        with pytest.raises(ValueError, match="queue"):
            ex.check([good, entry])
        assert len(ex.programs) == 0
        with pytest.raises(ValueError, match="snapshots"):
            ex.check([good], [])
        assert ex.check([good]) is None and len(ex.programs) == 1


def _stale_items(before: Tuple[Any, ...], now: Tuple[Any, ...]) -> Iterator[Tuple[str, Any]]:
    """States like ``now`` with items (the very objects) of ``before`` where the values
    differ: at the same position and at the same distance from the end, or whole columns.
    The executor skips entries that are where they were when the chains last agreed, with
    the model's very objects: these must not be skipped, the core's entry moved."""
    for k in range(2, 6):
        old, new = before[k], now[k]
        for j in range(min(len(old), len(new))):
            for name, i, o in (("front", j, j), ("back", len(new) - 1 - j, len(old) - 1 - j)):
                if old[o] != new[i]:
                    yield f"column {k} {name}", _set(now, k, _set(new, i, old[o]))
    if len(before[2]) == len(now[2]):
        yield "columns", now[:2] + before[2:]


def test_model_objects_of_an_earlier_state_are_compared_where_the_core_s_chain_moved() -> None:
    found = set()
    for ops in [_chain_ops()] + [_trace(seed, 100) for seed in (3, 4, 5)]:
        core, mine = _lists(ops, mprog), _lists(ops, model)
        for at in range(1, len(ops)):
            before, now = mine[1][at - 1], mine[1][at]
            if before is now or len(before) != 6 or len(now) != 6:
                continue
            for name, state in _stale_items(before, now):
                if _check(ops, core, mine, at, 1, state):
                    found.add(name)
    assert {"columns", "column 2 front", "column 2 back", "column 3 back"} <= found, found


def test_an_update_s_program_is_compared_though_the_model_kept_its_label_tuples() -> None:
    ops = _chain_ops()
    core, mine = _lists(ops, mprog), _lists(ops, model)
    before, now = mine[1][6], mine[1][7]  # op 7: update, link 0 from p2 to p3
    assert before[2] != now[2] and before[1:] != now[1:] and before[1] == now[1]
    assert _check(ops, core, mine, 7, 1, now[:2] + before[2:])


def test_agrees_judges_every_change_of_the_state_as_python_judges_it() -> None:
    ops = _chain_ops()[:8]  # the chain is p1, p0, then p3 by link 0
    core, mine = _lists(ops, mprog), _lists(ops, model)
    snap = _snapshots(ops, model)[-1]
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    try:
        assert ex.run(b"".join(batch.record(op) for op in ops), mine) is None
        assert ex.agrees(mine[1][-1], snap)
        differ = 0
        for name, state in _state_changes(mine[1][-1]):
            if isinstance(state, tuple):  # agrees takes a tuple
                assert ex.agrees(state, snap) == (state == core[1][-1]), name
                differ += state != core[1][-1]
        assert differ > 20
    finally:
        side.adopt(ex.programs, ex.links)
        assert side.close() == []


def test_a_snapshot_not_made_of_plain_dicts_is_judged_as_python_judges_it() -> None:
    """The executor reads a snapshot on C values; what is not the interpreter's plain dicts,
    lists and int labels (a dict subclass, a bool label) is judged as Python's ``==`` judges
    it, and an object of its lists replaced since is read again."""
    ops = _chain_ops()[:8]
    mine = _lists(ops, model)
    snap = _snapshots(ops, model)[-1]
    side = Interpreter("core", mprog, "upstream")
    ex = _core.Executor(side.bundle, errno.errorcode, side.txs)
    other = mprog.Program(name="other")
    try:
        assert ex.run(b"".join(batch.record(op) for op in ops), mine) is None
        state = mine[1][-1]
        assert ex.agrees(state, snap)

        class Part(dict):  # type: ignore[type-arg]
            pass

        for part in ("progs", "links", "self"):
            assert ex.agrees(state, {**snap, part: Part(snap[part])}), part
        assert ex.agrees(state, Part(snap))
        progs = snap["progs"]
        first = next(iter(progs))
        assert first in (0, 1)  # a label that is also a bool
        as_bool = {bool(k) if k == first else k: v for k, v in progs.items()}
        assert ex.agrees(state, {**snap, "progs": as_bool})
        flipped = {k: (not v if k == first else v) for k, v in progs.items()}
        assert not ex.agrees(state, {**snap, "progs": {bool(first) if k == first else k: v
                                                       for k, v in flipped.items()}})
        # a closed program put where an open one was: read from the new object
        other.close()
        assert progs[first] is False
        was = ex.programs[first]
        ex.programs[first] = other
        assert not ex.agrees(state, snap)
        ex.programs[first] = was
        assert ex.agrees(state, snap)
    finally:
        other.close()
        side.adopt(ex.programs, ex.links)
        assert side.close() == []
