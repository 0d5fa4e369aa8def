"""The cgroup dialect on the live kernel: one cgroup's list for BPF_CGROUP_INET_INGRESS.

``Bundle("cgroup", parent=None)`` makes a cgroup of its own: at the top of a private subtree
under the cgroup2 mount, or below ``parent`` (another cgroup bundle of this backend), so that
bundles form a hierarchy whose effective arrays the kernel computes. Programs are
CGROUP_SKB programs (``Program(..., dialect="cgroup")``). As for tcx, every operation is one
bpf(2) command with the caller's flags, relative and revision passed as given: the kernel,
not this file, decides what succeeds and which errno a failure gets (docs/cgroup.md).

Closing a bundle detaches what it holds and removes its cgroup directory (once its child
bundles are closed too: a cgroup with children cannot be removed), so nothing is left.
``CgroupBundle.open(path)`` (a kernel-backend extra) speaks to a cgroup another bundle made,
from any process, and its close lets go of its handle only.
"""
from __future__ import annotations

import errno
import os
import weakref
from typing import Any, Dict, Iterator, List, Optional

from .. import errors
from ..anchors import to_cgroup_request
from ..flags import ALLOW, CGROUP_MAX_PROGRAMS, DENY, CgroupFlag
from ..query import QueryResult
from . import args, cgroupfs, handles, syscall
from ..lifetime import refuses_uninitialized
from .backend import Bundle, Link, Program, _errno
from .explain import fail as _fail

#: What an errno means here where cgroup-bpf gives it another meaning than tcx does.
_WHAT = {
    errno.EINVAL: "invalid argument: unknown flag bits, a mode combination the kernel refuses "
                  "(OVERRIDE with MULTI, REPLACE without MULTI, REPLACE with BEFORE/AFTER), "
                  "the program already in the list, a relative of the wrong kind or without "
                  "exactly one of BEFORE/AFTER, a PREORDER mismatch, or detach flags",
    errno.EPERM: "the mode differs from the list's, or an ancestor's single program does not "
                 "allow override",
    errno.E2BIG: "the list already holds 64 programs",
}


def fail(err: int, op: str, detail: str = "") -> errors.MprogError:
    if err not in _WHAT:
        return _fail(err, op, detail)
    code = errno.errorcode[err]
    return errors.error(err, op, f"{_WHAT[err]} ({code}{'; ' + detail if detail else ''})")

ATTACH_TYPE = syscall.CGROUP_INET_INGRESS
#: Room for an effective array: 64 programs per level, deeper trees than mprog makes.
_EFFECTIVE_SLOTS = CGROUP_MAX_PROGRAMS * 16


@refuses_uninitialized("_prog")  # (its own members too: docs/protocol.md, rule 14)
class CgroupLink(Link):
    """A cgroup link (BPF_LINK_TYPE_CGROUP); ``with`` closes it unless ``keep()`` was called."""

    _kept = False

    def keep(self) -> "CgroupLink":
        self._kept = True
        return self

    def __enter__(self) -> "CgroupLink":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._kept:
            self.close()

    @property
    def attached(self) -> bool:
        """What the kernel says: a cgroup link reports cgroup id 0 once detached."""
        if self.fd is None:
            return False
        info = syscall.obj_info(self.fd)
        return (info[4] | info[5]) != 0  # bpf_link_info.cgroup.cgroup_id (u64)


@refuses_uninitialized("_dialect")
class CgroupBundle(Bundle):
    """One cgroup's program list for BPF_CGROUP_INET_INGRESS, in a private cgroup."""

    def __init__(self, dialect: str = "cgroup", parent: Any = None) -> None:
        if dialect != "cgroup":
            raise ValueError(f"a cgroup bundle has the cgroup dialect, not {dialect!r}")
        if parent is not None:
            if not isinstance(parent, CgroupBundle):
                raise TypeError("parent must be a cgroup Bundle of the kernel backend, not "
                                f"{type(parent).__name__}")
            if parent.cgroup_fd is None:
                raise ValueError("parent is a closed Bundle")
        self._dialect = dialect
        self._parent: Optional[CgroupBundle] = parent
        self.children: List[CgroupBundle] = []
        self.path = cgroupfs.make(None if parent is None else parent.path)
        try:
            self.cgroup_fd: Optional[int] = handles.above_zero(cgroupfs.open_dir(self.path))
        except BaseException:
            cgroupfs.remove(self.path)
            raise
        # Weak: a link dropped without close() is released when collected (mprog.lifetime).
        self._links: "weakref.WeakSet[CgroupLink]" = weakref.WeakSet()
        self._held: Dict[int, Program] = {}  # as Bundle's: list(self) after callers dropped them
        if parent is not None:
            parent.children.append(self)
        self._owner = True
        handles.open_bundles.add(self)

    cgroup_fd: Optional[int] = None  # until __init__ has opened the cgroup

    @classmethod
    def open(cls, path: str, ifindex: Optional[int] = None) -> "CgroupBundle":
        """Kernel-backend extra: the list of the cgroup another bundle made (its ``path``),
        from any process. Both bundles speak to one list in the kernel; closing this one only
        lets go of its handle on the cgroup (what is attached, and the directory, stay with
        their maker). ``ifindex`` is tcx's and must be None."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        if ifindex is not None:
            raise ValueError("ifindex= names a tcx device; a cgroup bundle has none")
        self: CgroupBundle = object.__new__(cls)
        self.cgroup_fd = handles.above_zero(cgroupfs.open_dir(path))
        self._dialect = "cgroup"
        self._parent = None
        self.children = []
        self.path = path
        self._links = weakref.WeakSet()
        self._held = {}
        self._owner = False
        handles.open_bundles.add(self)
        return self

    parent = property(lambda self: self._parent)  # read-only, as on every backend

    @property
    def closed(self) -> bool:
        return self.cgroup_fd is None

    # -- plumbing ------------------------------------------------------------------------

    def _cg(self) -> int:
        if self.cgroup_fd is None:
            raise ValueError("operation on a closed Bundle")
        return self.cgroup_fd

    # -- the protocol --------------------------------------------------------------------

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        self._cg()
        flags, relative, replace = to_cgroup_request(flags, relative, replace, "attach")
        prog_fd = args.program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        rep = args.replace(replace, bits)
        args.expressible(bits, "attach")
        try:
            syscall.prog_attach(self._cg(), prog_fd, bits, rel, rep, rev, ATTACH_TYPE)
        except OSError as e:
            raise fail(_errno(e), "attach", handles.describe(prog)) from None
        self._held[prog.id] = prog
        self._hold_only_the_list()

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: int = 0) -> Link:
        self._cg()
        flags, relative, _ = to_cgroup_request(flags, relative, None, "link")
        prog_fd = args.program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        args.expressible(bits, "link")
        try:
            fd = syscall.link_create(self._cg(), prog_fd, bits, rel, rev, ATTACH_TYPE)
        except OSError as e:
            raise fail(_errno(e), "link", handles.describe(prog)) from None
        link = CgroupLink(handles.above_zero(fd), prog)
        self._links.add(link)
        return link

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        self._cg()
        flags, relative, _ = to_cgroup_request(flags, relative, None, "detach")
        prog_fd = args.optional_program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        args.expressible(bits, "detach")
        try:
            syscall.prog_detach(self._cg(), prog_fd, bits, rel, rev, ATTACH_TYPE)
        except OSError as e:
            raise fail(_errno(e), "detach", handles.describe(prog)) from None
        self._hold_only_the_list()

    def _hold_only_the_list(self) -> None:
        # Which programs left (a REPLACE, a detach without ALLOW_MULTI) is the kernel's call.
        listed = set(self.query().prog_ids)
        self._held = {i: p for i, p in self._held.items() if i in listed}

    def query(self, count: Optional[int] = None, effective: bool = False) -> QueryResult:
        """The list (revision, mode as ``attach_flags``), or with ``effective=True`` the
        effective array in run order (revision 0 and mode 0: the kernel reports neither)."""
        want = args.count(count)
        if not isinstance(effective, bool):
            raise TypeError(f"effective must be a bool, not {type(effective).__name__}")
        slots = _EFFECTIVE_SLOTS if effective else CGROUP_MAX_PROGRAMS
        ask = slots if want is None else min(want, args.U32 - 1)
        try:
            err, q = syscall.prog_query(
                self._cg(), ask, slots, ATTACH_TYPE,
                query_flags=syscall.QUERY_EFFECTIVE if effective else 0,
                prog_flags=not effective)
        except OSError as e:
            raise fail(_errno(e), "query") from None
        result = QueryResult(q.revision, q.count, tuple(q.prog_ids), tuple(q.link_ids),
                             tuple(q.prog_flags), tuple(q.link_flags), q.attach_flags)
        if err:
            raise errors.QueryTooSmall(
                err, f"query: room for {want} entries, the list holds {q.count} (ENOSPC)",
                op="query", count=q.count, partial=result)
        return result

    def __iter__(self) -> Iterator[Program]:
        return iter([handles.programs_by_id[i] for i in self.query().prog_ids])

    def run(self, ctx: Any = None) -> int:
        """As the kernel runs an effective array: every program, in order, whatever the
        others said; ALLOW (1) if each allowed (an odd verdict; a program without ``fn``
        allows), else DENY (0)."""
        verdict = ALLOW
        for prog_id in self.query(effective=True).prog_ids:
            fn = handles.programs_by_id[prog_id].fn
            if fn is not None and not fn(ctx) & 1:
                verdict = DENY
        return verdict

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Detach everything still attached, then remove the cgroup (after its children)."""
        if self.cgroup_fd is None:
            return
        try:
            if self._owner:
                self._detach_all()
        finally:
            fd, self.cgroup_fd = self.cgroup_fd, None
            self._held.clear()
            handles.open_bundles.discard(self)
            os.close(fd)
            if self._owner:
                self._remove()

    def _detach_all(self) -> None:
        for link in list(self._links):
            if link.fd is not None:
                syscall.link_detach(link.fd)  # a detached link: success, nothing changes
        self._links = weakref.WeakSet()
        # What is left was attached by program. Without ALLOW_MULTI the kernel detaches the
        # one entry whatever program is named; with it, each by its own fd.
        while True:
            q = self.query()
            if not q.count:
                return
            fd = syscall.prog_get_fd_by_id(q.prog_ids[0])
            try:
                syscall.prog_detach(self._cg(), fd, 0, 0, 0, ATTACH_TYPE)
            finally:
                os.close(fd)

    def _remove(self) -> None:
        """rmdir this cgroup once it is closed and has no open children; then its parent."""
        node: Optional[CgroupBundle] = self
        while node is not None and node.cgroup_fd is None and not node.children:
            cgroupfs.remove(node.path)
            parent = node.parent
            if parent is not None:
                parent.children.remove(node)
            node = parent

    def __repr__(self) -> str:
        state = "closed" if self.cgroup_fd is None else self.path
        return f"<kernel cgroup Bundle {state}>"


__all__ = ["ALLOW", "DENY", "CgroupBundle", "CgroupFlag", "CgroupLink"]
