"""The live-kernel backend itself, and what the kernel does where SPEC.md says otherwise.

Runs on ``mprog.kernel`` only. Tests named ``test_kernel_*`` pin a kernel behaviour that
differs from SPEC.md; docs/kernel-behaviour.md describes each one and names its test. The
other tests pin the backend (ids, fds, cleanup, namespaces) and the kernel behaviours SPEC.md
gets right, where a regression in the backend's argument passing would show.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest

import mprog.kernel as kernel
from mprog.kernel import handles, netns, syscall

F = kernel.Flag

ok, why = kernel.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"live kernel backend unavailable: {why}")


@pytest.fixture(scope="module", autouse=True)
def fast_grace_periods():
    """tcx waits a grace period per change (~10 ms); expedited it is ~50 us."""
    with kernel.expedited_grace_periods():
        yield


@pytest.fixture
def k():
    yield kernel
    kernel.assert_nothing_left()


@pytest.fixture
def make(k):
    """Programs and bundles that the test does not mean to close itself."""
    made = []

    class Make:
        def programs(self, n, prefix="p"):
            progs = [k.Program(f"{prefix}{i}") for i in range(n)]
            made.extend(progs)
            return progs

        def bundle(self):
            b = k.Bundle()
            made.append(b)
            return b

    yield Make()
    for obj in reversed(made):
        obj.close()


def outcome(fn, *args, **kw):
    """"ok" or the errno's name: what one operation did."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


def chain(b, progs):
    """The chain as indices into ``progs``."""
    where = {p.id: i for i, p in enumerate(progs)}
    return [where[i] for i in b.query().prog_ids]


# ---------------------------------------------------------------------------------------
# The backend: ids, fds, namespaces, cleanup
# ---------------------------------------------------------------------------------------

def test_available_is_cached(k):
    assert k.available() == (True, "")
    assert k.available() is k.available()


def test_exports_the_protocol(k):
    assert k.DIALECTS == ("upstream", "cgroup")
    for name in ("Bundle", "Program", "Link", "Flag", "V2Flag", "QueryResult",
                 "QueryTooSmall", "ChainFull", "InvalidArgument", "ClosedHandle"):
        assert hasattr(k, name), name


def test_program_id_is_the_kernels(k):
    p, q = k.Program("audit"), k.Program("with spaces and a very long name", fn=len)
    try:
        assert p.id > 0 and q.id > 0 and p.id != q.id
        assert syscall.obj_id(p.fd) == p.id
        assert syscall.obj_info(p.fd)[0] == syscall.PROG_TYPE_SCHED_CLS
        assert q.name == "with spaces and a very long name" and q.fn is len
    finally:
        p.close()
        q.close()


def test_program_close_closes_the_fd_once(k):
    p = k.Program()
    fd = p.fd
    p.close()
    p.close()
    assert p.closed and p.fd is None
    with pytest.raises(OSError) as e:
        os.fstat(fd)
    assert e.value.errno == errno.EBADF


def test_closed_handle_is_never_passed_as_its_old_fd(k, make):
    """The old fd number may belong to a new object; the kernel must still say EBADF."""
    b = make.bundle()
    p = k.Program()
    old_fd = p.fd
    p.close()
    (q,) = make.programs(1)
    if q.fd != old_fd:                  # normally the lowest free fd is reused: make sure
        os.dup2(q.fd, old_fd)
    try:
        assert outcome(b.attach, p) == "EBADF"
        assert outcome(b.attach, q, F.BEFORE, relative=p) == "EBADF"
        assert len(b) == 0
    finally:
        if q.fd != old_fd:
            os.close(old_fd)


def test_no_handle_ever_sits_on_fd_0(k, make):
    """bpf_attr reads fd 0 as "none" (detach's program, relative_fd): with stdin closed, a
    new program, link or /dev/null fd would land on 0, so it is moved off it."""
    b = make.bundle()
    saved = os.dup(0) if _is_open(0) else None
    try:
        os.close(0) if _is_open(0) else None
        p = k.Program()
        assert p.fd != 0
        os.close(0) if _is_open(0) else None
        link = b.link(p)
        assert link.fd != 0
        os.close(0) if _is_open(0) else None
        handles.close_devnull()
        assert handles.devnull_fd() != 0
    finally:
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)
        elif _is_open(0):
            os.close(0)
    assert outcome(b.detach, p) == "EBUSY"   # p named, not "no program"
    link.close()
    p.close()


def _is_open(fd):
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_bundle_lives_in_a_private_namespace(k):
    home = os.readlink("/proc/thread-self/ns/net")
    netns_before = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    b = k.Bundle()
    ino = b.netns_inode
    assert f"net:[{ino}]" != home
    assert b.ifindex == netns.ifindex(b.netns, "lo")
    with netns.inside(b.netns):
        assert open("/sys/class/net/lo/operstate").read().strip() in ("unknown", "up")
    assert os.readlink("/proc/thread-self/ns/net") == home  # back home after each call
    b.close()
    b.close()
    assert b.netns is None
    assert not netns.referenced_by_this_process(ino)
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert after == netns_before


def test_calls_from_another_thread_return_it_home(k, make):
    import threading
    b = make.bundle()
    (p,) = make.programs(1)
    seen = []

    def work():
        b.attach(p)
        seen.append((os.readlink("/proc/thread-self/ns/net"), len(b)))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [(os.readlink("/proc/thread-self/ns/net"), 1)]


def test_bundle_dialects(k):
    with pytest.raises(ValueError):
        k.Bundle("v2")
    with pytest.raises(ValueError):
        k.Bundle("nonsense")
    with k.Bundle() as b:
        assert b.dialect == "upstream"


def test_closed_bundle_refuses_operations(k, make):
    (p,) = make.programs(1)
    b = k.Bundle()
    b.close()
    with pytest.raises(ValueError):
        b.attach(p)
    with pytest.raises(ValueError):
        b.query()


def test_bundle_close_detaches_everything(k):
    p, q, r = (k.Program(n) for n in "pqr")
    b = k.Bundle()
    b.attach(p)
    link = b.link(q)
    b.attach(r, F.BEFORE)
    b.close()
    assert not link.attached
    assert outcome(link.update, p) == "ENOLINK"
    assert outcome(link.detach) == "ok"
    link.close()
    for x in (p, q, r):
        x.close()


def test_assert_nothing_left_names_and_closes_leaks(k):
    b = k.Bundle()
    p = k.Program("leaky")
    link = b.link(p)
    fds = (p.fd, link.fd, b.netns)
    with pytest.raises(AssertionError, match="leaky"):
        k.assert_nothing_left()
    assert p.closed and link.closed and b.netns is None
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    k.assert_nothing_left()  # nothing left now


def test_link_handle(k, make):
    b = make.bundle()
    p, q = make.programs(2)
    link = b.link(p)
    assert link.id > 0 and link.prog is p and link.attached and not link.closed
    assert syscall.obj_info(link.fd)[1:3] == (link.id, p.id)
    assert b.query().link_ids == (link.id,)
    link.update(q)
    assert link.prog is q
    link.detach()
    assert not link.attached and len(b) == 0
    link.close()
    link.close()
    assert link.closed and not link.attached
    assert outcome(link.detach) == "EBADF"
    assert outcome(link.update, p) == "EBADF"


def test_closing_an_attached_link_detaches_it(k, make):
    b = make.bundle()
    p, q = make.programs(2)
    b.attach(p)
    link = b.link(q)
    rev = b.revision
    link.close()
    assert b.query().prog_ids == (p.id,) and b.revision == rev + 1


def test_list_and_len_follow_the_kernel(k, make):
    b = make.bundle()
    p, q, r = make.programs(3)
    b.attach(p)
    b.link(r).close()
    link = b.link(q, F.BEFORE)
    assert list(b) == [q, p] and len(b) == 2
    p.close()  # still attached, still listed
    assert list(b) == [q, p]
    link.close()


def test_run_calls_fns_in_kernel_order(k, make):
    b = make.bundle()
    seen = []
    p = k.Program("p", fn=lambda ctx: seen.append("p") or k.NEXT)
    q = k.Program("q", fn=lambda ctx: seen.append("q") or 7)
    try:
        assert b.run(None) == k.NEXT
        b.attach(p)
        b.attach(q, F.BEFORE)
        assert b.run(None) == 7 and seen == ["q"]
    finally:
        p.close()
        q.close()


def test_python_level_errors_come_first(k, make):
    b = make.bundle()
    (p,) = make.programs(1)
    with pytest.raises(TypeError):
        b.attach(p, flags="1")
    with pytest.raises(TypeError):
        b.attach("p")
    with pytest.raises(ValueError):
        b.attach(p, flags=1 << 40, expected_revision=-1)  # before the flags' EINVAL
    with pytest.raises(ValueError):
        b.attach(p, F.BEFORE | F.ID, relative=1 << 32)
    with pytest.raises(ValueError):
        b.query(-1)
    assert len(b) == 0


def test_any_handle_reaches_the_kernel_where_a_program_is_wanted(k, make):
    """Links, ints and None where a program fd is read: the kernel's EINVAL (EBADF if closed)."""
    b = make.bundle()
    p, q, r = make.programs(3)
    b.attach(p)
    link = b.link(q)
    gone = b.link(r)
    gone.close()
    for bad in (link, 7, 0, None):
        assert outcome(b.attach, bad) == "EINVAL"
        assert outcome(b.link, bad) == "EINVAL"
        assert outcome(link.update, bad) == "EINVAL"
        assert outcome(b.attach, r, F.REPLACE, replace=bad) == "EINVAL"
    assert outcome(b.attach, gone) == "EBADF"
    assert outcome(b.attach, r, F.REPLACE, replace=gone) == "EBADF"
    assert outcome(link.update, r, F.REPLACE, gone) == "EBADF"
    assert outcome(b.detach, link) == "EINVAL"
    assert outcome(b.detach, 7) == "EINVAL"
    assert outcome(b.detach, 0) == "EBUSY"         # 0: no program: the last, the link's
    link.close()
    b.detach(0)
    assert len(b) == 0


def test_handles_under_id_stand_for_their_id(k, make):
    """With ID the kernel reads an id: a handle of the kind the flags name is its id (closed
    or not); a handle of the other kind is an id no object has (ENOENT, deterministic)."""
    b = make.bundle()
    p, q, r = make.programs(3)
    b.attach(p)
    link = b.link(q)
    b.attach(r, F.BEFORE | F.ID, relative=p)
    b.detach(r)
    b.attach(r, F.AFTER | F.ID | F.LINK, relative=link)
    assert chain(b, [p, q, r]) == [0, 1, 2]
    b.detach(r)
    assert outcome(b.attach, r, F.BEFORE | F.ID, relative=link) == "ENOENT"
    assert outcome(b.attach, r, F.BEFORE | F.ID | F.LINK, relative=p) == "ENOENT"
    p.close()                                       # p lives on in the chain
    b.attach(r, F.BEFORE | F.ID, relative=p)
    assert chain(b, [p, q, r]) == [2, 0, 1]
    link.close()                                    # a closed link is gone: not found
    assert outcome(b.detach, None, F.BEFORE | F.ID | F.LINK, relative=link) == "ENOENT"


def test_flags_beyond_u32_are_einval_without_a_call(k, make):
    """A u32 cannot carry them: EINVAL first, for link too (where bits the kernel can see
    are not checked first), and after the Python-level errors."""
    b = make.bundle()
    p, q = make.programs(2)
    after = int(F.AFTER)  # IntFlag | a negative int loses the high bits (Python 3.11)
    gone = k.Program()
    gone.close()
    for flags in (1 << 32, -1, 1 << 63 | after, -(1 << 40) | after):
        assert outcome(b.attach, p, flags, expected_revision=9) == "EINVAL"
        assert outcome(b.detach, p, flags) == "EINVAL"
        assert outcome(b.link, gone, flags, expected_revision=9) == "EINVAL"
        assert outcome(b.link, p, flags) == "EINVAL"
        with pytest.raises(ValueError):
            b.link(p, flags, expected_revision=-1)
    assert len(b) == 0 and b.revision == 1
    link = b.link(p)
    assert outcome(link.update, q, 1 << 32 | int(F.REPLACE), p) == "EINVAL"
    link.close()


def test_full_chain_raises_chain_full(k, make):
    b = make.bundle()
    progs = make.programs(64)
    for p in progs[:63]:
        b.attach(p)
    with pytest.raises(k.ChainFull) as e:
        b.attach(progs[63])
    assert e.value.errno == errno.ERANGE
    with pytest.raises(k.ChainFull):
        b.link(progs[63], F.BEFORE)
    with pytest.raises(k.BadAnchor) as e:  # REPLACE at a full chain: a position, not "full"
        b.attach(progs[63], F.REPLACE | F.BEFORE, replace=progs[5])
    assert not isinstance(e.value, k.ChainFull)
    b.attach(progs[63], F.REPLACE, replace=progs[5])
    assert len(b) == 63


def test_error_messages_name_the_operation(k, make):
    b = make.bundle()
    (p,) = make.programs(1)
    b.attach(p)
    with pytest.raises(k.AlreadyAttached) as e:
        b.attach(p)
    assert e.value.strerror.startswith("attach: ") and "EEXIST" in e.value.strerror
    assert e.value.op == "attach"
    with pytest.raises(k.InvalidArgument) as e:
        b.detach(p, F.REPLACE)
    assert e.value.strerror.startswith("detach: ")


# ---------------------------------------------------------------------------------------
# Kernel behaviour that differs from SPEC.md (see docs/kernel-behaviour.md)
# ---------------------------------------------------------------------------------------

UNKNOWN_BITS = (1 << 0, 1 << 1, 1 << 6, 1 << 12, 1 << 14, 1 << 31)


@pytest.mark.parametrize("bit", UNKNOWN_BITS)
def test_kernel_link_ignores_unknown_flags_beside_a_position(k, make, bit):
    """BPF_LINK_CREATE applies no flag mask for tcx: with BEFORE/AFTER unknown bits are
    ignored and the link is made (SPEC: EINVAL before anything else)."""
    b = make.bundle()
    p, q, r = make.programs(3)
    b.attach(p)
    after = b.link(q, F.AFTER | bit)
    before = b.link(r, F.BEFORE | bit, relative=p)
    assert chain(b, [p, q, r]) == [2, 0, 1] and b.revision == 4
    # Alone, unknown bits fail only at the very end, where "flags without a position" is
    # EINVAL; with REPLACE they fail like any REPLACE on a new link: ENOENT.
    s, = make.programs(1)
    assert outcome(b.link, s, bit) == "EINVAL"
    assert outcome(b.link, s, F.REPLACE | bit) == "ENOENT"
    # BPF_PROG_ATTACH and BPF_PROG_DETACH do check the mask: EINVAL first.
    assert outcome(b.attach, s, F.AFTER | bit) == "EINVAL"
    assert outcome(b.detach, p, F.AFTER | bit) == "EINVAL"
    after.close()
    before.close()


def test_kernel_link_checks_unknown_flags_last(k, make):
    """Because no mask is applied, every other failure of BPF_LINK_CREATE comes first."""
    b = make.bundle()
    p, q, gone = make.programs(3)
    bit = 1 << 0
    b.attach(p)
    gone.close()
    assert outcome(b.link, gone, bit) == "EBADF"                           # closed program
    assert outcome(b.link, q, bit, expected_revision=99) == "ESTALE"       # stale revision
    assert outcome(b.link, p, bit) == "EEXIST"                             # already attached
    assert outcome(b.link, q, bit, relative=gone) == "EBADF"               # closed relative
    assert outcome(b.link, q, bit | F.ID, relative=0) == "ENOENT"          # id 0
    assert outcome(b.link, q, bit | F.LINK, relative=p) == "EINVAL"        # wrong kind
    assert outcome(b.link, q, bit | F.BEFORE, relative=q) == "ENOENT"      # not in the chain
    assert outcome(b.link, q, bit | F.BEFORE | F.AFTER) == "ERANGE"        # disagreeing
    assert b.revision == 2 and len(b) == 1


def test_kernel_detach_last_of_a_full_chain_is_erange(k, make):
    """detach() without a program on a chain of 63 fails with ERANGE instead of removing
    the last entry: the position "after the last" is index 63, which fails the kernel's
    ``idx >= bpf_mprog_max()`` check before it is clamped onto the last entry."""
    b = make.bundle()
    progs = make.programs(63)
    for p in progs:
        b.attach(p)
    rev = b.revision
    assert outcome(b.detach) == "ERANGE"
    assert outcome(b.detach, None, F.AFTER) == "ERANGE"
    assert outcome(b.detach, None, F.AFTER, progs[62]) == "ERANGE"
    assert outcome(b.detach, None, F.AFTER | F.ID, progs[62].id) == "ERANGE"
    assert len(b) == 63 and b.revision == rev
    # Every other way still works on the full chain:
    b.detach(None, F.AFTER, progs[61])             # removes progs[62], right after 61
    assert len(b) == 62
    b.attach(progs[62])
    b.detach(progs[62])                            # by program
    b.attach(progs[62])
    b.detach(None, F.BEFORE)                       # the first
    assert chain(b, progs)[0] == 1 and len(b) == 62
    b.detach()                                     # 62 held: the last, as SPEC says
    assert chain(b, progs)[-1] == 61


def test_kernel_detach_without_prog_at_full_chain_after_link(k, make):
    """The same ERANGE comes before EBUSY: a full chain whose last entry is a link."""
    b = make.bundle()
    progs = make.programs(63)
    for p in progs[:62]:
        b.attach(p)
    link = b.link(progs[62])
    assert outcome(b.detach) == "ERANGE"
    b.detach(progs[0])
    assert outcome(b.detach) == "EBUSY"
    link.close()


def test_kernel_clsact_keeps_the_entry(k, make):
    """Outside SPEC's model (a hook without qdisc): a clsact qdisc on the device keeps the
    tcx entry alive when the chain empties, so the revision goes on counting and detach on
    the empty chain checks REPLACE and the revision before saying ENOENT."""
    if not (shutil.which("tc") and shutil.which("nsenter")):
        pytest.skip("needs tc and nsenter")
    b = make.bundle()
    p, q = make.programs(2)
    subprocess.run(["nsenter", f"--net=/proc/{os.getpid()}/fd/{b.netns}",
                    "tc", "qdisc", "add", "dev", "lo", "clsact"], check=True)
    b.attach(p)
    b.detach(p)
    assert b.query() == kernel.QueryResult(3, 0)
    assert outcome(b.detach, None, F.REPLACE) == "EINVAL"
    assert outcome(b.detach, None, 0, None, 99) == "ESTALE"
    assert outcome(b.detach) == "ENOENT"
    b.attach(q, expected_revision=3)
    assert b.revision == 4


# ---------------------------------------------------------------------------------------
# Where the kernel agrees with SPEC.md: pinned so the backend's argument passing stays exact
# ---------------------------------------------------------------------------------------

def test_attach_and_detach_check_unknown_flags_first(k, make):
    b = make.bundle()
    p, gone = make.programs(2)
    gone.close()
    for bit in UNKNOWN_BITS:
        assert outcome(b.attach, gone, bit, expected_revision=5) == "EINVAL"
        assert outcome(b.detach, gone, bit) == "EINVAL"  # before EBADF and empty ENOENT
    b.attach(p)
    assert outcome(b.attach, p, 1 << 6) == "EINVAL"       # v2's LAST is unknown upstream


def test_attach_order_of_checks(k, make):
    b = make.bundle()
    p, q, r, gone = make.programs(4)
    gone.close()
    b.attach(p)
    link = b.link(r)
    # closed prog, then replace (closed: EBADF, not a program: EINVAL), then the revision
    assert outcome(b.attach, gone, F.REPLACE, replace=gone, expected_revision=9) == "EBADF"
    assert outcome(b.attach, q, F.REPLACE, replace=gone, expected_revision=9) == "EBADF"
    assert outcome(b.attach, q, F.REPLACE, replace=None, expected_revision=9) == "EINVAL"
    assert outcome(b.attach, q, F.REPLACE, replace=link, expected_revision=9) == "EINVAL"
    # revision before "already attached", which comes before the relative
    assert outcome(b.attach, p, F.BEFORE, relative=gone, expected_revision=9) == "ESTALE"
    assert outcome(b.attach, p, F.BEFORE, relative=gone) == "EEXIST"
    # relative before the REPLACE lookup
    assert outcome(b.attach, q, F.REPLACE | F.BEFORE, gone, replace=q) == "EBADF"
    assert outcome(b.attach, q, F.REPLACE, relative=gone, replace=q) == "EBADF"
    assert outcome(b.attach, q, F.REPLACE, replace=q) == "ENOENT"
    assert outcome(b.attach, q, F.REPLACE, replace=r) == "EBUSY"
    # a resolvable relative without BEFORE/AFTER is ignored under REPLACE, EINVAL otherwise
    assert outcome(b.attach, q, 0, relative=p) == "EINVAL"
    assert outcome(b.attach, q, F.ID, relative=p.id) == "EINVAL"
    rev = b.revision
    b.attach(q, F.REPLACE, relative=r, replace=p)
    assert chain(b, [p, q, r]) == [1, 2] and b.revision == rev + 1
    # "replace" is ignored without REPLACE
    b.attach(p, 0, replace=None)
    assert chain(b, [p, q, r]) == [1, 2, 0]
    link.close()


def test_attach_positions(k, make):
    b = make.bundle()
    p, q, r, s, t = progs = make.programs(5)
    b.attach(p)
    b.attach(q, F.BEFORE)                               # first
    b.attach(r, F.AFTER, relative=q)                    # right after q
    link = b.link(s, F.BEFORE | F.ID, relative=p.id)    # right before p
    b.attach(t, F.AFTER | F.LINK, relative=link)        # right after the link
    assert chain(b, progs) == [1, 2, 3, 4, 0]
    assert outcome(b.detach, t) == "ok"
    assert outcome(b.attach, t, F.BEFORE | F.AFTER, relative=p) == "ERANGE"
    assert outcome(b.attach, t, F.BEFORE | F.AFTER) == "ERANGE"
    assert outcome(b.attach, t, F.BEFORE, relative=t) == "ENOENT"
    assert outcome(b.attach, t, F.BEFORE | F.ID, relative=0xFFFFFFFF) == "ENOENT"
    assert outcome(b.attach, t, F.BEFORE | F.LINK) == "EINVAL"       # LINK, no ID, fd 0
    assert outcome(b.attach, t, F.BEFORE | F.LINK | F.ID) == "ENOENT"  # id 0
    assert outcome(b.attach, t, F.BEFORE, relative=link) == "EINVAL"  # a link without LINK
    assert outcome(b.attach, t, F.BEFORE | F.LINK, relative=p) == "EINVAL"
    assert outcome(b.attach, t, F.BEFORE, relative=3) == "EINVAL"     # an fd, not bpf
    # REPLACE with a position: replace must sit right there
    assert outcome(b.attach, t, F.REPLACE | F.BEFORE, relative=p, replace=r) == "ERANGE"
    assert outcome(b.attach, t, F.REPLACE | F.AFTER, replace=r) == "ERANGE"
    b.attach(t, F.REPLACE | F.AFTER, relative=q, replace=r)
    assert chain(b, progs) == [1, 4, 3, 0]
    link.close()


def test_detach_order_of_checks(k, make):
    b = make.bundle()
    p, q, gone = make.programs(3)
    gone.close()
    assert outcome(b.detach, gone) == "EBADF"               # closed prog before empty chain
    assert outcome(b.detach, None, F.REPLACE, gone, 9) == "ENOENT"   # empty chain first
    b.attach(p)
    assert outcome(b.detach, p, F.REPLACE, gone, 9) == "EINVAL"      # REPLACE
    assert outcome(b.detach, p, F.BEFORE, gone, 9) == "ESTALE"       # revision
    assert outcome(b.detach, q, F.BEFORE, gone) == "EBADF"           # relative before prog
    assert outcome(b.detach, q) == "ENOENT"
    assert outcome(b.detach, p, 0, relative=q) == "ok"               # resolved, then ignored


def test_detach_positions(k, make):
    b = make.bundle()
    p, q, r, s = progs = make.programs(4)
    for x in (p, q, r):
        b.attach(x)
    assert outcome(b.detach, r, F.AFTER) == "ERANGE"                   # never: after last
    link = b.link(s)
    assert outcome(b.detach, q, F.BEFORE, relative=r) == "ok"          # q sat right before r
    b.attach(q, F.BEFORE, relative=r)
    assert outcome(b.detach, q, F.BEFORE, relative=p) == "ERANGE"
    assert outcome(b.detach, p, F.BEFORE) == "ERANGE"                  # never: before first
    assert outcome(b.detach, s, F.AFTER) == "EBUSY"                    # the link, before ERANGE
    assert outcome(b.detach, s) == "EBUSY"
    assert outcome(b.detach) == "EBUSY"                                # last is the link
    assert outcome(b.detach, None, 0, relative=p) == "EINVAL"
    assert outcome(b.detach, None, F.ID, relative=p.id) == "EINVAL"
    # without prog: clamped at the ends
    b.detach(None, F.BEFORE, relative=p)                               # p is first: p goes
    assert chain(b, progs) == [1, 2, 3]
    b.detach(None, F.AFTER, relative=q)                                # r
    assert chain(b, progs) == [1, 3]
    assert outcome(b.detach, None, F.AFTER | F.LINK, relative=link) == "EBUSY"  # clamped
    b.detach(None, F.BEFORE)                                           # the first: q
    assert chain(b, progs) == [3]
    link.close()
    assert b.query() == kernel.QueryResult(1, 0)


def test_revision_after_the_chain_empties(k, make):
    b = make.bundle()
    p, q = make.programs(2)
    assert b.query() == kernel.QueryResult(1, 0)
    assert outcome(b.attach, p, F.BEFORE, relative=q) == "ENOENT"   # failed on empty: still 1
    assert b.revision == 1
    b.attach(p, expected_revision=1)
    b.attach(q)
    b.detach(p)
    assert b.revision == 4
    link = b.link(p)
    b.detach(q)
    link.close()                                                     # empties: freed
    assert b.query() == kernel.QueryResult(1, 0)
    assert outcome(b.attach, p, expected_revision=6) == "ESTALE"
    b.attach(p, expected_revision=1)
    assert b.revision == 2


def test_link_update_corners(k, make):
    b = make.bundle()
    p, q, r, s, gone = make.programs(5)
    gone.close()
    b.attach(p)
    link = b.link(q)
    other = b.link(s)
    rev = b.revision
    assert outcome(link.update, r, F.REPLACE | F.BEFORE, q) == "EINVAL"
    assert outcome(link.update, gone, F.REPLACE, q) == "EBADF"
    assert outcome(link.update, r, F.REPLACE, gone) == "EBADF"
    assert outcome(link.update, r, F.REPLACE, None) == "EINVAL"
    assert outcome(link.update, r, 0, q) == "EINVAL"
    assert outcome(link.update, r, F.REPLACE, p) == "EPERM"
    assert outcome(link.update, q, F.REPLACE, p) == "EPERM"        # EPERM before "same"
    assert outcome(link.update, p) == "EEXIST"                     # attached by program
    assert outcome(link.update, s) == "EEXIST"                     # attached by a link
    assert b.revision == rev
    link.update(q, F.REPLACE, q)                                    # own program: no change
    assert b.revision == rev
    link.update(r, F.REPLACE, q)
    assert b.revision == rev + 1 and b.query().prog_ids == (p.id, r.id, s.id)
    assert b.query().link_ids == (0, link.id, other.id)
    q.close()                                                       # old program released
    link.detach()
    assert outcome(link.update, s, F.REPLACE, p) == "ENOLINK"      # before EPERM/EEXIST
    assert outcome(link.detach) == "ok"
    link.close()
    other.close()


def test_query_with_count(k, make):
    b = make.bundle()
    p, q, r = make.programs(3)
    assert b.query(1) == kernel.QueryResult(1, 0)                  # empty: no ENOSPC
    b.attach(p)
    link = b.link(q)
    b.attach(r)
    full = b.query()
    assert full.count == 3 and full.link_ids == (0, link.id, 0)
    assert full.prog_attach_flags == full.link_attach_flags == (0, 0, 0)
    assert b.query(0) == kernel.QueryResult(full.revision, 3)
    assert b.query(3) == full and b.query(1000) == full
    with pytest.raises(kernel.QueryTooSmall) as e:
        b.query(2)
    assert e.value.errno == errno.ENOSPC and e.value.count == 3
    assert e.value.partial == kernel.QueryResult(full.revision, 3, full.prog_ids[:2],
                                                 full.link_ids[:2], (0, 0), (0, 0))
    link.close()


def test_relative_by_id_names_closed_programs_that_live(k, make):
    b = make.bundle()
    p, q = make.programs(2)
    b.attach(p)
    pid = p.id
    p.close()                                      # the chain still holds it
    b.attach(q, F.BEFORE | F.ID, relative=pid)
    assert b.query().prog_ids == (q.id, pid)
    b.detach(None, F.AFTER | F.ID, relative=q.id)  # removes the closed p
    assert outcome(b.attach, q, F.REPLACE, replace=p) == "EBADF"
    assert b.query().prog_ids == (q.id,)
    assert handles.programs_by_id[pid] is p
