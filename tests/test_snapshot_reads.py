"""A snapshot reuses the dicts of the parts that read as they did last time, and reads every
part again every time: a change to any model object, whether an op named it or not, shows in
the very next snapshot, and a trace checked in full finds it at the op after which it was
made (a queued op's, or one the model refused, run on the core alone)."""
from __future__ import annotations

import copy
import random
from typing import Any, Callable, Dict, List

import pytest

import mprog
from mprog import model
from mprog.differential.batched import BatchedTrial
from mprog.differential.campaign import weights_for
from mprog.differential.trial import Divergence, Trial
from mprog.ops import Interpreter
from mprog.ops.generate import Generator

ZERO = {"kind": "zero"}
ATTACH = {"op": "attach", "flags": 0, "relative": None, "replace": None,
          "expected_revision": ZERO}
PREFIX: List[Dict[str, Any]] = (
    [{"op": "new_prog", "as": i} for i in range(4)]
    + [{**ATTACH, "prog": 0}, {**ATTACH, "prog": 1},
       {"op": "link", "as": 0, "prog": 2, "flags": 0, "relative": None,
        "expected_revision": ZERO},
       {"op": "link", "as": 1, "prog": 3, "flags": 0, "relative": None,
        "expected_revision": ZERO},
       {"op": "link_detach", "link": 1}])
NEW_PROG = {"op": "new_prog", "as": 4}  # queued: the model's snapshot, compared by the executor
REFUSED = {**ATTACH, "prog": 1}  # EEXIST on both: the core runs it alone


def _from_scratch(side: Interpreter) -> Dict[str, Any]:
    """What ``snapshot`` must say: every property read, every dict built, nothing kept."""
    b = side.bundle
    progs = {k: bool(p.closed) for k, p in side.progs.items()}
    links = {k: [bool(link.attached), bool(link.closed), side.prog_label(link.prog.id)]
             for k, link in side.links.items()}
    if b.closed:
        return {"links": links, "progs": progs}
    q = b.query()
    chain = {"revision": q.revision, "count": q.count,
             "progs": [side.prog_label(i) for i in q.prog_ids],
             "links": [side.link_label(i) for i in q.link_ids],
             "prog_flags": list(q.prog_attach_flags), "link_flags": list(q.link_attach_flags)}
    return {"chain": chain, "links": links, "progs": progs,
            "self": {"revision": b.revision, "len": len(b), "list": [side.prog_label(p.id)
                                                                    for p in b]}}


def _plant(side: Interpreter, rng: random.Random) -> Callable[[], None]:
    """Change one field of one model object behind the interpreter's back, as a bug in
    another op would; returns what puts it back."""
    what = rng.randrange(4)
    if what == 0 and side.progs:
        obj: Any = side.progs[rng.choice(list(side.progs))]
        field, value = "_closed", not obj._closed
    elif what in (1, 2) and side.links:
        obj = side.links[rng.choice(list(side.links))]._link
        field = "attached" if what == 1 else "closed"
        value = not getattr(obj, field)
    elif what == 3 and side.links and side.progs:
        obj = side.links[rng.choice(list(side.links))]._link
        field, value = "prog", side.progs[rng.choice(list(side.progs))]
    else:
        return lambda: None
    old = getattr(obj, field)
    setattr(obj, field, value)
    return lambda: setattr(obj, field, old)


# a planted change can make the model drop a link it made unclosed: its __del__ complains
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("dialect", ["upstream", "v2"])
@pytest.mark.parametrize("planted", [False, True])
def test_every_snapshot_says_what_reading_everything_again_says(dialect: str,
                                                                 planted: bool) -> None:
    rng = random.Random(5)
    for seed in range(8):
        # one backend: the trial keeps the generator's view; its side is the interpreter
        trial = Trial({"model": model}, dialect, full=False, check_protocol=False)
        side = trial.sides[0]
        gen = Generator(dialect, random.Random(seed), weights_for(trial))
        undo: List[Callable[[], None]] = []
        try:
            while len(trial.ops) < 120:
                for op in gen.next(trial.view):
                    trial.step(op)
                    if planted and rng.random() < 0.3:
                        before = copy.deepcopy(side.snapshot())
                        undo.append(_plant(side, rng))
                        after = side.snapshot()
                        scratch = _from_scratch(side)
                        assert {k: after[k] for k in scratch} == scratch
                        assert (after == before) == ({k: before[k] for k in scratch}
                                                     == scratch)
                    snap = side.snapshot()
                    scratch = _from_scratch(side)
                    assert {k: snap[k] for k in scratch} == scratch
        except Divergence:
            assert planted  # a planted change can break the model's own next op
        finally:
            for put_back in reversed(undo):  # so that closing finds what it made
                put_back()
            trial.close()


def test_a_snapshot_that_reads_the_same_is_the_last_one() -> None:
    side = Interpreter("model", model, "upstream")
    try:
        for op in PREFIX:
            side.apply(op)
        first = side.snapshot()
        again = side.snapshot()
        assert again is first
        side.progs[3]._closed = True  # one read differs: a new snapshot, the rest kept
        changed = side.snapshot()
        assert changed is not first and changed["progs"][3] is True
        assert changed["links"] is first["links"] and changed["self"] is first["self"]
        assert first["progs"][3] is False  # the last snapshot is never edited
    finally:
        side.close()


@pytest.mark.parametrize("field", ["revision", "len", "list"])
def test_the_bundle_is_read_again_when_its_chain_did_not_change(
        field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    side = Interpreter("model", model, "upstream")
    try:
        for op in PREFIX:
            side.apply(op)
        first = copy.deepcopy(side.snapshot())
        if field == "revision":
            real = model.Bundle.revision
            monkeypatch.setattr(model.Bundle, "revision",
                                property(lambda b: real.fget(b) + 1))  # type: ignore[attr-defined]
        elif field == "len":
            size = model.Bundle.__len__
            monkeypatch.setattr(model.Bundle, "__len__", lambda b: size(b) - 1)
        else:
            order = model.Bundle.__iter__
            monkeypatch.setattr(model.Bundle, "__iter__", lambda b: reversed(list(order(b))))
        mine = side.snapshot()["self"]
        assert mine == {"revision": first["self"]["revision"] + (field == "revision"),
                        "len": first["self"]["len"] - (field == "len"),
                        "list": first["self"]["list"][::1 if field != "list" else -1]}
    finally:
        monkeypatch.undo()
        side.close()


def test_an_id_read_before_it_had_a_label_reads_as_its_label_once_it_has_one() -> None:
    side = Interpreter("model", model, "upstream")
    outside = model.Program(name="outside")  # made without the interpreter: no label yet
    try:
        side.bundle.attach(outside)
        side.links[0] = side.bundle.link(model.Program(name="linked"))
        first = side.snapshot()
        assert first["self"]["list"] == [f"?{outside.id}", f"?{side.links[0].prog.id}"]
        assert first["links"][0][2] == f"?{side.links[0].prog.id}"
        side.adopt([outside, side.links[0].prog], [])  # labels 0 and 1
        second = side.snapshot()
        assert second["self"]["list"] == [0, 1] and second["links"][0][2] == 1
        assert second["progs"] == {0: False, 1: False}
    finally:
        side.links[0].close()
        side.close()
        outside.close()


def _close_another(side: Interpreter) -> None:
    side.progs[0]._closed = True  # attached by program and open; no op below names it


def _detach_behind(side: Interpreter) -> None:
    side.links[0]._link.attached = False  # the chain still holds it


def _swap_program(side: Interpreter) -> None:
    side.links[0]._link.prog = side.progs[3]  # its slot holds program 2


def _close_detached(side: Interpreter) -> None:
    side.links[1]._link.closed = True  # detached, open: no invariant breaks, the core differs


@pytest.mark.parametrize("plant", [_close_another, _detach_behind, _swap_program,
                                   _close_detached])
@pytest.mark.parametrize("op", [NEW_PROG, REFUSED], ids=["queued", "refused"])
def test_a_change_no_op_named_is_found_at_the_next_op(plant: Callable[[Interpreter], None],
                                                      op: Dict[str, Any]) -> None:
    trial = BatchedTrial({"core": mprog, "model": model}, full=True)
    try:
        for step in PREFIX:
            trial.step(step)
        trial.flush()
        plant(trial.model)
        with pytest.raises(Divergence) as caught:
            trial.step(op)
            trial.flush()
        assert len(caught.value.ops) == len(PREFIX) + 1 and caught.value.op is op
        assert caught.value.kind in ("state", "invariant")
    finally:
        trial.close()


@pytest.mark.parametrize("op", [NEW_PROG, REFUSED], ids=["queued", "refused"])
def test_nothing_planted_nothing_found(op: Dict[str, Any]) -> None:
    trial = BatchedTrial({"core": mprog, "model": model}, full=True)
    try:
        for step in [*PREFIX, op]:
            trial.step(step)
        trial.flush()
    finally:
        assert trial.close() == []


def _close_core_program(trial: BatchedTrial) -> None:
    trial.executor.programs[3].close()  # its handle only: the program lives on in link 1


def _close_core_link(trial: BatchedTrial) -> None:
    trial.executor.links[1].close()  # detached already: the chain does not change


@pytest.mark.parametrize("plant", [_close_core_program, _close_core_link])
@pytest.mark.parametrize("op", [NEW_PROG, REFUSED], ids=["queued", "refused"])
def test_a_change_to_the_core_alone_is_found_at_the_next_op(
        plant: Callable[[BatchedTrial], None], op: Dict[str, Any]) -> None:
    # The model's snapshot keeps every invariant: only comparing the core with it tells.
    trial = BatchedTrial({"core": mprog, "model": model}, full=True)
    try:
        for step in PREFIX:
            trial.step(step)
        trial.flush()
        plant(trial)
        with pytest.raises(Divergence) as caught:
            trial.step(op)
            trial.flush()
        assert len(caught.value.ops) == len(PREFIX) + 1 and caught.value.op is op
        # queued: the executor's comparison; refused: lockstep's report (the core's
        # snapshot differs from the model's at the op before, so its transition breaks too)
        assert caught.value.kind in ("state", "invariant")
        assert caught.value.states["core"] != caught.value.states["model"]
    finally:
        trial.close()
