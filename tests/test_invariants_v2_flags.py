"""The v2 flag checks on plain ints judge every flag value as the ``V2Flag`` operators do
(``~(FIRST | LAST)`` is the flag's defined bits other than the pins, not every other bit)."""
from __future__ import annotations

import itertools
from typing import Any, Dict, List

from mprog.differential.invariants import check_state
from mprog.flags import V2Flag

VALUES = [0, 1, 32, 64, 96, 97, 8192, 1 << 14, 1 << 40 | 64]


def _state(pflags: List[int], lflags: List[int], links: List[Any]) -> Dict[str, Any]:
    n = len(pflags)
    progs = list(range(n))
    chain = {"revision": 2, "count": n, "progs": progs, "links": links,
             "prog_flags": pflags, "link_flags": lflags}
    link_states = {label: [True, False, prog] for label, prog in zip(links, progs)
                   if label is not None}
    return {"chain": chain, "links": link_states, "progs": {},
            "self": {"revision": 2, "len": n, "list": progs}}


def _by_the_enum(pflags: List[int], lflags: List[int], links: List[Any]) -> List[str]:
    """The flag problems as the checks said them with the enum's operators."""
    pins = V2Flag.FIRST | V2Flag.LAST
    out, firsts, lasts = [], [], []
    n = len(pflags)
    for i in range(n):
        owner, other = (lflags, pflags) if links[i] is not None else (pflags, lflags)
        if other[i]:
            out.append(f"entry {i}: pins {other[i]:#x} reported in the wrong array")
        if owner[i] & ~pins:
            out.append(f"entry {i}: flags {owner[i]:#x} beyond FIRST|LAST")
        if (owner[i] | other[i]) & V2Flag.FIRST:
            firsts.append(i)
        if (owner[i] | other[i]) & V2Flag.LAST:
            lasts.append(i)
    if len(firsts) > 1 or (firsts and firsts[0] != 0):
        out.append(f"FIRST held at {firsts} (at most one, at index 0)")
    if len(lasts) > 1 or (lasts and lasts[0] != n - 1):
        out.append(f"LAST held at {lasts} (at most one, at index {n - 1})")
    return out


def test_every_flag_value_judged_as_the_enum_judges_it() -> None:
    tried = 0
    for p0, p1, l0, l1 in itertools.product(VALUES, repeat=4):
        for links in ([None, None], [None, 0], [0, None], [0, 1]):
            pflags, lflags = [p0, p1], [l0, l1]
            assert check_state(_state(pflags, lflags, links), "v2") == \
                _by_the_enum(pflags, lflags, links)
            tried += 1
    assert tried == len(VALUES) ** 4 * 4
