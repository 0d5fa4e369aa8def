"""QueryResult, the answer every backend's query() gives: an immutable value with dataclass
semantics (equality, hashing, ``dataclasses.replace``), however it is built."""
from __future__ import annotations

import dataclasses

import pytest

from mprog.query import QueryEntry, QueryResult

FIELDS = ("revision", "count", "prog_ids", "link_ids", "prog_attach_flags",
          "link_attach_flags", "attach_flags")


def test_fields_keep_their_order_and_defaults():
    assert tuple(f.name for f in dataclasses.fields(QueryResult)) == FIELDS
    q = QueryResult(4, 0)
    assert (q.prog_ids, q.link_ids, q.prog_attach_flags, q.link_attach_flags,
            q.attach_flags) == ((), (), (), (), 0)


def test_positional_and_keyword_construction_agree():
    args = (7, 2, (10, 11), (0, 3), (0, 0), (0, 8), 0)
    by_position = QueryResult(*args)
    by_name = QueryResult(**dict(zip(FIELDS, args)))
    assert by_position == by_name and hash(by_position) == hash(by_name)
    assert dataclasses.astuple(by_position) == args
    assert by_position.entries == (QueryEntry(10, 0, 0, 0), QueryEntry(11, 3, 0, 8))


def test_equality_looks_at_every_field():
    base = QueryResult(3, 2, (1, 2), (0, 0), (0, 0), (0, 0), 0)
    for name, other in (("revision", 4), ("count", 3), ("prog_ids", (2, 1)),
                        ("link_ids", (0, 5)), ("prog_attach_flags", (8, 0)),
                        ("link_attach_flags", (0, 8)), ("attach_flags", 2)):
        changed = dataclasses.replace(base, **{name: other})
        assert changed != base and getattr(changed, name) == other
    assert dataclasses.replace(base) == base
    assert base != (3, 2, (1, 2), (0, 0), (0, 0), (0, 0), 0)  # not a tuple


def test_it_cannot_be_changed():
    q = QueryResult(1, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.revision = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del q.count  # type: ignore[misc]
    assert q == QueryResult(1, 0)


def test_repr_and_table():
    q = QueryResult(3, 2, (5, 6), (0, 9), (0, 0), (0, 0))
    assert repr(q) == "QueryResult(revision=3, count=2, programs=[5, 6@link9])"
    assert str(q).splitlines()[0] == "revision 3, 2 program(s)"
