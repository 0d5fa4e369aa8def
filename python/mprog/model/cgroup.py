"""The cgroup dialect (cgroup-bpf with the mprog API, Linux 6.17+), from docs/cgroup.md.

A cgroup bundle is one cgroup's list of programs for one attach type, with a mode
(0, ALLOW_OVERRIDE or ALLOW_MULTI), a revision and a place in a hierarchy (``parent=``).
Each public operation makes the kernel's checks in the kernel's order, one function per
layer (the syscall's, then the cgroup's), and commits a new list in one step. The effective
array of a cgroup is computed from the hierarchy whenever it is asked for, so a change
anywhere above is always seen below.

Unlike tcx (``upstream``): the cap is 64 (E2BIG), a duplicate is EINVAL, a program may sit
in a list both by program and through links, the revision never starts again at 1, query
reports no link ids, and detach takes no flags and no relative.
"""
from __future__ import annotations

import errno as E
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..anchors import to_cgroup_request
from ..errors import QueryTooSmall, error
from ..flags import ALLOW, CGROUP_MAX_PROGRAMS, DENY, CgroupFlag
from ..lifetime import Unique, refuses_uninitialized, warn_unclosed
from ..query import QueryResult
from .chain import describe, find_link, plain
from .handles import BpfLink, Link, Program, chains
from .link_calls import LinkCalls
from .naming import (check_args, check_count, check_known, check_update, is_none, lookup,
                     program_arg)

F = plain(CgroupFlag)
MODES = F.ALLOW_OVERRIDE | F.ALLOW_MULTI
#: BPF_PROG_ATTACH: BPF_F_ATTACH_MASK_BASE | BPF_F_ATTACH_MASK_MPROG.
ATTACH_KNOWN = MODES | F.REPLACE | F.PREORDER | F.BEFORE | F.AFTER | F.ID | F.LINK
#: BPF_LINK_CREATE for cgroups: BPF_F_LINK_ATTACH_MASK (a link is always ALLOW_MULTI).
LINK_KNOWN = F.ID | F.BEFORE | F.AFTER | F.PREORDER | F.LINK

class Entry:
    """One program in a cgroup's list: attached by program (``link`` None) or by a link.
    Never changed once made (a plain class with ``__slots__``, as ``chain.Slot``)."""

    __slots__ = ("prog", "link", "preorder")

    def __init__(self, prog: Optional[Program], link: Optional[BpfLink], preorder: bool) -> None:
        self.prog = prog
        self.link = link
        self.preorder = preorder

    def runs(self) -> Program:
        return self.link.prog if self.link is not None else self.prog  # type: ignore[return-value]


Entries = Tuple[Entry, ...]


@refuses_uninitialized("_lock", fields=False)  # T.__new__(T): docs/protocol.md, rule 14
class CgroupBundle(LinkCalls, Unique):
    """One cgroup's list for one attach type, in a hierarchy of cgroup bundles. Dropped
    without ``close()`` it is released when collected, with a ResourceWarning."""

    _closed = True  # until __init__ has made it: __del__ of a half-made bundle does nothing
    #: Steps on every change to any cgroup bundle (an effective array depends on each
    #: ancestor's list, so one counter for all): query() keeps its answers until it moves.
    _generation = 0

    def __init__(self, dialect: str = "cgroup", parent: Any = None) -> None:
        if dialect != "cgroup":
            raise ValueError(f"a cgroup bundle has the cgroup dialect, not {dialect!r}")
        if parent is not None:
            if not isinstance(parent, CgroupBundle):
                raise TypeError("parent must be a cgroup Bundle of the model, not "
                                f"{type(parent).__name__}")
            parent._check_open()
        self._parent: Optional[CgroupBundle] = parent
        # One lock for a whole tree (the kernel's cgroup_mutex is global): a change, a query
        # or a link's call is whole for every thread, and a hierarchy check sees no half.
        self._lock = threading.RLock() if parent is None else parent._lock
        self._entries: Entries = ()
        self._mode = 0
        self._revision = 1
        self._closed = False
        self._answers: Dict[bool, Tuple[int, QueryResult]] = {}  # query(effective=...)
        chains.add(self)

    dialect = property(lambda self: "cgroup")
    parent = property(lambda self: self._parent)
    closed = property(lambda self: self._closed)

    @property
    def revision(self) -> int:
        self._check_open()
        return self._revision

    def __len__(self) -> int:
        self._check_open()
        return len(self._entries)

    def __iter__(self) -> Iterator[Program]:
        self._check_open()
        return iter([e.runs() for e in self._entries])

    def __enter__(self) -> "CgroupBundle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            warn_unclosed(self)
            self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (f"<model cgroup Bundle mode={self._mode:#x} rev={self._revision} "
                f"progs={[p.id for p in self]}{state}>")

    # -- the protocol ------------------------------------------------------------------

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        with self._lock:
            op = "attach"
            self._check_open()
            flags, relative, replace = to_cgroup_request(flags, relative, replace, op)
            self._check_types(flags, relative, expected_revision, prog, replace)
            # bpf_prog_attach(): the flag mask, then the program; cgroup_bpf_prog_attach(): the
            # program to replace, fetched only under ALLOW_MULTI|REPLACE.
            check_known(flags, ATTACH_KNOWN, op)
            prog = _cgroup_program(prog, op, "program")
            replacing = None
            if flags & F.ALLOW_MULTI and flags & F.REPLACE:
                replacing = _cgroup_program(replace, op, "replace")
            self._attach(op, prog, None, flags, relative, replacing, expected_revision)

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: int = 0) -> Link:
        with self._lock:
            op = "link"
            self._check_open()
            flags, relative, _ = to_cgroup_request(flags, relative, None, op)
            self._check_types(flags, relative, expected_revision, prog)
            if not 0 <= flags < 1 << 32:  # bits a u32 cannot carry never reach the kernel
                raise error(E.EINVAL, op, f"unknown flag bits in {flags:#x}")
            # link_create(): the program first, then cgroup_bpf_link_attach()'s flag mask.
            prog = _cgroup_program(prog, op, "program")
            check_known(flags, LINK_KNOWN, op)
            link = Link(self, prog)  # gets its id only once attached (bpf_link_prime/settle)
            self._attach(op, None, link._link, flags | F.ALLOW_MULTI, relative, None,
                         expected_revision)
            link._link.settle()
            link._link.attached = True
            return link

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        with self._lock:
            op = "detach"
            self._check_open()
            flags, relative, _ = to_cgroup_request(flags, relative, None, op)
            self._check_types(flags, relative, expected_revision, prog)
            # bpf_prog_detach() for cgroup types: no flags, no relative, at all.
            if flags or not is_none(relative):
                raise error(E.EINVAL, op, "cgroup detach takes no flags and no relative")
            # A handle that is no open cgroup program is read as no program (not EBADF).
            named = prog if isinstance(prog, Program) and not prog._closed \
                and prog._dialect == "cgroup" else None
            _check_fresh(self._revision, expected_revision, op)
            entries = self._entries
            if self._mode & F.ALLOW_MULTI:
                if named is None:
                    raise error(E.EINVAL, op,
                                "with ALLOW_MULTI the program to detach must be named")
                idx = _by_program(entries, named)
                if idx is None:
                    raise error(E.ENOENT, op, f"{describe(named)} is not in the list by program")
            else:
                if not entries:
                    raise error(E.ENOENT, op, "the list is empty")
                idx = 0  # without ALLOW_MULTI the one program goes, whatever was named
            self._remove(idx)

    def query(self, count: Optional[int] = None, effective: bool = False) -> QueryResult:
        with self._lock:
            self._check_open()
            check_count(count)
            if not isinstance(effective, bool):
                raise TypeError(f"effective must be a bool, not {type(effective).__name__}")
            kept = self._answers.get(effective)
            if count is None and kept is not None and kept[0] == CgroupBundle._generation:
                return kept[1]
            if effective:
                ids = tuple(p.id for p in self.effective())
                revision, mode, flags = 0, 0, 0  # the kernel reports neither for this query
            else:
                ids = tuple(e.runs().id for e in self._entries)
                revision, mode, flags = self._revision, self._mode, self._mode
            total = len(ids)
            shown = ids if count is None else ids[:count]
            n = len(shown)
            result = QueryResult(revision, total, shown, (0,) * n, (flags,) * n, (0,) * n, mode)
            if count is None:
                self._answers[effective] = (CgroupBundle._generation, result)
            if count is not None and 0 < count < total:
                raise QueryTooSmall(E.ENOSPC, f"query: {count} entries asked, the list holds "
                                    f"{total}", op="query", count=total, partial=result)
            return result

    def run(self, ctx: Any = None) -> int:
        """Every program of the effective array, in order, whatever the others said: ALLOW
        if each allowed (an odd verdict; a program without ``fn`` allows), else DENY."""
        verdict = ALLOW
        for prog in self.effective():
            if prog._fn is not None and not prog._fn(ctx) & 1:
                verdict = DENY
        return verdict

    def effective(self) -> List[Program]:
        """The effective array in run order (docs/cgroup.md, "Effective arrays").

        From this cgroup upward, a level counts if nothing counted below it yet or its mode
        is ALLOW_MULTI. PREORDER programs run first, the root-most level's first (each level's
        in list order); then the other programs, this cgroup's first, then upward."""
        self._check_open()
        preorder: List[Program] = []
        rest: List[Program] = []
        counted = 0
        for level in self._lineage():
            if counted and not level._mode & F.ALLOW_MULTI:
                continue
            preorder[:0] = [e.runs() for e in level._entries if e.preorder]
            rest += [e.runs() for e in level._entries if not e.preorder]
            counted += len(level._entries)
        return preorder + rest

    def close(self) -> None:
        """Release what the bundle holds (idempotent): links become detached (they stay
        open), programs attached by program are let go; the list empties for the cgroups
        below too. Afterwards only ``close()``, ``dialect`` and ``closed`` work."""
        with self._lock:
            if self._closed:
                return
            for entry in self._entries:
                if entry.link is not None:
                    entry.link.attached = False
            self._entries = ()
            self._mode = 0
            self._closed = True
            CgroupBundle._generation += 1

    # -- links (Link's methods land here) ----------------------------------------------

    def _link_update(self, link: BpfLink, new_prog: Any, flags: int, old_prog: Any) -> None:
        with self._lock:
            op = "update"
            new_prog = check_update(link, new_prog, flags, old_prog)  # then cgroup_bpf_replace()
            if new_prog._dialect != "cgroup":
                raise error(E.EINVAL, op, f"{describe(new_prog)} is not a cgroup program")
            # No duplicate check, and the link's own program again is a change all the same.
            link.run(new_prog)
            self._revision += 1
            CgroupBundle._generation += 1

    def _release(self, link: BpfLink) -> None:
        idx = find_link(self._entries, link)
        assert idx is not None, "an attached link always has its entry"
        link.attached = False
        self._remove(idx)

    # -- the rules ---------------------------------------------------------------------

    def _attach(self, op: str, prog: Optional[Program], link: Optional[BpfLink], flags: int,
                relative: Any, replacing: Optional[Program], expected_revision: int) -> None:
        """__cgroup_bpf_attach(): ``prog`` (by program) or ``link``; ``replacing`` is the
        program fetched for ALLOW_MULTI|REPLACE, else None."""
        mode = flags & MODES
        if mode == MODES or (flags & F.REPLACE and not flags & F.ALLOW_MULTI):
            raise error(E.EINVAL, op, "ALLOW_OVERRIDE with ALLOW_MULTI, or REPLACE without "
                                      "ALLOW_MULTI")
        if flags & F.REPLACE and flags & (F.BEFORE | F.AFTER):
            raise error(E.EINVAL, op, "REPLACE takes no BEFORE/AFTER")
        _check_fresh(self._revision, expected_revision, op)
        if not self._hierarchy_allows_attach():
            raise error(E.EPERM, op, "an ancestor holds one program without ALLOW_OVERRIDE")
        entries = self._entries
        if entries and self._mode != mode:
            raise error(E.EPERM, op, f"mode {mode:#x} differs from the list's {self._mode:#x}")
        if len(entries) >= CGROUP_MAX_PROGRAMS:
            raise error(E.E2BIG, op, f"the list holds {CGROUP_MAX_PROGRAMS} programs already")
        entry = Entry(prog, link, bool(flags & F.PREORDER))
        slot = _existing_slot(entries, op, prog, mode, replacing)
        if slot is not None:  # replaced in place, whatever the relative says
            new = entries[:slot] + (entry,) + entries[slot + 1:]
            self._commit(new, mode)
            return
        at = _insert_at(entries, op, prog, link, flags, relative)
        self._commit(entries[:at] + (entry,) + entries[at:], mode)

    def _hierarchy_allows_attach(self) -> bool:
        """The nearest ancestor that holds anything decides: ALLOW_MULTI allows; one program
        allows only with ALLOW_OVERRIDE. Empty ancestors are passed over."""
        for level in self._lineage()[1:]:
            if level._mode & F.ALLOW_MULTI:
                return True
            if len(level._entries) == 1:
                return bool(level._mode & F.ALLOW_OVERRIDE)
        return True

    def _remove(self, idx: int) -> None:
        entries = self._entries[:idx] + self._entries[idx + 1:]
        self._commit(entries, self._mode if entries else 0)  # an empty list has no mode

    def _commit(self, entries: Entries, mode: int) -> None:
        self._entries = entries
        self._mode = mode
        self._revision += 1  # never back to 1: the cgroup keeps its counter
        CgroupBundle._generation += 1

    def holds(self, prog: Program) -> bool:
        """Whether the list holds ``prog`` by program (``handles.program_by_id`` asks)."""
        return any(e.prog is prog and e.link is None for e in self._entries)

    def _lineage(self) -> List["CgroupBundle"]:
        """This cgroup, then its ancestors up to the root."""
        levels: List[CgroupBundle] = []
        node: Optional[CgroupBundle] = self
        while node is not None:
            levels.append(node)
            node = node._parent
        return levels

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the bundle is closed")

    def _check_types(self, flags: Any, relative: Any, expected_revision: Any, prog: Any,
                     replace: Any = None) -> None:
        self._check_open()
        check_args(flags, relative, expected_revision, prog, replace)

    # Off the kernel's ABI: not (yet) offered by the cgroup dialect.
    def explain(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("explain() is not offered by the cgroup dialect")

    watch = unwatch = transaction = explain


def _cgroup_program(value: Any, op: str, what: str) -> Program:
    """bpf_prog_get_type(fd, CGROUP_SKB): closed EBADF, not a program or another type EINVAL."""
    prog = program_arg(value, op, what)
    if prog._dialect != "cgroup":
        raise error(E.EINVAL, op, f"{what} ({describe(prog)}) is not a cgroup program")
    return prog


def _check_fresh(revision: int, expected: int, op: str) -> None:
    if expected and expected != revision:
        raise error(E.ESTALE, op, f"expected revision {expected}, the list is at {revision}")


def _existing_slot(entries: Entries, op: str, prog: Optional[Program], mode: int,
                   replacing: Optional[Program]) -> Optional[int]:
    """find_attach_entry(): the slot an attach takes over, or None to insert a new one.

    Without ALLOW_MULTI that is the one program (if any). With it, the program must not be
    in the list by program already (EINVAL; through a link it may be), and REPLACE names a
    slot attached by program (ENOENT otherwise)."""
    if not mode & F.ALLOW_MULTI:
        return 0 if entries else None
    for e in entries:
        if e.prog is prog and prog is not None and e.link is None and prog is not replacing:
            raise error(E.EINVAL, op, f"{describe(prog)} is already in the list")
    if replacing is None:
        return None
    idx = _by_program(entries, replacing)
    if idx is not None:
        return idx
    raise error(E.ENOENT, op, f"the program to replace ({describe(replacing)}) is not in the "
                              "list by program")


def _insert_at(entries: Entries, op: str, prog: Optional[Program], link: Optional[BpfLink],
               flags: int, relative: Any) -> int:
    """get_prog_list() and insert_pl_to_hlist(): where a new entry goes."""
    by_link, by_id = bool(flags & F.LINK), bool(flags & F.ID)
    before, after = bool(flags & F.BEFORE), bool(flags & F.AFTER)
    named = by_link or by_id or not is_none(relative)
    if named:
        if before == after:
            raise error(E.EINVAL, op, "a relative needs exactly one of BEFORE and AFTER")
        if by_link != (link is not None):
            raise error(E.EINVAL, op, "a link attach names a link relative (LINK), a program "
                                      "attach a program relative")
    elif entries and before and after:
        raise error(E.EINVAL, op, "BEFORE and AFTER together, without a relative")
    if not named:  # PREORDER does not matter here: first or last of the whole list
        return 0 if before else len(entries)
    if by_link:
        anchor_link = lookup(relative, by_id, Link, op, "relative")
        idx = find_link(entries, anchor_link)
    else:
        anchor_prog = lookup(relative, by_id, Program, op, "relative")
        idx = _by_program(entries, anchor_prog)
    if idx is None:
        raise error(E.ENOENT, op, f"relative {describe(relative)} is not in the list")
    if entries[idx].preorder != bool(flags & F.PREORDER):
        raise error(E.EINVAL, op, f"relative {describe(relative)} and the new entry differ "
                                  "in PREORDER")
    return idx if before else idx + 1


# A plain loop, the position asked of the tuple once an entry matched, as model/chain.py's
# lookups (whose ``find_link`` serves the entries too): cheaper than a generator, and the
# model looks entries up on every detach.

def _by_program(entries: Entries, prog: Optional[Program]) -> Optional[int]:
    """Where ``prog`` is in the list by program (not through a link), or None."""
    for entry in entries:
        if entry.prog is prog and entry.link is None:
            return entries.index(entry)
    return None
