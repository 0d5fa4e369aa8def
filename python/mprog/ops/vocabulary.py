"""The operation format: plain JSON-able dicts that name programs and links by label.

An operation never holds a backend's object or id. Programs, links and transactions are named
by a *label*: the logical index the harness gave them when they were created (``new_prog``,
``link`` and ``tx_begin`` carry it as ``"as"``), which in a generated trace is their order of
creation. Labels survive trace minimization: dropping the op that created label 3 makes later
references to 3 "skip" instead of silently renaming every later program.

Every operation has an ``"op"`` key::

    {"op": "new_prog", "as": 0}                                optional "dialect": a program of
                                                               that dialect, not the trial's
    {"op": "attach", "prog": P, "flags": F, "relative": REL, "replace": REL,
     "expected_revision": REV}
    {"op": "link", "as": 0, "prog": P, "flags": F, "relative": REL, "expected_revision": REV}
    {"op": "update", "link": 0, "new_prog": P, "flags": F, "old_prog": P | None}
    {"op": "link_detach", "link": 0}
    {"op": "link_close", "link": 0}
    {"op": "prog_close", "prog": 0}
    {"op": "detach", "prog": P | None, "flags": F, "relative": REL, "expected_revision": REV}
    {"op": "query", "count": COUNT}
    {"op": "tx_begin", "as": 0, "expected_revision": REV}      Bundle.transaction(...)
    {"op": "tx_attach", "tx": 0, ...the arguments of attach}   staged on transaction 0
    {"op": "tx_detach", "tx": 0, ...the arguments of detach}
    {"op": "tx_commit", "tx": 0}
    {"op": "tx_discard", "tx": 0}
    {"op": "bundle_close"}
    {"op": "new_cgroup", "as": 1, "parent": 0}                 cgroup dialect only
    {"op": "unmade_use", "of": "Link", "use": "detach()"}      bad input: see below
    {"op": "assign", "link": 0, "attr": "prog"}                bad input: see below
    {"op": "watch", "then": "query"}                           watchers: see below

The cgroup dialect drives a tree of cgroups: the trial's bundle is cgroup 0, ``new_cgroup``
makes cgroup ``as`` below cgroup ``parent``, and ``attach``, ``link``, ``detach`` and
``query`` (and ``bundle_close``) take an optional ``"cgroup": C`` (default 0) saying whose
list they act on.
``query`` takes an optional ``"effective": true`` (the effective array, BPF_F_QUERY_EFFECTIVE).

``P`` is a program label. ``REL`` (a relative, or the ``replace`` argument) is ``None`` or one
of::

    {"kind": "prog", "ref": 1}        the program handle (may be closed)
    {"kind": "link", "ref": 0}        the link handle (may be closed or detached)
    {"kind": "id_prog", "ref": 2}     that program's id in this backend
    {"kind": "id_link", "ref": 0}     that link's id in this backend
    {"kind": "id_raw", "value": N}    an id no backend gives out (or 0)
    {"kind": "int", "value": N}       a plain int (without ID: "an fd that is no bpf object")

``REV`` is ``{"kind": "zero" | "current" | "stale" | "future"}`` or ``{"kind": "value",
"value": N}``; ``COUNT`` is ``{"kind": "none" | "zero" | "short" | "exact" | "larger"}`` or
``{"kind": "value", "value": N}``. Both are resolved against each backend's own state when the
op runs, so a minimized trace keeps meaning "the current revision". ``F`` is an int.

Bad input: wherever an argument goes (``P``, ``F``, ``REL``, ``REV``, ``COUNT``), a
``{"kind": "bad", "value": NAME}`` passes the value ``BAD_VALUES`` names instead: another
type, an int out of range, a foreign object (another backend's program, a link of another
bundle), or a Program or Link of the backend whose ``__init__`` never ran. Every backend must
answer it alike (docs/protocol.md). ``unmade_use`` uses such an instance (a ``Program``,
``Link`` or ``Bundle`` made by ``T.__new__(T)``) as itself, one of ``UNMADE_USES``: every
backend refuses it with TypeError (docs/protocol.md, Bad input, rule 14). ``assign`` sets
an attribute a handle reports (``ASSIGNABLE``) to the value it has, on program ``"prog"``,
link ``"link"`` or (naming neither) the bundle: every backend refuses (AttributeError), and
the answer is ``["ok", "refused"]`` (``"assigned"`` where one let it through).

Watchers (``Bundle.watch``, off the kernel's ABI: a trial with a backend that has none skips
``watch``): the first ``watch`` of a trace has the trial's bundle watched by a watcher that
keeps what it is told and, each time, does ``then`` on the bundle (``WATCH_THEN``: nothing,
or a query, ``len`` or iteration: a watcher that reads the bundle it watches, as during its
``close()``). Each ``watch`` sets ``then`` for the calls that follow and answers the calls
since the last one, each ``[old revision, old count, new revision, new count, new program
labels, what then gave]`` (None for nothing, else ``["ok", value]`` or ``["raise", class]``);
the end of a trace compares the calls no ``watch`` reported.
"""
from __future__ import annotations

import copy
import enum
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type

from ..flags import CgroupFlag, Flag, V2Flag

Op = Dict[str, Any]

OPS = ("new_prog", "attach", "link", "update", "link_detach", "link_close", "prog_close",
       "detach", "query", "tx_begin", "tx_attach", "tx_detach", "tx_commit", "tx_discard",
       "bundle_close", "new_cgroup", "unmade_use", "assign", "watch")

#: Operations of a transaction: a backend without ``Bundle.transaction`` (the live kernel:
#: every syscall is one change) cannot run them, so a trial with such a backend skips them.
TRANSACTION_OPS = frozenset({"tx_begin", "tx_attach", "tx_detach", "tx_commit", "tx_discard"})

#: Operations whose success never changes the chain.
READ_ONLY = frozenset({"new_prog", "prog_close", "query", "tx_begin", "tx_attach",
                       "tx_detach", "tx_discard", "unmade_use", "assign", "watch"})

#: What a ``watch`` op's watcher does on the watched bundle each time it is told of a change.
WATCH_THEN = ("nothing", "query", "len", "iter")

#: The values a ``{"kind": "bad", "value": NAME}`` argument stands for (the foreign and the
#: unmade ones are made by the interpreter: they are objects of a backend).
BAD_VALUES: Dict[str, Any] = {
    "str": "1", "float": 1.0, "list": [], "bytes": b"\x01", "bool": True,
    "neg": -1, "u32": 1 << 32, "u64": 1 << 64, "huge": 1 << 200,
    "foreign_prog": None, "foreign_link": None, "unmade_prog": None, "unmade_link": None,
}
#: Bad values that are no object of the interpreter's backend.
FOREIGN = ("foreign_prog", "foreign_link")
#: Bad values that are a Program and a Link of the interpreter's backend whose ``__init__``
#: never ran (``T.__new__(T)``; docs/protocol.md, Bad input, rule 14).
UNMADE = ("unmade_prog", "unmade_link")

#: What ``unmade_use`` does with an instance never initialized, by its class: the members
#: every backend's instances have (read, or called where the name ends in "()"), and
#: ``repr``, ``len``, ``iter`` (all of it) and ``with``.
UNMADE_USES: Dict[str, Tuple[str, ...]] = {
    "Program": ("id", "name", "fn", "closed", "close()", "repr"),
    "Link": ("id", "prog", "attached", "closed", "close()", "detach()", "keep()", "repr",
             "with"),
    "Bundle": ("revision", "dialect", "close()", "query()", "repr", "len", "iter", "with"),
}

#: What ``assign`` assigns, by the handle it names: what every backend's handles report, all
#: read-only (docs/protocol.md, "Program").
ASSIGNABLE: Dict[str, Tuple[str, ...]] = {
    "prog": ("id", "name", "fn", "closed"),
    "link": ("id", "prog", "attached", "closed"),
    "bundle": ("revision", "dialect"),
}


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
    "cgroup": _by_name(CgroupFlag),
}


def known_mask(dialect: str) -> int:
    mask = 0
    for value in KNOWN_FLAGS[dialect].values():
        mask |= value
    return mask


def flag(dialect: str, name: str) -> int:
    """The value of flag ``name`` in ``dialect`` (0 if the dialect has no such flag)."""
    return KNOWN_FLAGS[dialect].get(name, 0)


def flag_names(dialect: str, flags: Any) -> str:
    """``BEFORE|ID|0x1`` style rendering of ``flags`` in ``dialect``."""
    if is_bad(flags):
        return f"<{flags['value']}>"
    if flags == 0:
        return "0"
    if flags < 0:
        return str(flags)
    parts = []
    rest = flags
    for name, value in KNOWN_FLAGS.get(dialect, KNOWN_FLAGS["upstream"]).items():
        if flags & value:
            parts.append(name)
            rest &= ~value
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def is_bad(value: Any) -> bool:
    """Whether an argument is a ``{"kind": "bad", ...}`` stand-in for bad input."""
    return isinstance(value, dict) and value.get("kind") == "bad"


def assigned(op: Op) -> str:
    """What an ``assign`` op names: ``"prog"``, ``"link"`` or (naming neither) ``"bundle"``."""
    return "prog" if "prog" in op else "link" if "link" in op else "bundle"


def _label(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def prog_refs(op: Op) -> Iterator[int]:
    """Labels of programs an op names (besides the one a ``new_prog`` creates)."""
    kind = op["op"]
    if kind in ("attach", "link", "prog_close", "detach", "tx_attach", "tx_detach", "assign"):
        if _label(op.get("prog")):
            yield op["prog"]
    elif kind == "update":
        for key in ("new_prog", "old_prog"):
            if _label(op.get(key)):
                yield op[key]
    for key in ("relative", "replace"):
        spec = op.get(key)
        if spec and spec["kind"] in ("prog", "id_prog"):
            yield spec["ref"]


def link_refs(op: Op) -> Iterator[int]:
    """Labels of links an op names (besides the one a ``link`` op creates)."""
    if op["op"] in ("update", "link_detach", "link_close") or (
            op["op"] == "assign" and "link" in op):
        yield op["link"]
    for key in ("relative", "replace"):
        spec = op.get(key)
        if spec and spec["kind"] in ("link", "id_link"):
            yield spec["ref"]


def cgroup_refs(op: Op) -> Iterator[int]:
    """Labels of cgroups an op names (besides the one a ``new_cgroup`` creates)."""
    for key in ("cgroup", "parent"):
        if _label(op.get(key)):
            yield op[key]


def tx_refs(op: Op) -> Iterator[int]:
    """Labels of transactions an op names (besides the one a ``tx_begin`` creates)."""
    if "tx" in op:
        yield op["tx"]


# ------------------------------------------------------------------------ describing

def _prog(value: Any) -> str:
    if value is None:
        return "None"
    if is_bad(value):
        return f"<{value['value']}>"
    return f"p{value}"


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
    if kind == "bad":
        return f"<{spec['value']}>"
    return f"int={spec['value']}"


def _rev(spec: Dict[str, Any]) -> str:
    if spec["kind"] == "bad":
        return f"<{spec['value']}>"
    return str(spec["value"]) if spec["kind"] == "value" else spec["kind"]


def describe(op: Op, dialect: str = "upstream") -> str:
    """One readable line: ``attach(p3, BEFORE|ID, rel=id(p1), rev=stale)``."""
    kind = op["op"]
    if kind == "new_prog":
        dialect = f"dialect={op['dialect']}" if op.get("dialect") is not None else ""
        return f"p{op['as']} = new_prog({dialect})"
    if kind == "prog_close":
        return f"{_prog(op['prog'])}.close()"
    if kind in ("link_detach", "link_close"):
        return f"l{op['link']}.{kind[5:]}()"
    if kind == "new_cgroup":
        return f"c{op['as']} = cgroup(parent=c{op['parent']})"
    if kind == "unmade_use":
        return f"{op['of']}.__new__({op['of']}): {op['use']}"
    if kind == "watch":
        return f"bundle.watch(then={op['then']})"
    if kind == "assign":
        on = assigned(op)
        name = _prog(op["prog"]) if on == "prog" else f"l{op['link']}" if on == "link" else on
        return f"{name}.{op['attr']} = (the same)"
    on = f"c{op['cgroup']}." if op.get("cgroup") else ""
    if kind == "query":
        effective = ", effective" if op.get("effective") else ""
        return f"{on}query(count={_rev(op['count'])}{effective})"
    if kind == "bundle_close":
        return f"{on}bundle.close()" if on else "bundle.close()"
    if kind == "tx_begin":
        rev = op["expected_revision"]
        arg = "" if rev["kind"] == "zero" else f"rev={_rev(rev)}"
        return f"t{op['as']} = transaction({arg})"
    if kind in ("tx_commit", "tx_discard"):
        return f"t{op['tx']}.{kind[3:]}()"
    if kind == "update":
        args = [_prog(op["new_prog"]), flag_names(dialect, op["flags"])]
        if op.get("old_prog") is not None:
            args.append(f"old={_prog(op['old_prog'])}")
        return f"l{op['link']}.update({', '.join(args)})"
    args = [_prog(op.get("prog")), flag_names(dialect, op["flags"])]
    if op.get("relative") is not None:
        args.append(f"rel={_rel(op['relative'])}")
    if kind in ("attach", "tx_attach") and op.get("replace") is not None:
        args.append(f"replace={_rel(op['replace'])}")
    if op["expected_revision"]["kind"] != "zero":
        args.append(f"rev={_rev(op['expected_revision'])}")
    if kind == "link":
        head = f"l{op['as']} = link"
    elif kind.startswith("tx_"):
        head = f"t{op['tx']}.{kind[3:]}"
    else:
        head = kind
    return f"{on}{head}({', '.join(args)})"


# ------------------------------------------------------------------------ validating

_NEED: Dict[str, Tuple[str, ...]] = {
    "new_prog": ("as",), "attach": ("prog", "flags", "expected_revision"),
    "link": ("as", "prog", "flags", "expected_revision"),
    "update": ("link", "new_prog", "flags"), "link_detach": ("link",),
    "link_close": ("link",), "prog_close": ("prog",),
    "detach": ("flags", "expected_revision"), "query": ("count",),
    "tx_begin": ("as", "expected_revision"), "tx_attach": ("tx", "prog", "flags",
                                                           "expected_revision"),
    "tx_detach": ("tx", "flags", "expected_revision"), "tx_commit": ("tx",),
    "tx_discard": ("tx",), "bundle_close": (), "new_cgroup": ("as", "parent"),
    "unmade_use": ("of", "use"), "assign": ("attr",), "watch": ("then",),
}
_LABELS = ("as", "link", "tx", "cgroup", "parent")
_PROGS = ("prog", "new_prog", "old_prog")
_SPECS = {"relative": ("prog", "link", "id_prog", "id_link", "id_raw", "int", "bad"),
          "replace": ("prog", "link", "id_prog", "id_link", "id_raw", "int", "bad"),
          "expected_revision": ("zero", "current", "stale", "future", "value", "bad"),
          "count": ("none", "zero", "short", "exact", "larger", "value", "bad")}


def validate(op: Any) -> None:
    """Raise ``ValueError`` naming what is wrong if ``op`` is not a well-formed operation
    (so that a malformed trace file is refused with a message, not a traceback)."""
    if not isinstance(op, dict):
        raise ValueError(f"an op must be a JSON object, not {type(op).__name__}")
    kind = op.get("op")
    if kind not in _NEED:
        raise ValueError(f"unknown op {kind!r}")
    missing = [k for k in _NEED[kind] if k not in op]
    if missing:
        raise ValueError(f"{kind}: missing {missing}")
    if kind == "unmade_use" and not (isinstance(op["of"], str) and isinstance(op["use"], str)
                                     and op["use"] in UNMADE_USES.get(op["of"], ())):
        raise ValueError(f"unmade_use: no use {op['use']!r} of {op['of']!r} (known: "
                         f"{UNMADE_USES})")
    if kind == "watch" and op["then"] not in WATCH_THEN:
        raise ValueError(f"watch: 'then' must be one of {WATCH_THEN}, not {op['then']!r}")
    if kind == "new_prog" and op.get("dialect") not in (None, "upstream", "v2", "cgroup"):
        raise ValueError(f"new_prog: 'dialect' must be upstream, v2 or cgroup, not "
                         f"{op['dialect']!r}")
    if kind == "assign":
        on = assigned(op)
        if not isinstance(op["attr"], str) or op["attr"] not in ASSIGNABLE[on]:
            raise ValueError(f"assign: no attribute {op['attr']!r} of a {on} to assign "
                             f"(known: {ASSIGNABLE[on]})")
    for key in _LABELS:
        if key in op and not _label(op[key]):
            raise ValueError(f"{kind}: {key!r} must be a label (an int), not {op[key]!r}")
    for key in _PROGS:
        value = op.get(key)
        if value is not None and not _label(value) and not _bad_ok(value):
            raise ValueError(f"{kind}: {key!r} must be a program label, not {value!r}")
    if "effective" in op and not isinstance(op["effective"], bool):
        raise ValueError(f"{kind}: 'effective' must be true or false, not {op['effective']!r}")
    if "flags" in op and not _label(op["flags"]) and not _bad_ok(op["flags"]):
        raise ValueError(f"{kind}: 'flags' must be an int, not {op['flags']!r}")
    for key, kinds in _SPECS.items():
        spec = op.get(key)
        if spec is None:
            continue
        if not isinstance(spec, dict) or spec.get("kind") not in kinds:
            raise ValueError(f"{kind}: {key!r} must be one of {kinds} as "
                             f'{{"kind": ...}}, not {spec!r}')
        if spec["kind"] == "bad":
            _bad_ok(spec, key)
        elif spec["kind"] in ("prog", "link", "id_prog", "id_link"):
            if not _label(spec.get("ref")):
                raise ValueError(f"{kind}: {key!r} needs an int 'ref': {spec!r}")
        elif spec["kind"] in ("id_raw", "int", "value"):
            if not _label(spec.get("value")):
                raise ValueError(f"{kind}: {key!r} needs an int 'value': {spec!r}")


def _bad_ok(value: Any, key: str = "argument") -> bool:
    if not is_bad(value):
        return False
    if value.get("value") not in BAD_VALUES:
        raise ValueError(f"{key}: unknown bad value {value.get('value')!r} "
                         f"(known: {', '.join(BAD_VALUES)})")
    return True


# ------------------------------------------------------------------------ rewriting

#: An id no backend gives out: what a reference into the wrong id space becomes.
NO_SUCH_ID = 0xFFFFFFF0


def disambiguate(op: Op, dialect: str, *, raw: bool = True) -> Op:
    """``op`` without references whose meaning depends on how ids happen to be numbered.

    With ID the relative is an id, and a handle stands for its own id (the kernel can only be
    told an id). An id of the other kind (a program's id under ID|LINK, a link's id under ID
    alone) or a small int names whatever object happens to have that number in the other id
    space: in the kernel, even another process's program. So does bad input that is a small
    int (``True``, the bad value ``bool``, is id 1). Such relatives become an id nobody has,
    so every backend must say "no such object". (Which errno a handle of the wrong kind under
    ID deserves is a question for SPEC.md; see docs.) In v2 the same goes for an attach's
    ``replace`` under REPLACE, unless ``raw`` is False: records (``mprog.batch``) hold a
    replace= only as a program, and what they hold runs on one backend, where numbering
    cannot differ.
    """
    flags: Any = op.get("flags")
    if not _label(flags) or flags < 0 or not flags & flag(dialect, "ID"):
        return op
    wants_link = bool(flags & flag(dialect, "LINK"))
    # v2 resolves an attach's replace= under REPLACE exactly as a relative (its ABI had one
    # field for both): it is numbered the same way
    keys = ("relative", "replace") if (
        raw and dialect == "v2" and op.get("op") in ("attach", "tx_attach")
        and flags & flag(dialect, "REPLACE")) else ("relative",)
    for key in keys:
        spec = op.get(key)
        if not spec:
            continue
        kind = spec["kind"]
        names_link = kind in ("link", "id_link")
        names_prog = kind in ("prog", "id_prog")
        if (names_link and not wants_link) or (names_prog and wants_link) or (
                kind == "int" and spec["value"] != 0) or (
                kind == "bad" and spec["value"] == "bool"):
            op = dict(op)
            op[key] = {"kind": "id_raw", "value": NO_SUCH_ID}
    return op


def relabel(ops: List[Op]) -> List[Op]:
    """The same trace with labels renumbered 0, 1, ... in order of creation."""
    maps: Dict[str, Dict[int, int]] = {"new_prog": {}, "link": {}, "tx_begin": {}}

    def renumber(creator: str, label: int) -> int:
        # labels never created keep a number past the created ones (those ops "skip")
        table = maps[creator]
        return table.setdefault(label, len(table))

    for op in ops:
        if op["op"] in maps:
            renumber(op["op"], op["as"])
    out = []
    for op in ops:
        op = copy.deepcopy(op)
        kind = op["op"]
        if kind in maps:
            op["as"] = renumber(kind, op["as"])
        for key in _PROGS:
            if _label(op.get(key)) and kind != "new_prog":
                op[key] = renumber("new_prog", op[key])
        if "link" in op:
            op["link"] = renumber("link", op["link"])
        if "tx" in op:
            op["tx"] = renumber("tx_begin", op["tx"])
        for key in ("relative", "replace"):
            spec = op.get(key)
            if spec and spec["kind"] in ("prog", "id_prog"):
                spec["ref"] = renumber("new_prog", spec["ref"])
            elif spec and spec["kind"] in ("link", "id_link"):
                spec["ref"] = renumber("link", spec["ref"])
        out.append(op)
    return out
