"""The batch path (``mprog.batch.replay``: one C++ call for a whole trace) agrees with the
per-call path (the same ops through the ``mprog.Bundle`` protocol, ``mprog.batch.apply``):
the same errno for every op, the same final chain and revision."""
from __future__ import annotations

import errno
import random

import pytest

import mprog
import mprog.model
from mprog import batch
from mprog.batch import CURRENT, STALE, Records


def agree(trace: Records, programs: int, dialect: str, backend=mprog) -> batch.ReplayResult:
    fast = batch.replay(trace, programs, dialect=dialect, errnos=True)
    slow = batch.apply(backend, trace, programs, dialect=dialect)
    for i, (a, b) in enumerate(zip(fast.errnos, slow.errnos)):
        assert a == b, f"op {i} {batch.OPNAMES[list(trace)[i][0]]}: replay {a}, per call {b}"
    assert fast == slow
    return fast


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
@pytest.mark.parametrize("seed", range(40))
def test_random_trace_agrees_with_per_call_path(dialect, seed):
    rng = random.Random(seed)
    programs = rng.choice([2, 4, 8, 70])  # 70: enough to fill a chain
    agree(batch.random_trace(rng, rng.choice([30, 150, 400]), programs, dialect), programs,
          dialect)


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_random_traces_reach_the_interesting_errnos(dialect):
    seen = {}
    for seed in range(40):
        rng = random.Random(seed)
        programs = rng.choice([2, 4, 8, 70])
        trace = batch.random_trace(rng, 300, programs, dialect)
        for e, n in batch.replay(trace, programs, dialect=dialect).counts.items():
            seen[e] = seen.get(e, 0) + n
    full = errno.ERANGE if dialect == "upstream" else errno.ENOSPC
    for e in (0, errno.EINVAL, errno.EBADF, errno.ENOENT, errno.EEXIST, errno.ESTALE,
              errno.EBUSY, full):
        assert seen.get(e), f"no op ended in {errno.errorcode.get(e, e)}: {seen}"


def test_full_chain_and_churn():
    t = Records()
    for i in range(64):
        t.attach(i)  # the 64th: ERANGE
    t.detach(None, mprog.Flag.BEFORE)  # the first
    for _ in range(100):
        t.attach(63, expect=CURRENT)
        t.detach(63, expect=STALE)  # ESTALE
        t.detach(63)
    result = agree(t, 64, "upstream")
    assert result.counts == {0: 63 + 1 + 200, errno.ERANGE: 1, errno.ESTALE: 100}
    assert [p for p, _ in result.chain] == list(range(1, 63))
    assert result.revision == 1 + 63 + 1 + 200


def test_links_handles_and_ids():
    F = mprog.Flag
    t = Records()
    t.attach(0)
    first = t.link(1, F.BEFORE, ("prog", 0))  # [1 via link 0, 0]
    t.link(2, F.AFTER | F.LINK, ("link", first))  # [1, 2, 0]
    t.link(3, F.AFTER | F.LINK | F.ID, first + 1)  # by id: [1, 3, 2, 0]
    bad = t.link(0)  # EEXIST: leaves a closed link behind
    t.link_detach(bad)  # EBADF
    t.attach(4, F.BEFORE | F.ID, 2)  # program id 2 is program 1: [4, 1, 3, 2, 0]
    t.update(first, 5, F.REPLACE, 1)  # [4, 5, 3, 2, 0]
    t.detach(5)  # EBUSY: the slot is the link's
    t.close_program(0)
    t.attach(6, F.AFTER, ("prog", 0))  # EBADF
    t.attach(6, F.AFTER | F.ID, ("prog", 0))  # closed but alive (in the chain): found by id
    t.detach(0)  # EBADF: closed handle
    t.detach(None, F.AFTER)  # removes the last: 6
    t.close_link(first)  # detaches it: [4, 3, 2, 0]
    t.link_detach(first)  # EBADF
    result = agree(t, 7, "upstream")
    assert result.errnos.tolist() == [0, 0, 0, 0, errno.EEXIST, errno.EBADF, 0, 0,
                                      errno.EBUSY, 0, errno.EBADF, 0, errno.EBADF, 0, 0,
                                      errno.EBADF]
    assert result.chain == ((4, None), (3, 2), (2, 1), (0, None))


def test_v2_pins_agree():
    V = mprog.V2Flag
    t = Records()
    t.attach(0, V.FIRST)
    t.attach(1, V.LAST)
    t.attach(2)  # lands between the pins
    t.attach(3, V.FIRST)  # the pin is taken
    t.attach(3, V.REPLACE, replace=2)
    t.attach(4, V.REPLACE | V.FIRST, replace=0)
    agree(t, 5, "v2")


@pytest.mark.parametrize("backend", ["core", "model"])
def test_v2_link_create_ignores_unknown_bits_in_replay(backend):
    # docs/v2.md, choice 11: the v2 series' link_create never masked its u32 flags
    V = mprog.V2Flag
    t = Records()
    t.link(0, 1 << 8)  # appended
    t.link(1, V.LAST | 1 << 0)  # a LAST-pinned link
    t.link(2, V.LAST | 1 << 31)  # EBUSY: LAST is held
    t.link(3, 1 << 12, expect=STALE)  # ESTALE
    t.attach(4, 1 << 12)  # attach masks: EINVAL
    t.detach(0, 1 << 12)  # detach masks: EINVAL
    result = agree(t, 5, "v2", backend=mprog if backend == "core" else mprog.model)
    assert result.errnos.tolist() == [0, 0, errno.EBUSY, errno.ESTALE, errno.EINVAL,
                                      errno.EINVAL]
    assert result.chain == ((0, 0), (1, 1))


def test_a_million_ops_in_one_call():
    t = Records()
    for i in range(31):
        t.attach(i)
    churn = Records()
    churn.attach(31)
    churn.detach(31)
    data = bytes(t) + bytes(churn) * 500_000
    result = batch.replay(data, 32)
    assert result.ops == 1_000_031
    assert result.counts == {0: 1_000_031}
    assert result.chain == tuple((i, None) for i in range(31))


def test_malformed_ops_raise_value_error():
    t = Records()
    t.attach(0)
    t.attach(5)  # no program 5 of 2
    with pytest.raises(ValueError, match="op 1"):
        batch.replay(t, 2)
    t = Records()
    t.update(0, 0)  # link 0 was never created
    with pytest.raises(ValueError, match="op 0"):
        batch.replay(t, 1, links=1)
    with pytest.raises(ValueError):
        batch.replay(b"\0" * 15, 1)
    with pytest.raises(ValueError):
        batch.replay(Records(), 1, dialect="v3")


def test_trace_data_can_be_any_buffer():
    t = Records()
    t.attach(0)
    t.attach(1, mprog.Flag.BEFORE)
    raw = bytes(t)
    expected = batch.replay(t, 2)
    assert batch.replay(bytearray(raw), 2) == expected
    assert batch.replay(memoryview(b"x" + raw)[1:], 2) == expected  # unaligned
    assert expected.chain == ((1, None), (0, None))


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_records_encode_the_vocabulary_and_decode_back(dialect):
    rng = random.Random(11)
    records = batch.random_trace(rng, 300, 8, dialect)
    ops = batch.decode(records, 8, dialect)
    again, programs = batch.encode(ops, dialect)
    assert programs == 8 and len(again) == len(records)
    # the same meaning (an id no object has may be spelled another way)
    assert batch.replay(again, 8, dialect=dialect, errnos=True) == batch.replay(
        records, 8, dialect=dialect, errnos=True)


@pytest.mark.parametrize("op, why", [
    ({"op": "query", "count": {"kind": "none"}}, "no such op"),
    ({"op": "tx_begin", "as": 0, "expected_revision": {"kind": "zero"}}, "no such op"),
    ({"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
      "expected_revision": {"kind": "stale"}}, "revision"),
    ({"op": "attach", "prog": {"kind": "bad", "value": "str"}, "flags": 0, "relative": None,
      "replace": None, "expected_revision": {"kind": "zero"}}, "not made"),
    ({"op": "attach", "prog": 3, "flags": 0, "relative": None, "replace": None,
      "expected_revision": {"kind": "zero"}}, "not made"),
])
def test_encode_refuses_what_records_cannot_say(op, why):
    with pytest.raises(ValueError, match=why):
        batch.encode([{"op": "new_prog", "as": 0}, op])


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_a_trace_longer_than_records_can_number_links_for_stops_making_them(dialect, monkeypatch):
    # Records number links by link op in 16 bits: a long trace (the benchmark's 300,000 ops
    # make about 75,000 link ops) goes on without new links once it has made LINK_LABELS.
    monkeypatch.setattr(batch, "LINK_LABELS", 40)
    rng = random.Random(3)
    trace = batch.random_trace(rng, 1500, 8, dialect)
    ops = batch.decode(trace, 8, dialect)
    assert len(ops) == 8 + 1500
    links = [i for i, op in enumerate(ops) if op["op"] == "link"]
    assert 40 <= len(links) < 40 + 64  # the last fill may make up to 63 beyond the mark
    assert links[-1] < len(ops) // 2  # and then none: the rest is made without
    later = {op["op"] for op in ops[links[-1] + 1:]}
    assert {"update", "link_detach", "attach", "detach"} <= later  # links still used
    agree(trace, 8, dialect)
