"""Bundle, Program and Link on the live kernel: tcx ingress of ``lo`` in a private namespace.

Every operation is one bpf(2) command with the caller's flags, relative and revision passed
as given (see ``args``), so the kernel, not this file, decides what succeeds and which errno a
failure gets. The only knowledge added here is how to name things and how to clean up.
"""
from __future__ import annotations

import errno
import os
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from .. import anchors, errors
from ..flags import MAX_PROGRAMS, NEXT, Flag
from ..lifetime import LinkScope, Unique, refuses_uninitialized, warn_unclosed
from ..query import QueryResult
from ..verdict import checked
from . import args, handles, netns, syscall
from .explain import fail

DIALECTS = ("upstream", "cgroup")
#: What Program(dialect=...) loads: tcx runs SCHED_CLS, the cgroup dialect CGROUP_SKB.
_PROGRAM_TYPES = {
    "upstream": (syscall.PROG_TYPE_SCHED_CLS, 0, syscall.NEXT_PROGRAM),
    # a v2 program is a tcx program too (every backend makes one; only its bundle is not the
    # kernel's)
    "v2": (syscall.PROG_TYPE_SCHED_CLS, 0, syscall.NEXT_PROGRAM),
    "cgroup": (syscall.PROG_TYPE_CGROUP_SKB, syscall.CGROUP_INET_INGRESS, syscall.ALLOW_PROGRAM),
}


def _errno(e: OSError) -> int:
    """The errno of a failed call here: every OSError these calls raise carries one."""
    assert e.errno is not None, ("syscall and netns raise OSError(errno, message) only, "
                                 f"so the errno is set: {e!r}")
    return e.errno


def _name(name: str) -> bytes:
    """The kernel takes 15 chars of [A-Za-z0-9_.] as a program name; keep what fits."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.") else "_" for c in name)
    return safe[:15].encode()


@refuses_uninitialized("_name")  # T.__new__(T): docs/protocol.md, rule 14
class Program(Unique):
    """A loaded SCHED_CLS program (``r0 = TCX_NEXT; exit``), or with ``dialect="cgroup"`` a
    CGROUP_SKB program for BPF_CGROUP_INET_INGRESS (``r0 = 1; exit``: allow). ``fn`` is
    accepted for the protocol but the kernel runs its own code, so ``Bundle.run`` uses ``fn``
    only to report. Dropped without ``close()`` it closes its fd when collected
    (mprog.lifetime)."""

    fd: Optional[int] = None  # until __init__ has loaded it

    def __init__(self, name: str = "", fn: Optional[Callable[[Any], int]] = None,
                 dialect: str = "upstream") -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if fn is not None and not callable(fn):
            raise TypeError("fn must be callable or None")
        if dialect not in _PROGRAM_TYPES:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of "
                             f"{tuple(_PROGRAM_TYPES)}")
        self._name = name
        self._fn = fn
        self._dialect = dialect
        prog_type, attach_type, code = _PROGRAM_TYPES[dialect]
        self.fd: Optional[int] = handles.above_zero(syscall.prog_load(
            _name(name), code, prog_type=prog_type, expected_attach_type=attach_type))
        try:
            self._id: int = syscall.obj_id(self.fd)
        except BaseException:
            os.close(self.fd)
            raise
        handles.open_programs.add(self)
        handles.programs_by_id[self.id] = self

    # Read-only, as on every backend (the kernel's own id and name cannot be changed either).
    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    fn = property(lambda self: self._fn)
    dialect = property(lambda self: self._dialect)

    @property
    def closed(self) -> bool:
        return self.fd is None

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            handles.open_programs.discard(self)
            os.close(fd)

    def __del__(self) -> None:
        self.close()  # silently, as on every backend: a program is let go once nothing holds it

    def __repr__(self) -> str:
        state = " closed" if self.fd is None else ""
        return f"<kernel Program {self.name!r} id={self.id}{state}>"


@refuses_uninitialized("_prog")
class Link(LinkScope):
    """A tcx link (BPF_LINK_CREATE); closing its fd releases it, detaching it if attached.
    Dropped without ``close()`` it is released when collected, with a ResourceWarning."""

    fd: Optional[int] = None  # until __init__ holds it

    def __init__(self, fd: int, prog: Program) -> None:
        self.fd: Optional[int] = fd
        self._prog = prog
        try:
            self._id: int = syscall.obj_id(fd)
        except BaseException:
            os.close(fd)
            raise
        handles.open_links.add(self)

    id = property(lambda self: self._id)  # read-only, as on every backend
    prog = property(lambda self: self._prog)

    @property
    def closed(self) -> bool:
        return self.fd is None

    @property
    def attached(self) -> bool:
        """What the kernel says: a tcx link reports ifindex 0 once detached."""
        if self.fd is None:
            return False
        return syscall.obj_info(self.fd)[4] != 0

    def _fd(self) -> int:
        return handles.NEVER_OPEN_FD if self.fd is None else self.fd

    def update(self, new_prog: Any, flags: int = 0, old_prog: Any = None) -> None:
        new_fd = args.program(new_prog, "new_prog")
        bits = args.flags(flags)
        old_fd = args.old_program(old_prog, bits)
        args.expressible(bits, "update")
        try:
            syscall.link_update(self._fd(), new_fd, bits, old_fd)
        except OSError as e:
            raise fail(_errno(e), "update", f"link {self.id}, new "
                       f"{handles.describe(new_prog)}") from None
        self._prog = new_prog

    def detach(self) -> None:
        try:
            syscall.link_detach(self._fd())
        except OSError as e:
            raise fail(_errno(e), "link detach", f"link {self.id}") from None

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            handles.open_links.discard(self)
            os.close(fd)

    def __del__(self) -> None:
        if self.fd is not None:
            warn_unclosed(self)
            self.close()

    def __repr__(self) -> str:
        state = " closed" if self.fd is None else ""
        return f"<kernel Link id={self.id} prog={self.prog.id}{state}>"


@refuses_uninitialized("_dialect")
class Bundle(Unique):
    """The tcx ingress chain of ``lo`` in a network namespace of its own; with the cgroup
    dialect, a cgroup's list (``mprog.kernel.cgroup.CgroupBundle``). Dropped without
    ``close()`` it is released when collected, with a ResourceWarning.

    The kernel holds the programs of its chain; ``_held`` holds their Program objects (by id),
    so that ``list(bundle)`` can hand them back after the caller dropped its own reference.
    """

    netns: Optional[int] = None  # until __init__ has made the namespace

    def __new__(cls, dialect: str = "upstream", parent: Any = None) -> "Bundle":
        if cls is Bundle and dialect == "cgroup":
            from .cgroup import CgroupBundle
            return super().__new__(CgroupBundle)
        return super().__new__(cls)

    def __init__(self, dialect: str = "upstream", parent: Any = None) -> None:
        if not isinstance(dialect, str):
            raise TypeError(f"dialect must be a str, not {type(dialect).__name__}")
        if dialect not in DIALECTS:
            raise ValueError(f"the live kernel runs the upstream and cgroup dialects, "
                             f"not {dialect!r}")
        if parent is not None:
            raise ValueError("parent= places a cgroup bundle; tcx bundles have none")
        self._dialect = dialect
        self._held: Dict[int, Program] = {}
        self.netns: Optional[int] = netns.create()
        try:
            self.ifindex = netns.ifindex(self.netns)
        except BaseException:
            ns, self.netns = self.netns, None  # half made: nothing for __del__ to release
            os.close(ns)
            raise
        self.netns_inode = netns.inode(self.netns)
        self._owner = True
        handles.open_bundles.add(self)

    @classmethod
    def open(cls, netns_path: str, ifindex: Optional[int] = None) -> "Bundle":
        """Kernel-backend extra: the chain another Bundle made, from any process.

        ``netns_path`` names its namespace (the maker's ``netns_path``), ``ifindex`` the
        device whose tcx ingress chain it is (default: that namespace's ``lo``). Both bundles
        speak to the one chain in the kernel; closing this one only lets go of its handle on
        the namespace (the chain and what is attached stay with their maker)."""
        self = cls.__new__(cls)
        self._dialect = "upstream"
        self._held = {}
        self.netns = handles.above_zero(os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC))
        try:
            self.ifindex = netns.ifindex(self.netns) if ifindex is None else ifindex
            self.netns_inode = netns.inode(self.netns)
        except BaseException:
            ns, self.netns = self.netns, None  # half made: nothing for __del__ to release
            os.close(ns)
            raise
        self._owner = False
        handles.open_bundles.add(self)
        return self

    dialect = property(lambda self: self._dialect)  # read-only, as on every backend

    @property
    def netns_path(self) -> str:
        """A path another process (root) opens to reach this namespace, while this Bundle is
        open: the namespace fd under ``/proc/<pid>/fd``."""
        return f"/proc/{os.getpid()}/fd/{self._ns()}"

    # -- plumbing ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.netns is None

    def _ns(self) -> int:
        if self.netns is None:
            raise ValueError("operation on a closed Bundle")
        return self.netns

    # -- the protocol --------------------------------------------------------------------

    def attach(self, prog: Any, flags: Any = 0, relative: Any = None, replace: Any = None,
               expected_revision: int = 0) -> None:
        ns = self._ns()  # a closed bundle: ValueError before anything else
        flags, relative, replace = _placement(flags, relative, replace)
        prog_fd = args.program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        rep = args.replace(replace, bits)
        args.expressible(bits, "attach")
        try:
            with netns.inside(ns):
                syscall.prog_attach(self.ifindex, prog_fd, bits, rel, rep, rev)
        except OSError as e:
            raise self._attach_failure(_errno(e), "attach", bits, prog) from None
        self._held[prog.id] = prog
        if bits & Flag.REPLACE:
            self._held.pop(replace.id, None)

    def link(self, prog: Any, flags: Any = 0, relative: Any = None,
             expected_revision: int = 0) -> Link:
        ns = self._ns()
        flags, relative, _ = _placement(flags, relative, None)
        prog_fd = args.program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        args.expressible(bits, "link")
        try:
            with netns.inside(ns):
                fd = syscall.link_create(self.ifindex, prog_fd, bits, rel, rev)
        except OSError as e:
            raise self._attach_failure(_errno(e), "link", bits, prog) from None
        return Link(handles.above_zero(fd), prog)

    def _attach_failure(self, err: int, op: str, bits: int, prog: Any) -> errors.MprogError:
        # ERANGE means a full chain when it came from the kernel's "total == max" check,
        # which runs (without REPLACE) before any position is looked at.
        full = (err == errno.ERANGE and not bits & Flag.REPLACE
                and self.query().count == MAX_PROGRAMS)
        return fail(err, op, handles.describe(prog), full=full)

    def detach(self, prog: Any = None, flags: Any = 0, relative: Any = None,
               expected_revision: int = 0) -> None:
        ns = self._ns()
        flags, relative, _ = _placement(flags, relative, None)
        prog_fd = args.optional_program(prog)
        rev = args.expected_revision(expected_revision)
        bits = args.flags(flags)
        rel = args.relative(relative, bits)
        args.expressible(bits, "detach")
        try:
            with netns.inside(ns):
                syscall.prog_detach(self.ifindex, prog_fd, bits, rel, rev)
        except OSError as e:
            raise fail(_errno(e), "detach", handles.describe(prog)) from None
        # Which program left is the kernel's choice when none was named: ask it.
        chain = set(self.query().prog_ids)
        self._held = {i: p for i, p in self._held.items() if i in chain}

    def query(self, count: Optional[int] = None) -> QueryResult:
        ns = self._ns()
        want = args.count(count)
        ask = MAX_PROGRAMS + 1 if want is None else min(want, args.U32 - 1)
        try:
            with netns.inside(ns):
                err, q = syscall.prog_query(self.ifindex, ask, MAX_PROGRAMS + 1)
        except OSError as e:
            raise fail(_errno(e), "query") from None
        result = QueryResult(q.revision, q.count, tuple(q.prog_ids), tuple(q.link_ids),
                             tuple(q.prog_flags), tuple(q.link_flags))
        if err:
            raise errors.QueryTooSmall(
                err, f"query: room for {want} entries, the chain holds {q.count} (ENOSPC)",
                op="query", count=q.count, partial=result)
        return result

    @property
    def revision(self) -> int:
        return self.query().revision

    def __len__(self) -> int:
        return self.query(0).count

    def __iter__(self) -> Iterator[Program]:
        return iter([handles.programs_by_id[i] for i in self.query().prog_ids])

    def run(self, ctx: Any = None) -> int:
        """The kernel runs its programs on packets; here each program's ``fn`` is called in
        the order the kernel holds them (a program without ``fn`` continues), as in tcx."""
        for prog in self:
            verdict = checked(prog.fn(ctx), prog) if prog.fn is not None else NEXT
            if verdict != NEXT:
                return verdict
        return NEXT

    # -- off the kernel's ABI (mprog's Python API): only the core and the model have these --

    def explain(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("explain() is off the kernel's ABI: use mprog or mprog.model")

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("watch() is off the kernel's ABI: use mprog or mprog.model")

    def unwatch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("unwatch() is off the kernel's ABI: use mprog or mprog.model")

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("transaction() is off the kernel's ABI: use mprog or "
                                  "mprog.model")

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Detach everything still attached, then let the namespace go."""
        if self.netns is None:
            return
        try:
            if self._owner:
                self._detach_all()
        finally:
            ns, self.netns = self.netns, None
            self._held.clear()
            handles.open_bundles.discard(self)
            os.close(ns)

    def __del__(self) -> None:
        if not self.closed:
            warn_unclosed(self)
            self.close()

    def _detach_all(self) -> None:
        q = self.query()
        with netns.inside(self._ns()):
            for prog_id, link_id in zip(q.prog_ids, q.link_ids):
                if link_id:
                    fd = syscall.link_get_fd_by_id(link_id)
                    try:
                        syscall.link_detach(fd)
                    finally:
                        os.close(fd)
                else:
                    fd = syscall.prog_get_fd_by_id(prog_id)
                    try:
                        syscall.prog_detach(self.ifindex, fd, 0, 0, 0)
                    finally:
                        os.close(fd)

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.netns is None else f"netns net:[{self.netns_inode}]"
        return f"<kernel Bundle {state} ifindex={self.ifindex}>"


def program_name(prog_id: int) -> str:
    """Kernel-backend extra: the name the kernel keeps for program ``prog_id`` (at most 15
    characters; any process's program), e.g. for a rule that reads priorities from names."""
    try:
        fd = syscall.prog_get_fd_by_id(prog_id)
    except OSError as e:
        raise fail(_errno(e), "query", f"program {prog_id}") from None
    try:
        return syscall.prog_name(fd)
    finally:
        os.close(fd)


def _placement(flags: Any, relative: Any, replace: Any) -> Tuple[Any, Any, Any]:
    """An anchor (Head(), Before(q), ...) where the protocol takes flags, said as raw flags."""
    if isinstance(flags, int):
        return flags, relative, replace
    return anchors.to_request(flags, relative, replace, "upstream")
