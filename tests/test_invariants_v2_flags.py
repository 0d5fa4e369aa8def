"""The v2 flag checks use int constants where they used ``V2Flag``'s operators (which run in
Python): every value they may meet gets the same answer from both, bits beyond the flag's
defined ones included (``~(FIRST | LAST)`` is the defined bits other than the pins)."""
from __future__ import annotations

from mprog.differential import invariants
from mprog.flags import V2Flag

VALUES = [0, 1, 4, 32, 64, 96, 97, 128, 8192, 1 << 13 | 32, 1 << 14, 1 << 20, 1 << 40 | 64,
          -1, V2Flag.FIRST, V2Flag.LAST | V2Flag.BEFORE, True]


def test_the_constants_answer_as_the_enum_operators() -> None:
    pins = V2Flag.FIRST | V2Flag.LAST
    for x in VALUES:
        for y in VALUES:
            assert (x & invariants._NOT_PINS) == (x & ~pins)
            assert (x | y) & invariants._FIRST == (x | y) & V2Flag.FIRST
            assert (x | y) & invariants._LAST == (x | y) & V2Flag.LAST


def test_a_flag_beyond_the_defined_bits_is_not_reported_and_one_within_is() -> None:
    def state(flag: int) -> dict:
        chain = {"revision": 2, "count": 1, "progs": [0], "links": [None],
                 "prog_flags": [flag], "link_flags": [0]}
        return {"chain": chain, "links": {}, "progs": {0: False},
                "self": {"revision": 2, "len": 1, "list": [0]}}
    assert invariants.check_state(state(1 << 14), "v2") == []
    assert invariants.check_state(state(V2Flag.BEFORE), "v2") == [
        "entry 0: flags 0x8 beyond FIRST|LAST"]
