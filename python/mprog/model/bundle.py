"""The bundle: one hook's chain, its revision, and the public protocol (docs/protocol.md).

Each public entry checks Python types first (TypeError/ValueError change nothing), then makes
the checks the syscall and tcx layers make before bpf_mprog runs (unknown flags, the program's
handle, an empty chain on detach), then hands the rest to its dialect's rules (``upstream`` or
``v2``), which return the new chain. ``_commit`` installs it: one step, revision +1, or the
chain is freed (revision back to 1) when it is left empty, and tells the watchers.

Off the kernel's ABI (the Python API): anchors where flags go (``mprog.anchors``),
``explain`` (the same planning, nothing committed), ``watch`` and ``transaction`` (several
plans on a staged chain, committed as one change).
"""
from __future__ import annotations

import errno as E
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ..anchors import to_request
from .. import messages as M
from ..errors import MprogError, QueryTooSmall, error
from ..explain import Explanation
from ..flags import MAX_PROGRAMS, NEXT, Flag
from ..lifetime import Unique, initialized, refuses_uninitialized, uninitialized, warn_unclosed
from ..query import QueryResult
from ..unraisable import report_unraisable
from ..verdict import checked
from . import upstream, v2
from .chain import Slot, Slots, describe, find_link, find_prog, removed, replaced
from .handles import BpfLink, Link, Program, chains
from .link_calls import LinkCalls
from .naming import (check_args, check_count, check_dialect, check_int,
                     check_known, check_update, is_none, program_arg)

DIALECTS = ("upstream", "v2", "cgroup")
#: The flag arrays of a chain without pins (every upstream chain): all zeros, one tuple per
#: length, shared (a pin-free answer's two arrays are the same object: ``_appended``).
_ZEROS = tuple((0,) * n for n in range(MAX_PROGRAMS + 1))
_RULES = {"upstream": upstream, "v2": v2}
_U64 = 1 << 64

#: ``callback(old, new)``: told of every committed change, with the chain before and after.
Watcher = Callable[[QueryResult, QueryResult], object]


# One never initialized (T.__new__(T)) refuses every use with TypeError as the core's does
# (docs/protocol.md, rule 14). The members a campaign calls check for themselves: attach, link
# and detach where they take the lock, query where it reads its kept answer, the rest where
# _closed's class default sends them to _check_open.
@refuses_uninitialized("_lock", fields=False, checks_itself=(
    "attach", "link", "detach", "query", "revision", "closed", "__len__", "__iter__",
    "programs", "run"))
class Bundle(LinkCalls, Unique):
    """A chain of at most 63 programs at one hook, in the rules of one dialect; with the
    cgroup dialect, one cgroup's list in a hierarchy (``mprog.model.cgroup.CgroupBundle``)."""

    _closed = True  # until __init__ has made it: __del__ of a half-made bundle does nothing

    def __new__(cls, dialect: str = "upstream", parent: Any = None) -> Any:
        if cls is Bundle and dialect == "cgroup":
            from .cgroup import CgroupBundle
            return CgroupBundle(dialect, parent)
        return super().__new__(cls)

    def __init__(self, dialect: str = "upstream", parent: Any = None) -> None:
        check_dialect(dialect, _RULES)
        if parent is not None:
            raise ValueError("parent= places a cgroup bundle; a chain has none")
        self._dialect = dialect
        self._rules = _RULES[dialect]
        self._slots: Slots = ()
        self._revision = 1  # a never-used chain reports revision 1
        self._changes = 0  # every commit; unlike the revision never back to 1 (transactions)
        self._closed = False
        self._watchers: List[Watcher] = []
        #: Every public call runs holding it (first thing): one change (or read) at a time,
        #: as the kernel's rtnl lock and the core's GIL-held calls make it, so threads sharing
        #: a bundle see each change whole and an ``expected_revision`` is compared with the
        #: revision it replaces (only query()'s kept answer, one immutable object, is read
        #: without it). Reentrant: close() and watchers query. attach, link and detach call
        #: acquire() and release() in try/finally rather than ``with``: the with protocol
        #: costs as much again as the lock, on every operation.
        self._lock = threading.RLock()
        #: query()'s answer for the chain as it is (a QueryResult is immutable); a commit
        #: drops it, so a read costs nothing until the chain changes
        self._query_cache: Optional[QueryResult] = None
        #: query()'s answer before the last commit, if that commit appended a slot: the
        #: next answer is this one and the new slot's entry (``query``)
        self._appended_to: Optional[QueryResult] = None
        chains.add(self)

    dialect = property(lambda self: self._dialect)

    @property
    def closed(self) -> bool:
        # (_closed's class default is True: one never initialized reads as closed)
        if self._closed and not initialized(self):
            raise uninitialized(self)
        return self._closed

    @property
    def revision(self) -> int:
        if self._closed:  # (asked this way first: the fuzzer reads the revision often)
            self._check_open()
        return self._revision

    def __len__(self) -> int:
        if self._closed:
            self._check_open()
        return len(self._slots)

    def __iter__(self) -> Iterator[Program]:
        return iter(self.programs())

    def programs(self) -> List[Program]:
        """The programs in chain order."""
        self._check_open()
        return [slot.prog for slot in self._slots]

    def __repr__(self) -> str:
        ids = [slot.prog.id for slot in self._slots]
        state = " closed" if self._closed else ""
        return f"<model.Bundle {self._dialect} rev={self._revision} progs={ids}{state}>"

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            warn_unclosed(self)
            self.close()

    # -- the protocol ------------------------------------------------------------------------

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        try:
            self._lock.acquire()
        except AttributeError:  # (never initialized: the try itself costs nothing)
            raise uninitialized(self) from None
        try:
            anchor = None
            if self._closed or type(flags) is not int:  # (plain int flags: nothing to do)
                flags, relative, replace, anchor = self._placement(flags, relative, replace)
            try:
                if (type(flags) is int and not flags & ~self._rules.KNOWN and type(prog) is Program
                        and not prog._closed and relative is None and replace is None
                        and type(expected_revision) is int and 0 <= expected_revision < _U64):
                    # The usual arguments pass every check of _plan_attach: straight to the
                    # rules (every operation comes here; a call costs more than the test).
                    new = self._rules.attach(self._slots, self._revision, "attach", prog, None,
                                             flags, None, None, expected_revision)
                else:
                    new = self._plan_attach(self._slots, self._revision, prog, flags, relative,
                                            replace, expected_revision)
            except MprogError as e:
                self._failed(e, anchor)
                raise
            self._commit(new)
        finally:
            self._lock.release()

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: int = 0) -> Link:
        try:
            self._lock.acquire()
        except AttributeError:  # (never initialized: the try itself costs nothing)
            raise uninitialized(self) from None
        try:
            anchor = None
            if self._closed or type(flags) is not int:
                flags, relative, _, anchor = self._placement(flags, relative, None)
            try:
                if not (type(flags) is int and not flags & ~self._rules.LINK_KNOWN
                        and type(prog) is Program and not prog._closed and relative is None
                        and type(expected_revision) is int and 0 <= expected_revision < _U64):
                    # (the usual arguments pass these checks: skipped, as in attach)
                    check_args(flags, relative, expected_revision, prog)
                    prog = self._front("link", prog, flags, self._rules.LINK_KNOWN)
                link = Link(self, prog)  # its id comes once attached (bpf_link_prime/settle)
                new = self._rules.attach(self._slots, self._revision, "link", prog, link._link,
                                         flags, relative, None, expected_revision)
            except MprogError as e:
                self._failed(e, anchor)
                raise
            link._link.settle()
            self._commit(new)
            link._link.attached = True
            return link
        finally:
            self._lock.release()

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        try:
            self._lock.acquire()
        except AttributeError:  # (never initialized: the try itself costs nothing)
            raise uninitialized(self) from None
        try:
            anchor = None
            if self._closed or type(flags) is not int:
                flags, relative, _, anchor = self._placement(flags, relative, None)
            try:
                if (type(flags) is int and not flags & ~self._rules.KNOWN and type(prog) is Program
                        and not prog._closed and relative is None and self._slots
                        and type(expected_revision) is int and 0 <= expected_revision < _U64):
                    # (the usual arguments, a chain that is not empty: as in attach)
                    new = self._rules.detach(self._slots, self._revision, "detach", prog, flags,
                                             None, expected_revision)
                else:
                    new = self._plan_detach(self._slots, self._revision, prog, flags, relative,
                                            expected_revision)
            except MprogError as e:
                self._failed(e, anchor)
                raise
            self._commit(new)
        finally:
            self._lock.release()

    def query(self, count: Optional[int] = None) -> QueryResult:
        # The kept answer is read without the lock: it is one immutable object, a commit
        # drops it before it lets go of the lock, and a closed bundle keeps none. (The
        # differential fuzzer asks after every operation; most of them changed nothing.)
        try:
            answer = self._query_cache
        except AttributeError:  # (never initialized: no field at all)
            raise uninitialized(self) from None
        if answer is not None and count is None:
            return answer
        self._lock.acquire()  # (not ``with``: see attach)
        try:
            if self._closed:
                self._check_open()
            if count is None:
                if self._query_cache is None:
                    # after an append, the answer before it grown by the new slot's entry
                    # (the other slots are not read again)
                    self._query_cache = (
                        _appended(self._appended_to, self._revision, self._slots[-1])
                        if self._appended_to is not None
                        else _state(self._revision, self._slots, pinned=self._dialect == "v2"))
                return self._query_cache
            check_count(count)
            slots = self._slots
            total = len(slots)
            result = _state(self._revision, slots[:count], total, self._dialect == "v2")
            if 0 < count < total:
                raise QueryTooSmall(E.ENOSPC, f"query: {count} entries asked, the chain holds "
                                    f"{total}", op="query", count=total, partial=result,
                                    revision=self._revision)
            return result
        finally:
            self._lock.release()

    def run(self, ctx: Any = None) -> int:
        """Call each program in order until one returns something other than NEXT."""
        self._check_open()
        for slot in self._slots:  # a tuple: writers replace it, never edit it
            fn = slot.prog._fn
            verdict = NEXT if fn is None else checked(fn(ctx), slot.prog)
            if verdict != NEXT:
                return verdict
        return NEXT

    def close(self) -> None:
        """Release what the bundle holds (idempotent), as tcx_uninstall() does when the device
        goes away: links become detached (but stay open), programs attached by program are let
        go. Afterwards only ``close()`` and ``dialect`` work; the rest raises ValueError.
        Watchers hear of the emptied chain (if it held anything), then are dropped."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        before = self.query() if self._slots and self._watchers else None
        for slot in self._slots:
            if slot.link is not None:
                slot.link.attached = False
        self._slots = ()
        self._revision = 1
        self._query_cache = self._appended_to = None
        # Closed before any watcher hears of it: a watcher that queries or attaches meets a
        # closed bundle (ValueError), not a half-closed one that would take a program in.
        self._closed = True
        watchers, self._watchers = self._watchers, []
        if before is not None:
            self._tell(watchers, before, QueryResult(1, 0))  # the freed chain

    # -- off the kernel's ABI: dry runs, watchers, transactions -----------------------------

    def explain(self, op: str, prog: Any = None, flags: Any = 0, relative: Any = None,
                replace: Any = None, expected_revision: int = 0) -> Explanation:
        """Dry run: what ``attach``/``detach`` would do now, changing nothing. The same checks
        run (TypeError/ValueError are raised); a refusal is returned as ``error``."""
        with self._lock:
            return self._explain(op, prog, flags, relative, replace, expected_revision)

    def _explain(self, op: str, prog: Any, flags: Any, relative: Any, replace: Any,
                 expected_revision: int) -> Explanation:
        if op not in ("attach", "detach"):
            raise ValueError(f"explain: op must be 'attach' or 'detach', not {op!r}")
        self._check_open()
        flags, relative, replace, anchor = self._placement(
            flags, relative, replace if op == "attach" else None)
        try:
            if op == "attach":
                new = self._plan_attach(self._slots, self._revision, prog, flags, relative,
                                        replace, expected_revision)
            else:
                new = self._plan_detach(self._slots, self._revision, prog, flags, relative,
                                        expected_revision)
        except MprogError as e:
            self._failed(e, anchor)
            return Explanation(op, error=e)
        action, index = _where(self._slots, new)
        return Explanation(op, action, index)

    def watch(self, callback: Watcher) -> Watcher:
        """Call ``callback(old, new)`` (QueryResults) after every committed change: attach,
        link, detach, a link's update/detach/close, a transaction's commit, and close()."""
        self._check_open()
        if not callable(callback):
            raise TypeError("a watcher must be callable")
        self._watchers.append(callback)
        return callback

    def unwatch(self, callback: Watcher) -> None:
        self._watchers.remove(callback)  # ValueError if it is not watching

    def transaction(self, expected_revision: int = 0) -> "Transaction":
        """Several attach/detach operations applied as one change on commit."""
        with self._lock:
            self._check_open()
            return Transaction(self, expected_revision)

    # -- links (Link's methods land here, with the BpfLink: the bundle owns the chain) ---------

    def _link_update(self, link: BpfLink, new_prog: Any, flags: int, old_prog: Any) -> None:
        op = "update"
        with self._lock:
            # The order of link_update() and tcx_link_update() (docs/protocol.md).
            new_prog = check_update(link, new_prog, flags, old_prog)
            if new_prog is link.prog:
                return  # nothing changes, not even the revision
            if find_prog(self._slots, new_prog) is not None:
                raise error(E.EEXIST, op, M.text("exists", program=describe(new_prog)))
            idx = self._slot_of(link)
            link.run(new_prog)  # the link holds its program, whatever its pins (they stay)
            self._commit(replaced(self._slots, idx, self._slots[idx].with_prog(new_prog)))

    def _release(self, link: BpfLink) -> None:
        # Detaching a link cannot fail: its slot is found by the link itself (and in v2 its pins
        # go with the slot).
        self._commit(removed(self._slots, self._slot_of(link)))
        link.attached = False

    def holds(self, prog: Program) -> bool:
        """Whether the chain holds ``prog`` by program (``handles.program_by_id`` asks)."""
        return any(slot.prog is prog and slot.link is None for slot in self._slots)

    def _slot_of(self, link: BpfLink) -> int:
        idx = find_link(self._slots, link)
        assert idx is not None, "an attached link always has its slot"
        return idx

    # -- helpers ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        # Like a closed file (and the kernel backend, whose namespace is gone): ValueError.
        if self._closed:
            if not initialized(self):  # (never made, rather: the class's default)
                raise uninitialized(self)
            raise ValueError("the bundle is closed")

    def _placement(self, flags: Any, relative: Any, replace: Any) -> Tuple[Any, Any, Any, Any]:
        """An anchor where flags go says flags, relative and replace itself (mprog.anchors)."""
        if self._closed:
            self._check_open()
        if isinstance(flags, int):
            return flags, relative, replace, None
        flags_, relative, replace = to_request(flags, relative, replace, self._dialect)
        return flags_, relative, replace, flags

    def _failed(self, e: MprogError, anchor: Any) -> None:
        """Failures carry the revision the operation saw and the anchor it was given."""
        e.revision, e.anchor = self._revision, anchor

    def _plan_attach(self, slots: Slots, revision: int, prog: Any, flags: Any, relative: Any,
                     replace: Any, expected_revision: Any) -> Slots:
        """The chain an attach (by program) would leave, or its error; commits nothing."""
        check_args(flags, relative, expected_revision, prog, replace)
        prog = self._front("attach", prog, flags, self._rules.KNOWN)
        new: Slots = self._rules.attach(slots, revision, "attach", prog, None, flags, relative,
                                        replace, expected_revision)
        return new

    def _plan_detach(self, slots: Slots, revision: int, prog: Any, flags: Any, relative: Any,
                     expected_revision: Any) -> Slots:
        """The chain a detach would leave, or its error; commits nothing."""
        check_args(flags, relative, expected_revision, prog)
        check_known(flags, self._rules.KNOWN, "detach")
        if type(prog) is Program or not is_none(prog):
            prog = program_arg(prog, "detach", "program")
        else:
            prog = None
        if not slots:
            # tcx_prog_detach(): there is no entry at all (an emptied chain was freed).
            raise error(E.ENOENT, "detach", M.text("empty"))
        new: Slots = self._rules.detach(slots, revision, "detach", prog, flags, relative,
                                        expected_revision)
        return new

    def _front(self, op: str, prog: Any, flags: int, known: int) -> Program:
        """What the syscall checks before bpf_mprog runs: unknown flags, then the program's fd."""
        check_known(flags, known, op)
        return program_arg(prog, op, "program")

    def _commit(self, new: Slots) -> None:
        """Install the new chain in one step: revision +1, or back to 1 when the chain is left
        empty (tcx frees it).

        Nothing is counted per slot: a program's life asks the chains when its id is looked
        up (``handles.program_by_id``), and a link is attached from its ``link()`` to its
        release (``_release``, ``close``), the only ways a link's slot enters or leaves a
        chain (every rule refuses to detach or replace a link's slot: EBUSY)."""
        old, self._slots = self._slots, new
        before = self._revision
        self._revision = self._revision + 1 if new else 1
        self._changes += 1
        cached, self._query_cache = self._query_cache, None
        # Most changes append a slot (chains are filled at the end); after one, query()'s
        # next answer is the last one and the new slot's entry. Only asked where there was
        # an answer (someone queries): slots compare by identity, in C.
        self._appended_to = cached if (cached is not None and len(new) == len(old) + 1
                                       and new[:-1] == old) else None
        if self._watchers:
            self._notify(cached or _state(before, old, pinned=self._dialect == "v2"))

    def _notify(self, before: QueryResult) -> None:
        self._tell(list(self._watchers), before, self.query())  # (a watcher may unwatch itself)

    @staticmethod
    def _tell(watchers: List[Watcher], before: QueryResult, after: QueryResult) -> None:
        # The change is committed: a watcher that raises cannot make it look failed, so its
        # exception (any: KeyboardInterrupt and SystemExit too, as the core) goes to
        # sys.unraisablehook and the other watchers are still told.
        for watcher in watchers:
            try:
                watcher(before, after)
            except BaseException as e:  # noqa: BLE001
                report_unraisable(e, "Exception ignored in mprog watcher", watcher)


@refuses_uninitialized("_bundle", fields=False)  # T.__new__(T): docs/protocol.md, rule 14
class Transaction:
    """Attach/detach operations staged on a copy of the chain, committed as one change.

    Off the kernel's ABI (there, every syscall is one change). Each operation runs the
    dialect's rules on the staged chain and the revision the transaction began at (so an
    operation's ``expected_revision`` is compared with that one); nothing is visible until
    ``commit()``, which installs the staged chain in one step (one revision step) unless the
    bundle changed since the transaction began or ``expected_revision`` is not the revision it
    began at (ESTALE, nothing changed). No operation: nothing is committed. A with block commits
    at its end, or discards if it raised. Links are not made here: by program only.
    """

    def __init__(self, bundle: Bundle, expected_revision: int = 0) -> None:
        check_int(expected_revision, "expected_revision", _U64)
        self._bundle = bundle
        self._slots = bundle._slots
        self._revision = bundle._revision
        self._changes = bundle._changes
        self._expected = expected_revision
        self._operations = 0
        self._done = False

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        self._check_open()
        b = self._bundle
        flags, relative, replace, anchor = b._placement(flags, relative, replace)
        try:
            self._slots = b._plan_attach(self._slots, self._revision, prog, flags, relative,
                                         replace, expected_revision)
        except MprogError as e:
            b._failed(e, anchor)
            raise
        self._operations += 1

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        self._check_open()
        b = self._bundle
        flags, relative, _, anchor = b._placement(flags, relative, None)
        try:
            self._slots = b._plan_detach(self._slots, self._revision, prog, flags, relative,
                                         expected_revision)
        except MprogError as e:
            b._failed(e, anchor)
            raise
        self._operations += 1

    def commit(self) -> None:
        with self._bundle._lock:
            self._commit()

    def _commit(self) -> None:
        self._check_open()
        b = self._bundle
        b._check_open()
        if self._expected and self._expected != self._revision:
            raise error(E.ESTALE, "transaction", M.text("transaction_expected", expected=self._expected,
                                                         base=self._revision), revision=b._revision)
        if b._changes != self._changes:  # not the revision: a freed chain starts again at 1
            raise error(E.ESTALE, "transaction", M.text("transaction_changed", base=self._revision,
                                                         revision=b._revision), revision=b._revision)
        self._done = True
        if self._operations:
            b._commit(self._slots)

    def discard(self) -> None:
        self._done = True

    def programs(self) -> List[Program]:
        """The staged chain's programs, in order."""
        return [slot.prog for slot in self._slots]

    def __len__(self) -> int:
        return len(self._slots)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def _check_open(self) -> None:
        if self._done:
            raise ValueError("the transaction is already committed or discarded")


def _state(revision: int, slots: Slots, count: Optional[int] = None,
           pinned: bool = False) -> QueryResult:
    """What query() says of these slots (``count``: the chain's total, if more than shown;
    ``pinned``: the dialect has pins, v2)."""
    link_ids = tuple([0 if slot.link is None else slot.link.id for slot in slots])
    # v2 reports a slot's pins in the array of how it was attached; upstream has none.
    pins = [slot.pins for slot in slots] if pinned else []
    if any(pins):
        prog_flags = tuple([0 if link else p for p, link in zip(pins, link_ids)])
        link_flags = tuple([p if link else 0 for p, link in zip(pins, link_ids)])
    else:
        prog_flags = link_flags = _ZEROS[len(slots)]
    # (``_id``: the model's own field behind the read-only ``id``, a third cheaper to read)
    return QueryResult(revision, len(slots) if count is None else count,
                       tuple([slot.prog._id for slot in slots]), link_ids, prog_flags, link_flags)


def _appended(before: QueryResult, revision: int, slot: Slot) -> QueryResult:
    """What query() says once ``slot`` was appended to the chain ``before`` describes (as
    ``_state`` would, for that slot alone)."""
    link_id = 0 if slot.link is None else slot.link.id
    prog_flags, link_flags = before.prog_attach_flags, before.link_attach_flags
    if slot.pins or prog_flags is not link_flags:  # (v2's pins; else both arrays are zeros)
        prog_flags, link_flags = (prog_flags + (0 if link_id else slot.pins,),
                                  link_flags + (slot.pins if link_id else 0,))
    else:
        prog_flags = link_flags = _ZEROS[before.count + 1]
    return QueryResult(revision, before.count + 1, before.prog_ids + (slot.prog._id,),
                       before.link_ids + (link_id,), prog_flags, link_flags)


def _where(old: Slots, new: Slots) -> Tuple[str, int]:
    """The one change from old to new: inserted, replaced or removed, at which index. Untouched
    slots are the same objects (the rules slice tuples), so the first difference is the spot."""
    index = next((i for i, (a, b) in enumerate(zip(old, new)) if a is not b),
                 min(len(old), len(new)))
    action = "insert" if len(new) > len(old) else "remove" if len(new) < len(old) else "replace"
    return action, index
