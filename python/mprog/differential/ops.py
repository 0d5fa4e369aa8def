"""The operation vocabulary of differential fuzzing: plain JSON-able dicts.

An operation never holds a backend's object or id. Programs and links are named by a *label*:
the logical index the harness gave them when they were created (``new_prog`` and ``link`` carry
it as ``"as"``), which in a generated trace is their order of creation. Labels survive trace
minimization: dropping the op that created label 3 makes later references to 3 "skip" instead
of silently renaming every later program.

Every operation has an ``"op"`` key::

    {"op": "new_prog", "as": 0}
    {"op": "attach", "prog": 0, "flags": 24, "relative": REL, "replace": REL,
     "expected_revision": REV}
    {"op": "link", "as": 0, "prog": 0, "flags": 0, "relative": REL, "expected_revision": REV}
    {"op": "update", "link": 0, "new_prog": 1, "flags": 4, "old_prog": 0 | None}
    {"op": "link_detach", "link": 0}
    {"op": "link_close", "link": 0}
    {"op": "prog_close", "prog": 0}
    {"op": "detach", "prog": 0 | None, "flags": 0, "relative": REL, "expected_revision": REV}
    {"op": "query", "count": COUNT}

``REL`` (a relative, or the ``replace`` argument) is ``None`` or one of::

    {"kind": "prog", "ref": 1}        the program handle (may be closed)
    {"kind": "link", "ref": 0}        the link handle (may be closed or detached)
    {"kind": "id_prog", "ref": 2}     that program's id in this backend
    {"kind": "id_link", "ref": 0}     that link's id in this backend
    {"kind": "id_raw", "value": N}    an id no backend gives out (or 0)
    {"kind": "int", "value": N}       a plain int (without ID: "an fd that is no bpf object")

``REV`` is ``{"kind": "zero" | "current" | "stale" | "future"}`` or ``{"kind": "value",
"value": N}``; ``COUNT`` is ``{"kind": "none" | "zero" | "short" | "exact" | "larger"}`` or
``{"kind": "value", "value": N}``. Both are resolved against each backend's own state when the
op runs, so a minimized trace keeps meaning "the current revision".
"""
from __future__ import annotations

import enum
from typing import Any, Dict, Iterator, Optional, Tuple, Type

from ..flags import Flag, V2Flag

Op = Dict[str, Any]

OPS = ("new_prog", "attach", "link", "update", "link_detach", "link_close", "prog_close",
       "detach", "query")

#: Operations whose success never changes the chain.
READ_ONLY = frozenset({"new_prog", "prog_close", "query"})


def _by_name(flags: Type[enum.IntFlag]) -> Dict[str, int]:
    """Each member of ``flags`` by its name, as a plain int."""
    named: Dict[str, int] = {}
    for f in flags:
        # typeshed allows None for a combination of bits; iterating the class gives members
        assert f.name is not None, f"iterating {flags.__name__} gave an unnamed value {f!r}"
        named[f.name] = int(f)
    return named


#: Known flag bits per dialect, by name.
KNOWN_FLAGS: Dict[str, Dict[str, int]] = {
    "upstream": _by_name(Flag),
    "v2": _by_name(V2Flag),
}


def known_mask(dialect: str) -> int:
    mask = 0
    for value in KNOWN_FLAGS[dialect].values():
        mask |= value
    return mask


def flag(dialect: str, name: str) -> int:
    """The value of flag ``name`` in ``dialect`` (0 if the dialect has no such flag)."""
    return KNOWN_FLAGS[dialect].get(name, 0)


def flag_names(dialect: str, flags: int) -> str:
    """``BEFORE|ID|0x1`` style rendering of ``flags`` in ``dialect``."""
    if flags == 0:
        return "0"
    if flags < 0:
        return str(flags)
    parts = []
    rest = flags
    for name, value in KNOWN_FLAGS[dialect].items():
        if flags & value:
            parts.append(name)
            rest &= ~value
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def prog_refs(op: Op) -> Iterator[int]:
    """Labels of programs an op names (besides the one a ``new_prog`` creates)."""
    kind = op["op"]
    if kind in ("attach", "link", "prog_close") or (kind == "detach" and op.get("prog") is not None):
        yield op["prog"]
    if kind == "update":
        yield op["new_prog"]
        if op.get("old_prog") is not None:
            yield op["old_prog"]
    for key in ("relative", "replace"):
        spec = op.get(key)
        if spec and spec["kind"] in ("prog", "id_prog"):
            yield spec["ref"]


def link_refs(op: Op) -> Iterator[int]:
    """Labels of links an op names (besides the one a ``link`` op creates)."""
    if op["op"] in ("update", "link_detach", "link_close"):
        yield op["link"]
    for key in ("relative", "replace"):
        spec = op.get(key)
        if spec and spec["kind"] in ("link", "id_link"):
            yield spec["ref"]


def _rel(spec: Optional[Dict[str, Any]]) -> str:
    if spec is None:
        return "None"
    kind = spec["kind"]
    if kind == "prog":
        return f"p{spec['ref']}"
    if kind == "link":
        return f"l{spec['ref']}"
    if kind == "id_prog":
        return f"id(p{spec['ref']})"
    if kind == "id_link":
        return f"id(l{spec['ref']})"
    if kind == "id_raw":
        return f"id={spec['value']}"
    return f"int={spec['value']}"


def _rev(spec: Dict[str, Any]) -> str:
    return str(spec["value"]) if spec["kind"] == "value" else spec["kind"]


def describe(op: Op, dialect: str = "upstream") -> str:
    """One readable line: ``attach(p3, BEFORE|ID, rel=id(p1), rev=stale)``."""
    kind = op["op"]
    if kind == "new_prog":
        return f"p{op['as']} = new_prog()"
    if kind == "prog_close":
        return f"p{op['prog']}.close()"
    if kind in ("link_detach", "link_close"):
        return f"l{op['link']}.{kind[5:]}()"
    if kind == "query":
        count = op["count"]
        return f"query(count={_rev(count)})"
    if kind == "update":
        args = [f"p{op['new_prog']}", flag_names(dialect, op["flags"])]
        if op.get("old_prog") is not None:
            args.append(f"old=p{op['old_prog']}")
        return f"l{op['link']}.update({', '.join(args)})"
    prog = "None" if op.get("prog") is None else f"p{op['prog']}"
    args = [prog, flag_names(dialect, op["flags"])]
    if op.get("relative") is not None:
        args.append(f"rel={_rel(op['relative'])}")
    if kind == "attach" and op.get("replace") is not None:
        args.append(f"replace={_rel(op['replace'])}")
    if op["expected_revision"]["kind"] != "zero":
        args.append(f"rev={_rev(op['expected_revision'])}")
    head = f"l{op['as']} = link" if kind == "link" else kind
    return f"{head}({', '.join(args)})"


def validate(op: Op) -> None:
    """Raise ``ValueError`` if ``op`` is not a well-formed operation."""
    kind = op.get("op")
    if kind not in OPS:
        raise ValueError(f"unknown op {kind!r}")
    need: Tuple[str, ...] = {
        "new_prog": ("as",), "attach": ("prog", "flags", "expected_revision"),
        "link": ("as", "prog", "flags", "expected_revision"),
        "update": ("link", "new_prog", "flags"), "link_detach": ("link",),
        "link_close": ("link",), "prog_close": ("prog",),
        "detach": ("flags", "expected_revision"), "query": ("count",),
    }[kind]
    missing = [k for k in need if k not in op]
    if missing:
        raise ValueError(f"{kind}: missing {missing}")


#: An id no backend gives out: what a reference into the wrong id space becomes.
NO_SUCH_ID = 0xFFFFFFF0


def disambiguate(op: Op, dialect: str) -> Op:
    """``op`` without references whose meaning depends on how ids happen to be numbered.

    With ID the relative is an id, and a handle stands for its own id (the kernel can only be
    told an id). An id of the other kind (a program's id under ID|LINK, a link's id under ID
    alone) or a small int names whatever object happens to have that number in the other id
    space: in the kernel, even another process's program. Such relatives become an id nobody
    has, so every backend must say "no such object". (Which errno a handle of the wrong kind
    under ID deserves is a question for SPEC.md; see docs.)
    """
    spec = op.get("relative")
    if not spec or not isinstance(op.get("flags"), int) or op["flags"] < 0:
        return op
    flags = op["flags"]
    if not flags & flag(dialect, "ID"):
        return op
    wants_link = bool(flags & flag(dialect, "LINK"))
    kind = spec["kind"]
    names_link = kind in ("link", "id_link")
    names_prog = kind in ("prog", "id_prog")
    if (names_link and not wants_link) or (names_prog and wants_link) or (
            kind == "int" and spec["value"] != 0):
        op = dict(op)
        op["relative"] = {"kind": "id_raw", "value": NO_SUCH_ID}
    return op
