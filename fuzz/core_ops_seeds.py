"""Writes the seed corpus of core_ops_fuzzer: a few short, readable op programs that reach
the places random bytes reach slowly (a full chain, v2 pins, links, transactions).

    python fuzz/core_ops_seeds.py DIR

The record layout is fuzz/core/decode.hpp's: a dialect byte, then 8 bytes per operation.
"""
from __future__ import annotations

import pathlib
import sys
from typing import Dict, List

# b0 values whose `% 16` selects each operation in decode.hpp's table.
KIND = {"attach": 0, "link": 3, "detach": 5, "link_detach": 8, "update": 9, "query": 11,
        "tx_attach": 12, "tx_detach": 13, "tx_end": 14, "fill": 15}
# Flag bits (b2): the same meaning in both dialects except FIRST/LAST (v2 only).
REPLACE, BEFORE, AFTER, ID, LINK, FIRST, LAST = 1, 2, 4, 8, 16, 32, 64
# Relative kinds (b3) and handle sources (b6, bits 0-1 and 2-3).
REL = {"none": 0, "prog_pool": 1, "prog_chain": 2, "link_pool": 3, "link_chain": 4, "failed": 5}
SRC = {"pool": 0, "chain": 1, "none": 2, "failed": 3}
REV = {"zero": 0, "current": 4, "stale": 5, "future": 6, "huge": 7}


def op(kind: str, prog: int = 0, flags: int = 0, rel: str = "none", rel_index: int = 0,
       rev: str = "zero", src: str = "pool", second: str = "none", arg: int = 0) -> bytes:
    b6 = SRC[src] | (SRC[second] << 2)
    return bytes((KIND[kind], prog, flags, REL[rel], rel_index, REV[rev], b6, arg))


def program(v2: bool, ops: List[bytes]) -> bytes:
    return bytes((1 if v2 else 0,)) + b"".join(ops)


def seeds() -> Dict[str, bytes]:
    full = [op("fill", arg=63), op("attach", prog=70), op("query", arg=10),
            op("detach", src="none", flags=AFTER), op("attach", prog=70, flags=BEFORE,
                                                      rel="prog_chain", rel_index=5)]
    links = [op("link", prog=1), op("link", prog=2, flags=AFTER | LINK, rel="link_chain"),
             op("update", prog=7, flags=REPLACE, second="chain", arg=0),
             op("attach", prog=9, flags=BEFORE | ID | LINK, rel="link_chain", rel_index=1),
             op("link_detach", rel="link_pool"), op("detach", prog=1, src="chain", rev="current")]
    pins = [op("attach", prog=1, flags=FIRST), op("link", prog=2, flags=LAST),
            op("attach", prog=3), op("attach", prog=4, flags=BEFORE),
            op("attach", prog=5, flags=REPLACE, rel="prog_chain", rel_index=2),
            op("detach", src="none", flags=LAST), op("detach", src="none", flags=FIRST)]
    tx = [op("fill", arg=5 | 0x10), op("tx_attach", prog=40, flags=BEFORE, rel="prog_chain"),
          op("tx_detach", src="none", flags=AFTER), op("tx_attach", prog=41, rev="current"),
          op("tx_end", rev="current"), op("tx_attach", prog=42), op("attach", prog=43),
          op("tx_end")]
    stale = [op("attach", prog=1), op("attach", prog=2, rev="stale"),
             op("detach", prog=1, rev="future"), op("attach", prog=3, flags=0x80, arg=9),
             op("update", prog=4, src="failed"), op("link", prog=5, rel="failed", flags=BEFORE)]
    return {
        "upstream-full": program(False, full), "v2-full": program(True, full),
        "upstream-links": program(False, links), "v2-links": program(True, links),
        "v2-pins": program(True, pins), "upstream-tx": program(False, tx),
        "v2-tx": program(True, tx), "upstream-bad-input": program(False, stale),
        "v2-bad-input": program(True, stale),
    }


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python fuzz/core_ops_seeds.py DIR", file=sys.stderr)
        return 2
    out = pathlib.Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (out / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
