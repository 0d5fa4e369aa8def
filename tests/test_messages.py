"""One text per rule (mprog.messages): the core and the model word each shared rule alike.

Each case makes one call fail on both backends; the messages must be equal once each
backend's ids are replaced by the names of the handles they belong to (ids are per backend).
"""
from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Callable, Dict, List

import pytest

import mprog
import mprog.model

Case = Callable[[ModuleType, Callable[[str], Any]], None]


class Named:
    """Handles made by name, so messages can be compared across backends."""

    def __init__(self, m: ModuleType) -> None:
        self.m = m
        self.programs: Dict[int, str] = {}
        self.links: Dict[int, str] = {}

    def program(self, name: str) -> Any:
        p = self.m.Program(name=name)
        self.programs[p.id] = name
        return p

    def link(self, b: Any, p: Any, name: str, **kw: Any) -> Any:
        link = b.link(p, **kw)
        self.links[link.id] = name
        return link

    def normalized(self, message: str) -> str:
        message = re.sub(r"program (\d+)", lambda g: f"program <{self.programs[int(g[1])]}>", message)
        return re.sub(r"link (\d+)", lambda g: f"link <{self.links[int(g[1])]}>", message)


def failure(m: ModuleType, dialect: str, case: Callable[[Named, Any], None]) -> str:
    n = Named(m)
    b = m.Bundle(dialect)
    try:
        case(n, b)
    except mprog.MprogError as e:
        return f"[{e.errno}] {n.normalized(e.strerror)}"
    finally:
        b.close()
    raise AssertionError("the call did not fail")


def _full(n: Named, b: Any) -> None:
    for i in range(mprog.MAX_PROGRAMS):
        b.attach(n.program(f"p{i}"))


F, V = mprog.Flag, mprog.V2Flag
CASES: Dict[str, Callable[[Named, Any], None]] = {
    "exists": lambda n, b: [b.attach(p := n.program("a")), b.attach(p)],
    "chain_full": lambda n, b: [_full(n, b), b.attach(n.program("extra"))],
    "absent": lambda n, b: [b.attach(n.program("a")), b.detach(n.program("b"))],
    "stale": lambda n, b: b.attach(n.program("a"), expected_revision=5),
    "empty": lambda n, b: b.detach(),
    "relative_absent": lambda n, b: [b.attach(n.program("a")),
                                     b.attach(n.program("b"), F.BEFORE, n.program("c"))],
    "no_directive": lambda n, b: [b.attach(p := n.program("a")), b.attach(n.program("b"), 0, p)],
    "link_owned": lambda n, b: [l := n.link(b, p := n.program("a"), "L"), b.detach(p),
                                l.close()],
    "link_owned_detach": lambda n, b: [l := n.link(b, n.program("a"), "L"), b.detach(),
                                       l.close()],
    "replace_absent": lambda n, b: [b.attach(n.program("a")),
                                    b.attach(n.program("b"), F.REPLACE, replace=n.program("c"))],
    "unknown_flags": lambda n, b: b.attach(n.program("a"), 1 << 40),
    "link_detached": lambda n, b: [l := n.link(b, n.program("a"), "L"), l.detach(),
                                   l.update(n.program("b"))],
    "link_closed": lambda n, b: [l := n.link(b, n.program("a"), "L"), l.close(),
                                 l.update(n.program("b"))],
    "link_detach_closed": lambda n, b: [l := n.link(b, n.program("a"), "L"), l.close(),
                                        l.detach()],
    "wrong_old_prog": lambda n, b: [l := n.link(b, n.program("a"), "L"),
                                    l.update(n.program("b"), F.REPLACE, n.program("c"))],
    "update_exists": lambda n, b: [b.attach(p := n.program("a")),
                                   n.link(b, n.program("b"), "L").update(p)],
}

V2_CASES: Dict[str, Callable[[Named, Any], None]] = {
    "exists": CASES["exists"],
    "stale": CASES["stale"],
    "absent": CASES["absent"],
    "link_owned_detach": lambda n, b: [l := n.link(b, p := n.program("a"), "L"), b.detach(p),
                                       l.close()],
    "replace_absent": lambda n, b: [b.attach(n.program("a")),
                                    b.attach(n.program("b"), V.REPLACE, replace=n.program("c"))],
    "slot_owned": lambda n, b: [l := n.link(b, p := n.program("a"), "L"),
                                b.attach(n.program("b"), V.REPLACE, replace=p), l.close()],
    "pin_position": lambda n, b: [b.attach(n.program("a")), b.attach(p := n.program("b")),
                                  b.attach(n.program("c"), V.REPLACE | V.FIRST, replace=p)],
    "chain_full": lambda n, b: [_full(n, b), b.attach(n.program("extra"))],
}


def _transaction_case(expected: int) -> Callable[[Named, Any], None]:
    def case(n: Named, b: Any) -> None:
        b.attach(n.program("a"))
        tx = b.transaction(expected_revision=expected)
        tx.attach(n.program("b"))
        b.attach(n.program("c"))
        tx.commit()
    return case


CASES["transaction_changed"] = _transaction_case(0)
CASES["transaction_expected"] = _transaction_case(7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_upstream_rule_reads_the_same(name: str) -> None:
    assert failure(mprog, "upstream", CASES[name]) == failure(mprog.model, "upstream", CASES[name])


@pytest.mark.parametrize("name", sorted(V2_CASES))
def test_v2_rule_reads_the_same(name: str) -> None:
    assert failure(mprog, "v2", V2_CASES[name]) == failure(mprog.model, "v2", V2_CASES[name])


def test_the_messages_name_the_handles() -> None:
    got: List[str] = [failure(mprog, "upstream", CASES["link_owned_detach"]),
                      failure(mprog, "upstream", CASES["wrong_old_prog"])]
    assert got == ["[16] detach: program <a> is attached by link <L>; detach the link instead",
                   "[1] update: link <L> runs program <a>, not program <c>"]
