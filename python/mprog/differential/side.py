"""One backend's side of a trial: its bundle, its programs and links by label.

``Side.apply(op)`` runs one operation and returns the *normalized* answer, a JSON-native value
that compares equal across backends:

- ``["ok", value]``: ``value`` is the new label (``new_prog``, ``link``), a query result
  (a dict with ids mapped to labels) or ``None``;
- ``["err", "EEXIST"]``: an ``OSError`` by errno name; ``query``'s ENOSPC adds
  ``{"count": total, "partial": query}``;
- ``["raise", "ValueError"]`` / ``["raise", "TypeError"]``: argument errors of the protocol;
- ``["crash", "AttributeError"]``: anything else (a backend bug); the message is kept in
  ``Side.notes`` for the report, not compared.

``Side.snapshot()`` reads the whole observable state, also by label.
"""
from __future__ import annotations

import errno as _errno
from typing import Any, Dict, List, Optional, Type, cast

from .. import errors
from ..errors import MprogError
from .ops import Op

#: Names ``MprogError`` messages start with, per op (docs/protocol.md, "Results").
ERROR_PREFIX = {"attach": "attach", "link": "link", "detach": "detach", "query": "query",
                "update": "update", "link_detach": "link detach"}


def errname(err: Optional[int]) -> Any:
    return _errno.errorcode.get(err, err) if err is not None else None


class Side:
    """A backend module plus the objects a trial created in it, keyed by label."""

    def __init__(self, name: str, module: Any, dialect: str) -> None:
        self.name = name
        self.module = module
        self.dialect = dialect
        self.progs: Dict[int, Any] = {}
        self.prog_ids: Dict[int, int] = {}
        self.links: Dict[int, Any] = {}
        self.link_ids: Dict[int, int] = {}
        self._prog_label: Dict[int, int] = {}
        self._link_label: Dict[int, int] = {}
        #: per op: messages of raised exceptions (reported, not compared)
        self.notes: List[str] = []
        #: per op: breaches of docs/protocol.md's error conventions (the trial reports them)
        self.violations: List[str] = []
        self.bundle = module.Bundle(dialect=dialect)

    # ---------------------------------------------------------------- operations

    def apply(self, op: Op) -> List[Any]:
        self.notes = []
        self.violations = []
        try:
            return ["ok", self._run(op)]
        except MprogError as e:
            self._conform(op, e)
            return self._error(op, e)
        except OSError as e:
            self.violations.append(f"{type(e).__name__} is not an mprog.errors.MprogError: {e}")
            return self._error(op, e)
        except (ValueError, TypeError) as e:
            self.notes.append(f"{type(e).__name__}: {e}")
            return ["raise", type(e).__name__]
        except Exception as e:  # a backend bug: record it, let the comparison report it
            self.notes.append(f"{type(e).__name__}: {e}")
            return ["crash", type(e).__name__]

    def _error(self, op: Op, e: OSError) -> List[Any]:
        out: List[Any] = ["err", errname(e.errno)]
        if op["op"] == "query" and e.errno == _errno.ENOSPC:
            partial = getattr(e, "partial", None)
            out.append({"count": getattr(e, "count", None),
                        "partial": self._query(partial) if partial is not None else None})
        return out

    def _conform(self, op: Op, e: MprogError) -> None:
        self.notes.append(f"{type(e).__name__}: {e.strerror}")
        prefix = ERROR_PREFIX.get(op["op"])
        if prefix and not str(e.strerror or "").startswith(prefix + ":"):
            self.violations.append(f"message {e.strerror!r} does not start with {prefix + ':'!r}")
        # a backend's MprogError normally carries an errno; one without gets the base class
        expected: Type[MprogError] = (MprogError if e.errno is None
                                      else errors._BY_ERRNO.get(e.errno, MprogError))
        if op["op"] == "query" and e.errno == _errno.ENOSPC:
            expected = errors.QueryTooSmall
        if not isinstance(e, (expected, errors.ChainFull)):
            self.violations.append(f"{type(e).__name__} raised for {errname(e.errno)}, "
                                   f"expected {expected.__name__}")

    def _run(self, op: Op) -> Any:
        kind = op["op"]
        b = self.bundle
        if kind == "new_prog":
            label = op["as"]
            p = self.module.Program(name=f"p{label}")
            self.progs[label] = p
            self.prog_ids[label] = p.id
            self._prog_label[p.id] = label
            return label
        if kind == "attach":
            b.attach(self.progs[op["prog"]], flags=op["flags"],
                     relative=self._target(op.get("relative")),
                     replace=self._target(op.get("replace")),
                     expected_revision=self._revision(op["expected_revision"]))
            return None
        if kind == "link":
            link = b.link(self.progs[op["prog"]], flags=op["flags"],
                          relative=self._target(op.get("relative")),
                          expected_revision=self._revision(op["expected_revision"]))
            label = op["as"]
            self.links[label] = link
            self.link_ids[label] = link.id
            self._link_label[link.id] = label
            return label
        if kind == "update":
            old = op.get("old_prog")
            self.links[op["link"]].update(self.progs[op["new_prog"]], flags=op["flags"],
                                          old_prog=None if old is None else self.progs[old])
            return None
        if kind == "link_detach":
            self.links[op["link"]].detach()
            return None
        if kind == "link_close":
            self.links[op["link"]].close()
            return None
        if kind == "prog_close":
            self.progs[op["prog"]].close()
            return None
        if kind == "detach":
            prog = op.get("prog")
            b.detach(None if prog is None else self.progs[prog], flags=op["flags"],
                     relative=self._target(op.get("relative")),
                     expected_revision=self._revision(op["expected_revision"]))
            return None
        if kind == "query":
            return self._query(b.query(count=self._count(op["count"])))
        raise ValueError(f"unknown op {kind!r}")

    # ------------------------------------------------------- symbolic arguments

    def _target(self, spec: Optional[Dict[str, Any]]) -> Any:
        if spec is None:
            return None
        kind = spec["kind"]
        if kind == "prog":
            return self.progs[spec["ref"]]
        if kind == "link":
            return self.links[spec["ref"]]
        if kind == "id_prog":
            return self.prog_ids[spec["ref"]]
        if kind == "id_link":
            return self.link_ids[spec["ref"]]
        return spec["value"]  # id_raw, int

    def _revision(self, spec: Dict[str, Any]) -> int:
        kind = spec["kind"]
        if kind == "zero":
            return 0
        if kind == "value":
            return cast(int, spec["value"])  # as the trace gives it: the backend checks it
        current: int = self.bundle.revision  # the backend module is untyped (Any)
        if kind == "current":
            return current
        if kind == "future":
            return current + 1
        # stale: a revision the chain had before (or, on a fresh chain, one it never had)
        return current - 1 if current > 1 else current + 7

    def _count(self, spec: Dict[str, Any]) -> Optional[int]:
        kind = spec["kind"]
        if kind == "none":
            return None
        if kind == "zero":
            return 0
        if kind == "value":
            return cast(int, spec["value"])  # as the trace gives it
        total = len(self.bundle)
        if kind == "exact":
            return total
        if kind == "larger":
            return total + 1 + total // 2
        return max(1, total - 1 - total // 3)  # short

    # ----------------------------------------------------------------- reading

    def prog_label(self, pid: int) -> Any:
        label = self._prog_label.get(pid)
        return f"?{pid}" if label is None else label  # "?": an id the harness never made

    def link_label(self, lid: int) -> Any:
        if lid == 0:
            return None
        label = self._link_label.get(lid)
        return f"?{lid}" if label is None else label

    def _query(self, q: Any) -> Dict[str, Any]:
        progs = self._prog_label
        links = self._link_label
        prog_ids, link_ids = q.prog_ids, q.link_ids
        return {"revision": q.revision, "count": q.count,
                "progs": [progs[i] if i in progs else self.prog_label(i) for i in prog_ids],
                "links": [links[i] if i in links else self.link_label(i) for i in link_ids],
                "prog_flags": list(q.prog_attach_flags),
                "link_flags": list(q.link_attach_flags)}

    def snapshot(self) -> Dict[str, Any]:
        """Everything observable, by label. ``self`` holds what must agree within a backend."""
        b = self.bundle
        chain = self._query(b.query())
        links = {}
        for label, link in self.links.items():
            links[label] = self._link_state(link)
        progs = {label: bool(p.closed) for label, p in self.progs.items()}
        labels = self._prog_label
        listed = [labels[i] if i in labels else self.prog_label(i) for i in (p.id for p in b)]
        return {"chain": chain, "links": links, "progs": progs,
                "self": {"revision": b.revision, "len": len(b), "list": listed}}

    def _link_state(self, link: Any) -> List[Any]:
        try:
            prog = link.prog
            prog_label = None if prog is None else self.prog_label(prog.id)
        except Exception as e:  # noqa: BLE001 - compared, so a raising backend stands out
            prog_label = f"raise:{type(e).__name__}"
        return [bool(link.attached), bool(link.closed), prog_label]

    # ----------------------------------------------------------------- cleanup

    def close(self) -> List[str]:
        """Close every link, program and the bundle; returns what failed (never raises)."""
        problems = []
        for label, link in self.links.items():
            try:
                link.close()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{self.name}: l{label}.close(): {type(e).__name__}: {e}")
        for label, p in self.progs.items():
            try:
                p.close()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{self.name}: p{label}.close(): {type(e).__name__}: {e}")
        try:
            self.bundle.close()
        except Exception as e:  # noqa: BLE001
            problems.append(f"{self.name}: bundle.close(): {type(e).__name__}: {e}")
        return problems
