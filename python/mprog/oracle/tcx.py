"""The syscall and tcx layers of the v2 series around ``v2.py``, behind the Python protocol.

From "[PATCH bpf-next v2 2/7] bpf: Add fd-based tcx multi-prog infra with link support":

- ``bpf_prog_attach``/``bpf_prog_detach`` refuse any flag outside ``BPF_F_ATTACH_MASK_MPROG``
  first, then get the program fd (detach: fd 0 means no program);
- ``link_create`` checks no flags at all: ``tcx_link_attach`` keeps ``flags & (FIRST|LAST)``
  in the link and hands all of them to ``bpf_mprog_attach``;
- ``tcx_prog_attach`` and ``tcx_link_prog_attach`` create the device's entry on demand
  (revision 1) and free it again when the attach fails; ``tcx_prog_detach`` answers ENOENT
  where there is no entry; a detach that empties the chain frees it;
- ``tcx_link_release`` (link detach and close) detaches with the link's kept flags;
  ``tcx_link_update`` replaces by id with ``REPLACE | ID | link flags``.

Where the patch cannot answer for the Python protocol, this file follows docs/protocol.md and
the choices of docs/v2.md; each such place is marked ``CHOICE``.
"""
from __future__ import annotations

import errno as E
import itertools
import weakref
from typing import Any, Iterator, List, NoReturn, Optional, Tuple as TypingTuple

from .. import anchors
from ..errors import QueryTooSmall, error
from ..flags import NEXT
from ..lifetime import LinkScope, Unique, refuses_uninitialized
from ..query import QueryResult
from . import v2
from .objects import (Program, count_arg, handle_arg, integer, is_nothing, program_fd,
                      revision_arg)
from .v2 import FIRST, ID, LAST, LINK, REPLACE, Fail, Slot, Tuple

#: BPF_F_ATTACH_MASK_MPROG of the v2 series.
MASK = int(v2.REPLACE | v2.BEFORE | v2.AFTER | FIRST | LAST | ID | LINK)
DIALECTS = ("v2",)


def _expected(value: Any) -> int:
    """CHOICE (docs/v2.md, choice 13): the v2 ABI's expected_revision was a u32; the protocol
    takes any u64 and compares it whole (ESTALE), never truncating it."""
    return revision_arg(value)


def _raise(op: str, fail: Fail) -> NoReturn:
    raise error(fail.errno, op, fail.what) from None


@refuses_uninitialized("_prog")  # T.__new__(T): docs/protocol.md, rule 14
class Link(LinkScope):
    """A tcx link: ``id``, ``prog``, ``attached``, ``closed``; it keeps only its pins."""

    _ids = itertools.count(1)
    _by_id: "weakref.WeakValueDictionary[int, Link]" = weakref.WeakValueDictionary()

    def __init__(self, bundle: "Bundle", prog: Program, flags: int) -> None:
        self._id = 0  # bpf_link_settle(): a link has an id once it is attached
        self._prog = prog
        self.flags = flags & (FIRST | LAST)  # tcx_link_attach(): link->flags
        self._closed = False
        self._bundle: Optional[Bundle] = bundle  # link->dev

    def _settle(self) -> None:
        self._id = next(Link._ids)
        Link._by_id[self._id] = self
        Program.holders.add(self)

    # Read-only, as on every backend.
    id = property(lambda self: self._id)
    prog = property(lambda self: self._prog)
    closed = property(lambda self: self._closed)

    @property
    def attached(self) -> bool:
        return self._bundle is not None

    def holds(self, prog: Program) -> bool:
        return not self.closed and self.prog is prog

    def update(self, new_prog: Any, flags: Any = 0, old_prog: Any = None) -> None:
        # CHOICE (docs/protocol.md, "Link" and "Bad input"): the Python argument rules, then
        # the syscall's order of checks (flags, the link fd, the program fds).
        new_prog = handle_arg(new_prog, "new_prog", Link)
        old_prog = handle_arg(old_prog, "old_prog", Link)
        flags = integer(flags, "flags")
        if flags & ~REPLACE:
            raise error(E.EINVAL, "update", f"flags {flags:#x}: only REPLACE is allowed")
        if self.closed:
            raise error(E.EBADF, "update", f"link {self.id} is closed")
        new_prog = program_fd(new_prog, "update", "new program")
        if flags & REPLACE:
            old_prog = program_fd(old_prog, "update", "old program")
        elif is_nothing(old_prog):
            old_prog = None
        else:
            raise error(E.EINVAL, "update", "old_prog without REPLACE")
        # tcx_link_update
        bundle = self._bundle
        if bundle is None:
            raise error(E.ENOLINK, "update", f"link {self.id} is detached")
        if old_prog is not None and self.prog is not old_prog:
            raise error(E.EPERM, "update", f"program {old_prog.id} is not the link's program")
        if new_prog is self.prog:
            return
        bundle._replace_for(self, new_prog)
        self._prog = new_prog

    def detach(self) -> None:
        if self.closed:
            raise error(E.EBADF, "link detach", f"link {self.id} is closed")
        self._release()

    def close(self) -> None:
        if not self.closed:
            self._release()
            self._closed = True

    def _release(self) -> None:
        """tcx_link_release(): detach the link's slot, with the flags the link kept."""
        if self._bundle is not None:
            self._bundle._release(self)
            self._bundle = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "attached" if self.attached else "detached"
        return f"<oracle Link {self.id} prog={self.prog.id} {state}>"


@refuses_uninitialized("_entry")
class Bundle(Unique):
    """One tcx hook of a device in the v2 series: no entry, or an entry and its revision."""

    def __init__(self, dialect: str = "upstream", parent: Any = None) -> None:
        self._entry: Optional[List[Slot]] = None  # dev->tcx_ingress; None: no entry
        self._revision = 0
        self._closed = True
        if not isinstance(dialect, str):
            raise TypeError(f"dialect must be a str, not {type(dialect).__name__}")
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; the v2 oracle offers {DIALECTS}")
        if parent is not None:
            raise ValueError("parent= places a cgroup bundle; a chain has none")
        self._dialect = dialect
        self._closed = False
        Program.holders.add(self)

    dialect = property(lambda self: self._dialect)  # read-only, as on every backend

    # ------------------------------------------------------------------ protocol

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: Any = 0) -> None:
        self._check_open()
        flags, relative, replace = self._placement(flags, relative, replace)
        prog = handle_arg(prog, "prog", Link)
        relative = handle_arg(relative, "relative", Link)
        replace = handle_arg(replace, "replace", Link)
        expected = _expected(expected_revision)
        if flags & ~MASK:  # bpf_prog_attach
            raise error(E.EINVAL, "attach", f"unknown flag bits {flags & ~MASK:#x}")
        prog = program_fd(prog, "attach", "program")  # bpf_prog_get_type(attach_bpf_fd)
        # The v2 ABI had one field for relative_fd/relative_id/replace_bpf_fd: under REPLACE
        # the protocol's replace= fills it, relative= is not sent.
        field = replace if flags & REPLACE else relative
        self._attach("attach", Tuple(prog, None), flags, field, expected)

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: Any = 0) -> Link:
        self._check_open()
        flags, relative, _ = self._placement(flags, relative, None)
        prog = handle_arg(prog, "prog", Link)
        relative = handle_arg(relative, "relative", Link)
        expected = _expected(expected_revision)
        # CHOICE (docs/protocol.md): link_create.flags is a u32; what it cannot carry is
        # refused first. The v2 series checked no link flag bits at all (docs/v2.md, choice 11).
        if not 0 <= flags < 2**32:
            raise error(E.EINVAL, "link", f"flags {flags:#x} do not fit the u32 flags field")
        prog = program_fd(prog, "link", "program")  # link_create: bpf_prog_get(prog_fd)
        link = Link(self, prog, flags)
        self._attach("link", Tuple(prog, link), flags, relative, expected)
        link._settle()
        return link

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: Any = 0) -> None:
        self._check_open()
        flags, relative, _ = self._placement(flags, relative, None)
        prog = handle_arg(prog, "prog", Link)
        relative = handle_arg(relative, "relative", Link)
        expected = _expected(expected_revision)
        if flags & ~MASK:  # bpf_prog_detach
            raise error(E.EINVAL, "detach", f"unknown flag bits {flags & ~MASK:#x}")
        # bpf_prog_detach: a program fd that fails is an error, except fd 0 (no program)
        prog = None if is_nothing(prog) else program_fd(prog, "detach", "program")
        if self._entry is None:  # tcx_prog_detach: dev_tcx_entry_fetch() found none
            raise error(E.ENOENT, "detach", "the chain is empty (no tcx entry)")
        try:
            new = v2.detach(self._entry, self._revision, Tuple(prog, None), flags, relative,
                            expected, self._find, is_nothing)
        except Fail as fail:
            _raise("detach", fail)
        self._install(new)

    def query(self, count: Any = None) -> QueryResult:
        self._check_open()
        count = count_arg(count)
        if self._entry is None:
            # CHOICE (docs/v2.md, choice 12): the v2 series' tcx_prog_query said ENOENT
            # where the device had no entry; the protocol reports revision 1, count 0.
            return QueryResult(1, 0)
        entry, total = self._entry, len(self._entry)
        shown = entry if count is None else entry[:count]
        flags = [v2.query_flags(slot) for slot in shown]
        result = QueryResult(self._revision, total,
                             tuple(slot.prog.id for slot in shown),
                             tuple(slot.link.id if slot.link is not None else 0 for slot in shown),
                             tuple(pf for pf, _ in flags), tuple(lf for _, lf in flags))
        if count is not None and 0 < count < total:
            raise QueryTooSmall(E.ENOSPC, f"query: {count} entries asked, the chain holds {total}",
                                op="query", count=total, partial=result,
                                revision=self._revision)
        return result

    @property
    def revision(self) -> int:
        return self.query().revision

    def __len__(self) -> int:
        self._check_open()
        return len(self._entry or [])

    def __iter__(self) -> Iterator[Program]:
        self._check_open()
        return iter([slot.prog for slot in self._entry or []])

    def run(self, ctx: Any = None) -> int:
        self._check_open()
        for slot in self._entry or []:  # tcx_run(): until a program says something but NEXT
            verdict: int = slot.prog.run(ctx)
            if verdict != NEXT:
                return verdict
        return NEXT

    def close(self) -> None:
        """dev_tcx_uninstall(): links lose their device, programs are let go."""
        if self._closed:
            return
        for slot in self._entry or []:
            if slot.link is not None:
                slot.link._bundle = None
        self._entry = None
        self._closed = True

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        revision = self._revision if self._entry else 1
        return f"<oracle Bundle v2 revision={revision} len={len(self._entry or [])}>"

    # --------------------------------------------------------------- internals

    def holds(self, prog: Program) -> bool:
        """The chain holds ``prog`` by program (a link's slot is held by the link)."""
        return any(s.prog is prog and s.link is None for s in self._entry or [])

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the bundle is closed")

    def _placement(self, flags: Any, relative: Any, replace: Any) -> TypingTuple[int, Any, Any]:
        if isinstance(flags, int):
            return int(flags), relative, replace
        flags, relative, replace = anchors.to_request(flags, relative, replace, self.dialect)
        return int(flags), relative, replace

    def _attach(self, op: str, new: Tuple, flags: int, field: Any, expected: int) -> None:
        """tcx_prog_attach / tcx_link_prog_attach: the entry is created on demand."""
        entry = self._entry if self._entry is not None else []
        revision = self._revision if self._entry is not None else 1  # bpf_mprog_create
        try:
            new_entry = v2.attach(entry, revision, new, flags, field, expected, self._find,
                                  is_nothing)
        except Fail as fail:
            _raise(op, fail)  # a created entry is freed again: still none
        self._entry, self._revision = entry, revision
        self._install(new_entry)

    def _install(self, new: List[Slot]) -> None:
        """bpf_mprog_commit(): revision + 1; an entry left empty is freed (BPF_MPROG_FREE)."""
        old = self._entry or []
        self._revision += 1
        self._entry = new if new else None
        for slot in old:  # links whose slot went away are detached
            if slot.link is not None and not any(s.link is slot.link for s in new):
                slot.link._bundle = None

    def _release(self, link: Link) -> None:
        if self._entry is None:
            raise RuntimeError(f"link {link.id} is attached to a bundle with no entry")
        try:
            new = v2.detach(self._entry, self._revision, Tuple(link.prog, link), link.flags,
                            None, 0, self._find, is_nothing)
        except Fail as fail:  # the series only warned (WARN_ON_ONCE): a finding, not a result
            raise RuntimeError(f"tcx_link_release failed: {fail.what}") from None
        self._install(new)

    def _replace_for(self, link: Link, new_prog: Program) -> None:
        """tcx_link_update: bpf_mprog_attach(REPLACE | ID | link->flags, old program's id)."""
        assert self._entry is not None
        try:
            new = v2.attach(self._entry, self._revision, Tuple(new_prog, link),
                            REPLACE | ID | link.flags, link.prog.id, 0, self._find, is_nothing)
        except Fail as fail:
            _raise("update", fail)
        self._install(new)

    def _find(self, obj: Any, by_id: bool, want_link: bool) -> Tuple:
        """bpf_{prog,link}_{get_from_fd,by_id}: the object ``obj`` names, or the errno."""
        kind = "link" if want_link else "program"
        if by_id:
            if isinstance(obj, (Program, Link)):
                if isinstance(obj, Link) != want_link:  # protocol: the other kind names no id
                    raise Fail(E.ENOENT, f"a {type(obj).__name__.lower()} names no {kind} id")
                obj = obj.id
            ident = 0 if obj is None else int(obj)
            if want_link:
                link = Link._by_id.get(ident)
                if link is None or link.closed:
                    raise Fail(E.ENOENT, f"no link has id {ident}")
                return Tuple(link.prog, link)
            prog = Program.by_id(ident)
            if prog is None:
                raise Fail(E.ENOENT, f"no program has id {ident}")
            return Tuple(prog, None)
        if not isinstance(obj, (Program, Link)):  # an fd that is no bpf object (0 included)
            raise Fail(E.EINVAL, f"the relative is not a {kind} fd")
        if obj.closed:
            raise Fail(E.EBADF, "the relative's handle is closed")
        if isinstance(obj, Link) != want_link:
            raise Fail(E.EINVAL, f"the relative is not a {kind}")
        return Tuple(obj.prog, obj) if isinstance(obj, Link) else Tuple(obj, None)
