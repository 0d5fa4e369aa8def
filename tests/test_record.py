"""``mprog.batch.record`` (written in C++, ``mprog._core.record``): the fields of each op's
record, and what it does with input of the wrong shape (None, or what indexing raises).

Whether records mean what the ops mean is tested by running them (tests/test_batched*.py:
the executor's answers equal the interpreter's); this pins the layout field by field."""
import pytest

from mprog import batch
from mprog.batch import (ANY, ATTACH, CLOSE_LINK, CLOSE_PROGRAM, CURRENT, DETACH, LINK,
                         LINK_DETACH, NEW_PROGRAM, NONE, PREVIOUS, QUERY, RECORD, STALE,
                         TX_ATTACH, TX_BEGIN, TX_COMMIT, TX_DETACH, TX_DISCARD, UPDATE)

ZERO = {"kind": "zero"}
# relative kinds (mprog::replay::Arg)
R_NONE, R_PROG, R_LINK, R_VALUE, R_PROG_ID, R_LINK_ID, R_NO_ID = range(7)


def fields(op):
    rec = batch.record(op)
    assert rec is not None, op
    return RECORD.unpack(rec)


def attach(**kw):
    op = {"op": "attach", "prog": 2, "flags": 0, "relative": None, "replace": None,
          "expected_revision": ZERO}
    op.update(kw)
    return op


# (code, relative kind, expect, aside bits, flags, prog, other, link, relative)
@pytest.mark.parametrize("op, want", [
    ({"op": "new_prog", "as": 5}, (NEW_PROGRAM, 0, 0, 0, 0, 5, NONE, 0, 0)),
    ({"op": "new_prog", "as": 4000}, (NEW_PROGRAM, 0, 0, 0, 0, 4000, NONE, 0, 0)),
    (attach(), (ATTACH, R_NONE, ANY, 0, 0, 2, NONE, 0, 0)),
    (attach(flags=0xFFFFFFFF, expected_revision={"kind": "current"},
            relative={"kind": "link", "ref": 7}, replace={"kind": "prog", "ref": 3}),
     (ATTACH, R_LINK, CURRENT, 0, 0xFFFFFFFF, 2, 3, 0, 7)),
    (attach(relative={"kind": "id_prog", "ref": 1}, expected_revision={"kind": "future"}),
     (ATTACH, R_PROG_ID, STALE, 0, 0, 2, NONE, 0, 1)),
    (attach(relative={"kind": "id_link", "ref": 9}, expected_revision={"kind": "stale"}),
     (ATTACH, R_LINK_ID, PREVIOUS, 0, 0, 2, NONE, 0, 9)),
    (attach(relative={"kind": "prog", "ref": 0}), (ATTACH, R_PROG, ANY, 0, 0, 2, NONE, 0, 0)),
    (attach(relative={"kind": "id_raw", "value": 65534}),
     (ATTACH, R_VALUE, ANY, 0, 0, 2, NONE, 0, 65534)),
    (attach(relative={"kind": "int", "value": 0}), (ATTACH, R_VALUE, ANY, 0, 0, 2, NONE, 0, 0)),
    (attach(relative={"kind": "id_raw", "value": 0xFFFFFFF0}),
     (ATTACH, R_NO_ID, ANY, 0, 0, 2, NONE, 0, 0)),
    ({**attach(), "op": "tx_attach", "tx": 4}, (TX_ATTACH, 0, ANY, 0, 0, 2, NONE, 4, 0)),
    ({"op": "detach", "prog": None, "flags": 8, "relative": None, "expected_revision": ZERO},
     (DETACH, 0, ANY, 0, 8, NONE, NONE, 0, 0)),
    ({"op": "tx_detach", "tx": 1, "prog": 6, "flags": 0, "relative": None,
      "expected_revision": ZERO}, (TX_DETACH, 0, ANY, 0, 0, 6, NONE, 1, 0)),
    ({"op": "link", "as": 3, "prog": 1, "flags": 2, "relative": None,
      "expected_revision": {"kind": "current"}}, (LINK, 0, CURRENT, 0, 2, 1, NONE, 3, 0)),
    ({"op": "update", "link": 2, "new_prog": 5, "old_prog": None, "flags": 4},
     (UPDATE, 0, 0, 0, 4, 5, NONE, 2, 0)),
    ({"op": "update", "link": 2, "new_prog": 5, "old_prog": 1, "flags": 0},
     (UPDATE, 0, 0, 0, 0, 5, 1, 2, 0)),
    ({"op": "link_detach", "link": 3}, (LINK_DETACH, 0, 0, 0, 0, NONE, NONE, 3, 0)),
    ({"op": "link_close", "link": 3}, (CLOSE_LINK, 0, 0, 0, 0, NONE, NONE, 3, 0)),
    ({"op": "prog_close", "prog": 8}, (CLOSE_PROGRAM, 0, 0, 0, 0, 8, NONE, 0, 0)),
    ({"op": "query", "count": {"kind": "none"}}, (QUERY, 0, 0, 0, 0, NONE, NONE, 0, 0)),
    ({"op": "query", "count": {"kind": "larger"}}, (QUERY, 0, 4, 0, 0, NONE, NONE, 0, 0)),
    ({"op": "query", "count": {"kind": "value", "value": 2**32 - 1}},
     (QUERY, 0, 5, 0, 2**32 - 1, NONE, NONE, 0, 0)),
    ({"op": "tx_begin", "as": 2, "expected_revision": {"kind": "stale"}},
     (TX_BEGIN, 0, PREVIOUS, 0, 0, NONE, NONE, 2, 0)),
    ({"op": "tx_commit", "tx": 2}, (TX_COMMIT, 0, 0, 0, 0, NONE, NONE, 2, 0)),
    ({"op": "tx_discard", "tx": 2}, (TX_DISCARD, 0, 0, 0, 0, NONE, NONE, 2, 0)),
])
def test_each_field_of_each_op(op, want):
    assert fields(op) == want


class Three:
    def __index__(self):
        return 3


def test_a_label_is_packed_as_struct_packs_it():
    # a bool is an int, and so is anything with __index__ (struct's rule for its fields)
    assert fields({"op": "prog_close", "prog": True})[5] == 1
    assert fields({"op": "prog_close", "prog": Three()})[5] == 3
    assert fields({"op": "prog_close", "prog": NONE})[5] == NONE


@pytest.mark.parametrize("op", [
    {"op": "prog_close", "prog": 65536},
    {"op": "prog_close", "prog": -1},
    {"op": "prog_close", "prog": 2**70},
    {"op": "prog_close", "prog": 1.0},
    {"op": "prog_close", "prog": "1"},
    {"op": "prog_close", "prog": {"kind": "bad", "value": "str"}},
    {"op": "prog_close"},  # a key missing
    {"op": "link", "as": 0, "prog": None, "flags": 0, "relative": None,
     "expected_revision": ZERO},  # a link needs a program
    attach(flags=True),  # flags are a plain int
    attach(flags=-1),
    attach(flags=2**32),
    attach(expected_revision="zero"),  # a spec that is no mapping
    attach(expected_revision={"kind": ["zero"]}),  # unhashable
    attach(expected_revision={"kind": "value", "value": 1}),
    attach(relative=["prog", 1]),
    attach(relative={"kind": "prog"}),
    attach(relative={"kind": "prog", "ref": 65536}),
    attach(relative={"kind": "id_raw", "value": 65535}),
    attach(relative={"kind": "id_raw", "value": True}),
    attach(relative={"kind": "id_raw"}),
    attach(relative={"kind": "bad", "value": "foreign_link"}),
    attach(relative={"kind": ["prog"], "value": 1}),
    attach(replace={"kind": "link", "ref": 0}),  # only a program by label
    attach(replace={"kind": "id_raw", "value": 0}),
    {"op": "query", "count": {"kind": "none"}, "effective": True},
    {"op": "query", "count": {"kind": "none"}, "cgroup": 0},
    {"op": "query", "count": {"kind": "value", "value": -1}},
    {"op": "query", "count": {"kind": "value", "value": 2**32}},
    {"op": "query", "count": {"kind": "value", "value": True}},
    {"op": "query", "count": {"kind": "bad", "value": "str"}},
    {"op": "tx_begin", "as": 0, "expected_revision": {"kind": "value", "value": 3}},
    {"op": "bundle_close"},
    {"op": "new_cgroup", "as": 1, "parent": 0},
    {"op": "no_such_op"},
    {"op": 5},
])
def test_none_where_a_record_cannot_say_it(op):
    assert batch.record(op) is None


def test_a_dict_subclass_reads_as_a_dict():
    class Op(dict):
        pass
    assert batch.record(Op(attach())) == batch.record(attach())
    assert batch.record(attach(relative=Op(kind="prog", ref=1))) is not None


@pytest.mark.parametrize("op, error", [
    ([], TypeError), ("attach", TypeError), (None, TypeError), ({}, KeyError),
    ({"as": 1}, KeyError), ({"op": ["attach"]}, TypeError),
])
def test_what_is_no_op_raises_as_indexing_it_does(op, error):
    with pytest.raises(error):
        batch.record(op)
