"""THE interpreter: one operation of the vocabulary applied to one backend, its outcome
normalized, and the backend's state read back by label.

``Interpreter(name, module, dialect)`` opens a bundle of a backend module (``mprog``,
``mprog.model``, ``mprog.kernel``, or anything offering docs/protocol.md). ``apply(op)`` runs
one operation and returns the *normalized* outcome, a JSON-native value that compares equal
across backends:

- ``["ok", value]``: ``value`` is the new label (``new_prog``, ``link``, ``tx_begin``), a
  query result (a dict with ids mapped to labels) or ``None``;
- ``["err", "EEXIST"]``: an ``OSError`` by errno name (its class is checked against the errno
  by ``violations``, so the pair (class, errno) is what agrees); ``query``'s ENOSPC adds
  ``{"count": total, "partial": query}``; an ERANGE that is a ``ChainFull`` (upstream's full
  chain, where a bad position is ERANGE too) adds ``"full"``;
- ``["raise", "ValueError"]`` / ``["raise", "TypeError"]``: argument errors of the protocol;
- ``["crash", "AttributeError"]``: anything else (a backend bug); the message is kept in
  ``notes`` for the report, not compared.

Reading the state: ``digest(op)`` is cheap (one query, labels in order, and the handles the op
named) and is what a campaign compares after every step; ``snapshot()`` reads everything
observable (every link, every program, iteration and ``len``) for the invariant checks.
"""
from __future__ import annotations

import errno as _errno
from itertools import islice
from operator import attrgetter
from typing import Any, Dict, List, Optional, Tuple, Type, cast

from .. import errors
from ..errors import MprogError
from .vocabulary import BAD_VALUES, UNMADE, Op, assigned, is_bad

#: Names ``MprogError`` messages start with, per op (docs/protocol.md, "Results").
ERROR_PREFIX = {"attach": "attach", "link": "link", "detach": "detach", "query": "query",
                "update": "update", "link_detach": "link detach",
                "tx_attach": "attach", "tx_detach": "detach", "tx_commit": "transaction"}

#: How those messages start ("attach:").
_MESSAGE_START = {op: prefix + ":" for op, prefix in ERROR_PREFIX.items()}
#: Errno to the class of the error it names, and to its name (read for errnos that may be
#: None: neither has None, so that reads as missing).
_BY_ERRNO = cast(Dict[Optional[int], Type[MprogError]], errors._BY_ERRNO)
_ERRNAMES = cast(Dict[Optional[int], str], _errno.errorcode)

#: The outcome of an op that names a label nothing was created as (the op is not run).
SKIP = ["skip"]

#: The state of a closed bundle.
CLOSED = ("closed",)

#: The ops whose digest has a handle part (``Interpreter.handles``): every other op's is ().
HANDLE_OPS = frozenset({"link", "update", "link_detach", "link_close", "prog_close"})

#: The third element of an ``["err", ...]`` answer whose errno says "chain full" and also
#: something else (upstream's ERANGE: a bad position too): ``ChainFull`` says which.
FULL = "full"
SHARED_WITH_FULL = frozenset({_errno.ERANGE})


def _ignore(old: Any, new: Any) -> None:
    """A watcher that does nothing (``Interpreter`` asks whether a bundle takes watchers)."""


#: ``Interpreter.watches`` by bundle class and dialect
_TAKES_WATCHERS: Dict[Tuple[type, str], bool] = {}


class _Watcher:
    """The ``watch`` op's watcher on one backend's bundle: what it was told and what ``then``
    (``WATCH_THEN``) gave, not yet reported, as ids (the batched engine's objects may not
    have labels yet when it is told), and what it does next time."""

    __slots__ = ("bundle", "log", "then")

    def __init__(self, bundle: Any) -> None:
        self.bundle = bundle
        self.log: List[Tuple[Any, Any, Any, str]] = []
        self.then = "nothing"

    def __call__(self, old: Any, new: Any) -> None:
        then, bundle = self.then, self.bundle
        did: Any = None
        if then != "nothing":
            try:
                did = ["ok", bundle.query().count if then == "query" else
                       len(bundle) if then == "len" else [p.id for p in bundle]]
            except Exception as e:  # noqa: BLE001 - compared with the other backends
                did = ["raise", type(e).__name__]
        self.log.append((old, new, did, then))


def errname(err: Optional[int]) -> Any:
    return _errno.errorcode.get(err, err) if err is not None else None


class _Labels(Dict[int, Any]):
    """Ids to labels; an id the harness never made reads as ``"?id"``."""

    #: whether some id was read as "?id" (labels read before a new object came may change)
    missed = False
    #: how many reads so far were of an id without a label (``snapshot`` keeps what it read
    #: while none was)
    misses = 0

    def __missing__(self, key: int) -> Any:
        self.missed = True
        self.misses += 1
        return f"?{key}"


#: What ``snapshot`` reads of each program and link (C-level reads, no Python call).
_CLOSED = attrgetter("closed")
_LINK_FIELDS = attrgetter("attached", "closed", "prog.id")
_ID = attrgetter("id")


class Interpreter:
    """A backend module plus the objects a trace created in it, keyed by label."""

    #: The ``watch`` op's watcher, once one was made: set on the instance only then. (A class
    #: default, not a field set in ``__init__``: an interpreter has 29 fields, and with a 30th
    #: CPython 3.11 gives up the shared-key layout that specializes every ``self.`` read of
    #: one; that cost a campaign 1.8% more instructions per op.)
    watcher: Optional["_Watcher"] = None

    def __init__(self, name: str, module: Any, dialect: str) -> None:
        self.name = name
        self.module = module
        self.dialect = dialect
        self.progs: Dict[int, Any] = {}
        self.prog_ids: Dict[int, int] = {}
        self.links: Dict[int, Any] = {}
        self.link_ids: Dict[int, int] = {}
        self.txs: Dict[int, Any] = {}
        self._prog_label = _Labels()
        self._link_label = _Labels({0: None})
        self._foreign: Dict[str, Any] = {}
        self._ids: Any = None  # the id arrays digest() last turned into labels, and those
        self._labels: Tuple[Any, ...] = ()
        self._last_query: Any = None  # the query result state() last read, and its state
        self._state: Tuple[Any, ...] = ()
        self._adopted = (0, 0)  # how much of the executor's lists adopt() has seen
        self._foreign_owned: List[Any] = []
        #: per op: messages of raised exceptions (reported, not compared)
        self.notes: List[str] = []
        #: per op: breaches of docs/protocol.md's error conventions (the trial reports them)
        self.violations: List[str] = []
        self.bundle = module.Bundle(dialect=dialect)
        #: A backend that reads its handles' states for ``snapshot`` in one call (the same
        #: fields its properties return) offers ``handle_states`` (the core's is
        #: ``_core.handle_states``); other backends are read property by property.
        self._handle_states: Any = getattr(module, "handle_states", None)
        self._last_read: Any = None  # the last handle states read and what snapshot made of them
        self._last_chain: Any = None  # the last state() and the chain dict snapshot made of it
        self._last_listed: Any = None  # the ids list(bundle) last gave, and their labels
        self._last_self: Any = None  # the last snapshot's "self" part
        #: the last snapshot (returned again while every part is the last one's)
        self._last_snapshot: Optional[Dict[str, Any]] = None
        import mprog
        if module is mprog:
            self._handle_states = mprog._core.handle_states
        #: The cgroup dialect's tree, by label; cgroup 0 is ``bundle`` (every dialect has it).
        self.cgroups: Dict[int, Any] = {0: self.bundle}
        #: How many leading fields of ``digest`` are the bundles' state (the rest: handles).
        self.state_len = 7 if dialect == "cgroup" else 6
        #: Whether this backend offers transactions (the live kernel does not: there every
        #: syscall is one change, and its ``transaction()`` raises NotImplementedError).
        self.transactions = True
        try:
            self.bundle.transaction().discard()
        except (AttributeError, NotImplementedError):
            self.transactions = False

    # ---------------------------------------------------------------- operations

    def apply(self, op: Op) -> List[Any]:
        if self.notes:
            self.notes = []
        if self.violations:
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
        err = e.errno
        out: List[Any] = ["err", _ERRNAMES.get(err, err)]  # errname(err)
        if err in SHARED_WITH_FULL:
            if isinstance(e, errors.ChainFull):
                out.append(FULL)  # a full chain, told apart from a bad position (same errno)
        elif err == _errno.ENOSPC and op["op"] == "query":
            partial = getattr(e, "partial", None)
            out.append({"count": getattr(e, "count", None),
                        "partial": self._query(partial) if partial is not None else None})
        return out

    def _conform(self, op: Op, e: MprogError) -> None:
        message = e.strerror
        cls = type(e)
        self.notes.append(f"{cls.__name__}: {message}")
        start = _MESSAGE_START.get(op["op"])
        if start and not str(message or "").startswith(start):
            self.violations.append(f"message {message!r} does not start with {start!r}")
        err = e.errno
        if cls is _BY_ERRNO.get(err):
            return  # the class its errno names (the usual): nothing more to check
        # a backend's MprogError normally carries an errno; one without gets the base class
        expected: Type[MprogError] = (MprogError if err is None
                                      else _BY_ERRNO.get(err, MprogError))
        if op["op"] == "query" and err == _errno.ENOSPC:
            expected = errors.QueryTooSmall
        if not isinstance(e, (expected, errors.ChainFull)):
            self.violations.append(f"{cls.__name__} raised for {errname(err)}, "
                                   f"expected {expected.__name__}")

    def _run(self, op: Op) -> Any:
        kind = op["op"]
        if kind == "new_prog":
            label = op["as"]
            p = self._new_program(f"p{label}", op.get("dialect"))
            self.progs[label] = p
            self.prog_ids[label] = pid = p.id
            self._prog_label[pid] = label
            if self._prog_label.missed or self._link_label.missed:
                self._forget_unknown()
            return label
        b = self.cgroups[op["cgroup"]] if "cgroup" in op else self.bundle
        if kind == "attach":
            return self._placed(b.attach, op, b, True)
        if kind == "link":
            link = self._placed(b.link, op, b, False)
            label = op["as"]
            self.links[label] = link
            self.link_ids[label] = link.id
            self._link_label[link.id] = label
            if self._link_label.missed or self._prog_label.missed:
                self._forget_unknown()
            return label
        if kind == "detach":
            return self._placed(b.detach, op, b, False)
        if kind == "tx_attach":
            return self._placed(self.txs[op["tx"]].attach, op, b, True)
        if kind == "tx_detach":
            return self._placed(self.txs[op["tx"]].detach, op, b, False)
        if kind == "update":
            self.links[op["link"]].update(self._prog(op["new_prog"]), self._flags(op["flags"]),
                                          self._prog(op.get("old_prog")))
            return None
        if kind == "link_detach":
            self.links[op["link"]].detach()
            return None
        if kind == "link_close":
            self.links[op["link"]].close()
            return None
        if kind == "prog_close":
            prog = op["prog"]
            if type(prog) is not int:
                # Closing is the handle's own method: bad input in its place (a wrong type, an
                # int, another backend's program, a link) is no Program of this backend, which
                # docs/protocol.md ("Handles") answers with TypeError. Nothing is called.
                raise TypeError(f"prog_close: {prog!r} is no Program of "
                                f"{self.name}")
            self.progs[prog].close()
            return None
        if kind == "query":
            count = self._count(op["count"], b)
            if op.get("effective"):
                return self._query(b.query(count=count, effective=True))
            return self._query(b.query(count=count))
        if kind == "new_cgroup":
            parent = self.cgroups[op["parent"]]
            self.cgroups[op["as"]] = self.module.Bundle(dialect=self.dialect, parent=parent)
            return op["as"]
        if kind == "tx_begin":
            self.txs[op["as"]] = b.transaction(self._revision(op["expected_revision"], b))
            return op["as"]
        if kind == "tx_commit":
            self.txs[op["tx"]].commit()
            return None
        if kind == "tx_discard":
            self.txs[op["tx"]].discard()
            return None
        if kind == "bundle_close":
            b.close()
            return None
        if kind == "unmade_use":
            self._unmade_use(op["of"], op["use"])
            return None  # (a backend that let it through: what it gave is not compared)
        if kind == "watch":
            return self._watch(op["then"])
        if kind == "assign":
            on = assigned(op)
            target = b if on == "bundle" else (self.progs if on == "prog" else self.links)[op[on]]
            try:  # the value it has: a backend that lets it through is not corrupted by it
                setattr(target, op["attr"], getattr(target, op["attr"]))
            except AttributeError:
                return "refused"  # read-only (docs/protocol.md, "Program")
            return "assigned"
        raise ValueError(f"unknown op {kind!r}")

    @property
    def watches(self) -> bool:
        """Whether this backend's bundles take watchers (``watch`` ops; the live kernel, the
        v2 oracle and the cgroup dialect have none). Asked once per bundle class and
        dialect."""
        key = (type(self.bundle), self.dialect)
        known = _TAKES_WATCHERS.get(key)
        if known is None:
            try:
                self.bundle.unwatch(self.bundle.watch(_ignore))
                known = True
            except (AttributeError, NotImplementedError):
                known = False
            _TAKES_WATCHERS[key] = known
        return known

    def _watch(self, then: str) -> List[List[Any]]:
        """The ``watch`` op: the bundle watched (the first time), ``then`` what the watcher
        does from now on; the calls since the last ``watch``, by label."""
        if self.watcher is None:
            watcher = _Watcher(self.bundle)
            self.bundle.watch(watcher)
            self.watcher = watcher
        self.watcher.then = then
        return self.watch_report()

    def watch_report(self) -> List[List[Any]]:
        """What the watcher was told and did and no ``watch`` reported yet, by label: each
        call ``[old revision, old count, new revision, new count, new program labels, what
        then gave]``."""
        if self.watcher is None:
            return []
        label = self._prog_label
        out = []
        for old, new, did, then in self.watcher.log:
            if then == "iter" and did[0] == "ok":
                did = ["ok", [label[i] for i in did[1]]]
            out.append([old.revision, old.count, new.revision, new.count,
                        [label[i] for i in new.prog_ids], did])
        self.watcher.log.clear()
        return out

    def _unmade_use(self, of: str, use: str) -> None:
        """``use`` (``UNMADE_USES``) of a ``Program``, ``Link`` or ``Bundle`` of this backend
        made by ``T.__new__(T)``, its ``__init__`` never run (the bundle's class is the
        trial's: the cgroup dialect's may be its own). Nothing is made: nothing to close."""
        cls: Any = (self.module.Program if of == "Program" else self.module.Link if of == "Link"
               else type(self.bundle))
        ghost = cls.__new__(cls)
        if use == "repr":
            repr(ghost)
        elif use == "len":
            len(ghost)
        elif use == "iter":
            list(ghost)
        elif use == "with":
            with ghost:
                pass
        elif use.endswith("()"):
            getattr(ghost, use[:-2])()
        else:
            getattr(ghost, use)

    # ------------------------------------------------------- symbolic arguments

    def _new_program(self, name: str, dialect: Optional[str] = None) -> Any:
        """A program of the kind the dialect attaches (the cgroup dialect's are their own), or
        of ``dialect``."""
        if dialect is not None:
            return self.module.Program(name, dialect=dialect)
        if self.dialect == "cgroup":
            return self.module.Program(name, dialect="cgroup")
        return self.module.Program(name)  # (by position: keywords cost a new_prog a tenth)

    def _placed(self, call: Any, op: Op, bundle: Any, replace: bool) -> Any:
        """``call`` (an attach, with its replace if ``replace``; a link or a detach) with the
        op's arguments, evaluated in the order of the call's parameters (a bad value may make
        an object, reading the revision may raise). The usual values (a program label, int
        flags, no relative, no expected revision) are taken without a call."""
        prog = op.get("prog")
        prog = self.progs[prog] if type(prog) is int else self._prog(prog)
        flags = op["flags"]
        if type(flags) is not int:
            flags = self._bad(flags)
        relative = op.get("relative")
        if relative is not None:
            relative = self._target(relative)
        if replace:
            target = op.get("replace")
            if target is not None:
                target = self._target(target)
            spec = op["expected_revision"]
            return call(prog, flags, relative, target,
                        0 if spec["kind"] == "zero" else self._revision(spec, bundle))
        spec = op["expected_revision"]
        return call(prog, flags, relative,
                    0 if spec["kind"] == "zero" else self._revision(spec, bundle))

    def _prog(self, value: Any) -> Any:
        if value is None:
            return None
        if type(value) is int:
            return self.progs[value]
        return self._bad(value)

    def _flags(self, value: Any) -> Any:
        return value if type(value) is int else self._bad(value)

    def _bad(self, spec: Dict[str, Any]) -> Any:
        """The value a ``{"kind": "bad"}`` argument stands for in this backend."""
        name = spec["value"]
        if name == "foreign_prog":
            return self._foreign_object("prog")
        if name == "foreign_link":
            return self._foreign_object("link")
        if name in UNMADE:  # a new one each time (nothing to close: nothing was made)
            cls = self.module.Program if name == "unmade_prog" else self.module.Link
            return cls.__new__(cls)
        value = BAD_VALUES[name]
        return list(value) if isinstance(value, list) else value

    def _foreign_object(self, what: str) -> Any:
        """A program of another backend; a link (attached) of another bundle of this one."""
        if what not in self._foreign:
            if what == "prog":
                import mprog
                import mprog.model
                other = mprog if self.module is mprog.model else mprog.model
                self._foreign[what] = other.Program(name="foreign")
            else:
                bundle = self.module.Bundle(dialect=self.dialect)
                prog = self._new_program("foreign")
                self._foreign[what] = bundle.link(prog)
                self._foreign_owned += [bundle, prog]
            self._foreign_owned.append(self._foreign[what])
        return self._foreign[what]

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
        if kind == "bad":
            return self._bad(spec)
        return spec["value"]  # id_raw, int

    def argument(self, key: str, value: Any) -> Any:
        """The object this interpreter passes for the argument ``key`` of an op given as
        ``value``, where that names no label and reads no state: bad input, a literal
        expected revision, flags, a raw id (what the batched engine hands the executor beside
        a record: ``mprog.batch.record_aside``)."""
        if key == "flags":
            return self._flags(value)
        if key == "expected_revision":
            return self._revision(value, self.bundle)  # "value" or "bad": the bundle unread
        if key == "relative" or key == "replace":
            return self._target(value)
        return self._prog(value)  # prog, new_prog, old_prog

    def _revision(self, spec: Dict[str, Any], bundle: Any) -> Any:
        kind = spec["kind"]
        if kind == "zero":
            return 0
        if kind == "current":
            current: int = bundle.revision  # the backend module is untyped (Any)
            return current
        if kind == "value":
            return cast(int, spec["value"])  # as the trace gives it: the backend checks it
        if kind == "bad":
            return self._bad(spec)
        current = bundle.revision
        if kind == "future":
            return current + 1
        # stale: a revision the chain had before (or, on a fresh chain, one it never had)
        return current - 1 if current > 1 else current + 7

    def _count(self, spec: Dict[str, Any], bundle: Any) -> Any:
        kind = spec["kind"]
        if kind == "none":
            return None
        if kind == "zero":
            return 0
        if kind == "value":
            return cast(int, spec["value"])  # as the trace gives it
        if kind == "bad":
            return self._bad(spec)
        total = len(bundle)
        if kind == "exact":
            return total
        if kind == "larger":
            return total + 1 + total // 2
        return max(1, total - 1 - total // 3)  # short

    # ----------------------------------------------------------------- reading

    def prog_label(self, pid: int) -> Any:
        return self._prog_label[pid]  # "?id": an id the harness never made

    def link_label(self, lid: int) -> Any:
        return self._link_label[lid]

    def _query(self, q: Any) -> Dict[str, Any]:
        out = {"revision": q.revision, "count": q.count,
               "progs": list(map(self._prog_label.__getitem__, q.prog_ids)),
               "links": list(map(self._link_label.__getitem__, q.link_ids)),
               "prog_flags": list(q.prog_attach_flags),
               "link_flags": list(q.link_attach_flags)}
        if self.dialect == "cgroup":
            out["mode"] = q.attach_flags
        return out

    def _tree(self) -> Tuple[Any, ...]:
        """The cgroup dialect's whole tree: per cgroup its list, mode and effective array."""
        out: List[Tuple[Any, ...]] = []
        for label, b in sorted(self.cgroups.items()):
            try:
                q, e = b.query(), b.query(effective=True)
            except ValueError:  # a closed bundle
                out.append((label, "closed"))
                continue
            out.append((label, q.revision, q.count,
                        tuple(map(self._prog_label.__getitem__, q.prog_ids)), q.attach_flags,
                        tuple(q.prog_attach_flags),
                        tuple(map(self._prog_label.__getitem__, e.prog_ids))))
        return tuple(out)

    def digest(self, op: Optional[Op] = None) -> Tuple[Any, ...]:
        """The cheap state compared after every step: revision, count, program and link
        labels in chain order, both flag arrays, and the state of each handle ``op`` named
        (``state() + handles(op)``)."""
        state = self.state()
        if op is None or len(state) == 1:  # a closed bundle: nothing more to read
            return state
        return state + self.handles(op)

    def state(self) -> Tuple[Any, ...]:
        """The chain part of ``digest``: ``(revision, count, program labels, link labels,
        program flags, link flags)`` (the cgroup dialect adds its tree), or ``("closed",)``.
        The same tuple object comes back while nothing changed, so comparing two states is
        mostly an identity check."""
        try:
            q = self.bundle.query()
        except ValueError:  # the bundle is closed
            return CLOSED
        # A backend that hands out one result per chain state (the model keeps its query()
        # answer until the chain changes) answers with the same object: nothing moved. The
        # cgroup tree also depends on the other bundles, so it is read every time.
        if q is self._last_query and self.dialect != "cgroup":
            return self._state
        progs, links = ids = (q.prog_ids, q.link_ids)
        last = self._ids
        n = -2 if last is None else len(last[0])  # (-2: no chain read yet, no append)
        if len(progs) == n + 1 and progs[:n] == last[0] and links[:n] == last[1]:
            # an append (most changes, chains being filled at the end): only the new entry
            # looked up
            old_p, old_l = self._labels
            self._labels = (old_p + (self._prog_label[progs[n]],),
                            old_l + (self._link_label[links[n]],))
            self._ids = ids
        elif ids != last:  # most ops fail or change nothing: labels only when ids moved
            self._labels = (tuple(map(self._prog_label.__getitem__, progs)),
                            tuple(map(self._link_label.__getitem__, links)))
            self._ids = ids
        prog_labels, link_labels = self._labels
        out: Tuple[Any, ...] = (q.revision, q.count, prog_labels, link_labels,
                                tuple(q.prog_attach_flags), tuple(q.link_attach_flags))
        if self.dialect == "cgroup":
            out += (self._tree(),)
        elif out == self._state:
            out = self._state  # the same object while equal (the executor does the same)
        self._last_query, self._state = q, out
        return out

    def handles(self, op: Op) -> Tuple[Any, ...]:
        """The handle part of ``digest``: the state of the link ``op`` named (``[attached,
        closed, program label]``), or whether the program a ``prog_close`` named is closed."""
        # A bad-input op names its argument by a dict (the bad value), not by a label.
        kind = op["op"]
        if kind not in HANDLE_OPS:
            return ()
        link = op.get("link", op.get("as") if kind == "link" else None)
        if type(link) is int and link in self.links:
            return (self._link_state(self.links[link]),)
        if kind == "prog_close":
            prog = op["prog"]
            if type(prog) is int and prog in self.progs:
                return (bool(self.progs[prog].closed),)
        return ()

    def adopt(self, progs: List[Any], links: List[Any]) -> None:
        """Objects made outside ``apply`` (by ``mprog._core.Executor``), by label: position
        in the lists (None: no object). Positions seen by an earlier call are skipped."""
        tables = ((progs, self.progs, self.prog_ids, self._prog_label, self._adopted[0]),
                  (links, self.links, self.link_ids, self._link_label, self._adopted[1]))
        for made, by_label, ids, labels, seen in tables:
            for label in range(seen, len(made)):
                obj = made[label]
                if obj is not None and label not in by_label:
                    by_label[label] = obj
                    ids[label] = oid = obj.id
                    labels[oid] = label
        self._adopted = (len(progs), len(links))
        self._forget_unknown()

    def _forget_unknown(self) -> None:
        """After a new object got its label: labels read as "?id" may read differently now
        (a state holding none is still right: ids are never reused)."""
        if self._prog_label.missed or self._link_label.missed:
            self._prog_label.missed = self._link_label.missed = False
            self._ids = self._last_query = None

    def snapshot(self) -> Dict[str, Any]:
        """Everything observable, by label. ``self`` holds what must agree within a backend.

        Every part is read again on every call (each program's ``closed``, each link's
        ``attached``, ``closed`` and program id, the bundle's query, ``revision``, ``len`` and
        iteration): a bug that changes an object no op named shows in the very next snapshot.
        What reads as it did last time is the last snapshot's object again (the reads are
        compared, the dicts reused), so a snapshot that equals the last one is that object
        and comparing or checking it again is mostly an identity check."""
        b = self.bundle
        if self._handle_states is not None:
            read = self._handle_states(list(self.progs.values()), list(self.links.values()),
                                       None if b.closed else b)
        else:
            read = self._read_handles()
        progs, links = self._from_handle_states(read)
        try:
            chain = self._chain()
        except ValueError:  # the bundle is closed
            chain = {"revision": None, "count": 0, "progs": [], "links": [], "prog_flags": [],
                     "link_flags": [], "closed": True}
            return {"chain": chain, "links": links, "progs": progs,
                    "self": {"revision": None, "len": 0, "list": []}}
        listed = self._listed(read[2] if read[2] is not None else list(map(_ID, b)))
        mine = self._last_self
        revision, size = b.revision, len(b)
        if (mine is None or mine["list"] is not listed or mine["len"] != size
                or mine["revision"] != revision):
            mine = self._last_self = {"revision": revision, "len": size, "list": listed}
        if self.dialect == "cgroup":
            return {"chain": chain, "links": links, "progs": progs, "self": mine,
                    "cgroups": self._tree()}
        last = self._last_snapshot
        if (last is not None and last["chain"] is chain and last["links"] is links
                and last["progs"] is progs and last["self"] is mine):
            return last
        state: Dict[str, Any] = {"chain": chain, "links": links, "progs": progs, "self": mine}
        self._last_snapshot = state
        return state

    def _read_handles(self) -> Tuple[Any, Any, Any]:
        """What ``_core.handle_states`` reads, from any backend, property by property: each
        program's ``closed``, each link's ``(attached, closed, program id)`` (None where a
        read raised or a link has no program: ``_from_handle_states`` reads those link by
        link); the iteration is read by ``snapshot``, after the chain says the bundle is
        open."""
        closed = list(map(_CLOSED, self.progs.values()))
        try:
            link_states = list(map(_LINK_FIELDS, self.links.values()))
        except Exception:  # noqa: BLE001 - read again link by link, which reports it
            link_states = None
        return closed, link_states, None

    def _from_handle_states(self, read: Tuple[Any, Any, Any]) -> Tuple[Any, Any]:
        """``snapshot``'s programs and links from what ``_read_handles`` or
        ``_core.handle_states`` read. A part whose reads equal the last ones is the last
        snapshot's dict again (every consumer compares values with ``==``, so a read equal to
        the last one stands for it); programs made since are added to a copy."""
        closed, link_states, _ = read
        last = self._last_read
        if last is None:
            last = self._last_read = ([], {}, object(), None, None)
        progs = last[1]
        if closed != last[0]:
            progs = self._progs_part(closed, last[0], progs)
        links = last[3]
        if link_states is None:
            links = {k: self._link_state(link) for k, link in self.links.items()}
            link_states = object()  # equal to no later read
        elif link_states != last[2] or (last[4] is not None
                                        and last[4] != len(self._prog_label)):
            label = self._prog_label
            misses = label.misses
            links = {link: [bool(attached), bool(shut), None if prog is None else label[prog]]
                     for link, (attached, shut, prog) in zip(self.links, link_states)}
            # labels only ever come: while no id read missed one, they read the same
            self._last_read = (closed, progs, link_states, links,
                               None if label.misses == misses else len(label))
            return progs, links
        self._last_read = (closed, progs, link_states, links, last[4])
        return progs, links

    def _progs_part(self, closed: List[Any], before: List[Any],
                    kept: Dict[int, bool]) -> Dict[int, bool]:
        """The programs' closed flags by label (``self.progs``'s labels, which only ever
        grow), from ``closed`` read now where the last read was ``before`` and gave ``kept``:
        where only programs were added, a copy of ``kept`` with theirs."""
        n = len(before)
        new = len(closed) - n
        if 0 < new and closed[:n] == before:
            grown = kept.copy()
            if new == 1:  # the usual: one program made
                grown[next(reversed(self.progs))] = bool(closed[-1])
                return grown
            labels = list(islice(reversed(self.progs), new))
            labels.reverse()
            grown.update(zip(labels, map(bool, closed[n:])))
            return grown
        return dict(zip(self.progs, map(bool, closed)))

    def _listed(self, ids: List[Any]) -> List[Any]:
        """``list(bundle)`` by label, from the ids it iterated: the last list again while
        they read the same."""
        last = self._last_listed
        label = self._prog_label
        if (last is not None and last[1] == ids
                and (last[0] is None or last[0] == len(label))):
            listed: List[Any] = last[2]
            return listed
        misses = label.misses
        listed = list(map(label.__getitem__, ids))
        self._last_listed = (None if label.misses == misses else len(label), ids, listed)
        return listed

    def _chain(self) -> Dict[str, Any]:
        """``snapshot``'s chain: the bundle's query by label, read through ``state()`` (which
        reads ``query()`` and relabels only what moved) where it has no cgroup tree to read."""
        if self.dialect == "cgroup":
            return self._query(self.bundle.query())
        state = self.state()
        if len(state) == 1:
            raise ValueError("the bundle is closed")
        last = self._last_chain
        if last is not None and last[0] is state:
            kept: Dict[str, Any] = last[1]
            return kept
        revision, count, progs, links, prog_flags, link_flags = state
        chain = {"revision": revision, "count": count, "progs": list(progs),
                 "links": list(links), "prog_flags": list(prog_flags),
                 "link_flags": list(link_flags)}
        self._last_chain = (state, chain)
        return chain

    def _link_state(self, link: Any) -> List[Any]:
        try:
            prog = link.prog
            prog_label = None if prog is None else self._prog_label[prog.id]
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
        for label, bundle in sorted(self.cgroups.items(), reverse=True):  # children first
            try:
                bundle.close()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{self.name}: c{label}.close(): {type(e).__name__}: {e}")
        for obj in self._foreign_owned:
            try:
                obj.close()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{self.name}: foreign {obj!r}.close(): {type(e).__name__}: {e}")
        return problems
