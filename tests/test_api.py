"""The Python API on the core and the model: anchors, errors with context, query
results, explain, transactions and retry, watch, links as context managers, traces and the
``show`` CLI. Every test runs on both (``api_backend``); the kernel refuses what is off its ABI.
"""
from __future__ import annotations

import errno as E
import gc
import sys
import io
import json
import os
import random

import pytest

import mprog
import mprog.model
from mprog import After, Before, Head, Replace, Tail, trace
from mprog.anchors import to_request
from mprog.query import QueryEntry

DIALECTS = ("upstream", "v2")


def ids(b):
    return [p.id for p in b]


def progs(m, n):
    return [m.Program(f"p{i}") for i in range(n)]


def errno_of(fn, *args, **kwargs):
    with pytest.raises(OSError) as info:
        fn(*args, **kwargs)
    return info.value


def flags_of(m, dialect):
    return m.V2Flag if dialect == "v2" else m.Flag


# ------------------------------------------------------------------------------- anchors

@pytest.mark.parametrize("dialect", DIALECTS)
def test_anchors_place_programs(api_backend, dialect):
    m = api_backend
    with m.Bundle(dialect) as b:
        a, c, d, e, f, g = progs(m, 6)
        b.attach(a, Tail())
        b.attach(c, Head())                       # c a
        b.attach(d, After(c))                     # c d a
        link = b.link(e, Before(a))               # c d e a
        b.attach(f, After(link))                  # c d e f a
        b.attach(g, Before(prog_id=d.id))         # c g d e f a
        assert ids(b) == [x.id for x in (c, g, d, e, f, a)]
        h = m.Program("h")
        b.attach(h, Replace(g))                   # c h d e f a
        assert ids(b) == [x.id for x in (c, h, d, e, f, a)]
        assert b.query().link_ids == (0, 0, 0, link.id, 0, 0)
        i = m.Program("i")
        held = b.link(i, After(link_id=link.id))  # c h d e i f a (core: a dropped link closes)
        assert ids(b) == [x.id for x in (c, h, d, e, i, f, a)]
        e = errno_of(b.detach, None, Before(f))   # i: a link's slot
        assert type(e) is mprog.Busy and e.errno == E.EBUSY and e.anchor == Before(f)
        assert b.revision == 9 and held.attached


@pytest.mark.parametrize("dialect", DIALECTS)
def test_anchor_detach(api_backend, dialect):
    m = api_backend
    b = m.Bundle(dialect)
    a, c, d = progs(m, 3)
    for p in (a, c, d):
        b.attach(p)
    b.detach(None, Before(c))                     # removes a
    assert ids(b) == [c.id, d.id]
    b.detach(None, After(prog_id=c.id))           # removes d
    assert ids(b) == [c.id]
    b.detach(None, Tail())
    assert ids(b) == [] and b.revision == 1
    b.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_anchor_is_the_raw_request(api_backend, dialect):
    """An anchor and the flags/relative it stands for do exactly the same, success or errno."""
    m = api_backend
    for k in range(8):
        answers = []
        for use_anchor in (True, False):
            b = m.Bundle(dialect)
            ps = progs(m, 4)
            b.attach(ps[0])
            b.attach(ps[1])
            anchor = [Head(), Tail(), Before(ps[0]), After(ps[1]), Before(ps[3]),
                      After(prog_id=ps[0].id), Replace(ps[1]), Replace(ps[3])][k]
            try:
                if use_anchor:
                    b.attach(ps[2], anchor)
                else:
                    flags, rel, rep = to_request(anchor, None, None, dialect)
                    b.attach(ps[2], flags, relative=rel, replace=rep)
                answers.append(("ok", tuple(p.name for p in b), b.revision))
            except OSError as e:
                answers.append(("err", e.errno, tuple(p.name for p in b), b.revision))
            b.close()
        assert answers[0] == answers[1]
        assert answers[0][0] == ("err" if k in (4, 7) else "ok")


def test_anchor_argument_errors(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c = progs(m, 2)
    b.attach(a)
    with pytest.raises(TypeError):
        b.attach(c, Before(a), relative=a)        # the anchor already says where
    with pytest.raises(ValueError):
        b.attach(c, Head(first=True))             # pins are v2's
    with pytest.raises(TypeError):
        b.attach(c, "head")
    with pytest.raises(TypeError):
        Before(a, prog_id=3)
    assert ids(b) == [a.id] and b.revision == 2
    b.close()


def test_v2_pins_through_anchors(api_backend):
    m = api_backend
    V = m.V2Flag
    b = m.Bundle("v2")
    a, c, d = progs(m, 3)
    b.attach(a, Head(first=True))
    last = b.link(c, Tail(last=True))
    b.attach(d, Head())                           # inside the pins
    assert ids(b) == [a.id, d.id, c.id]
    q = b.query()
    assert q.prog_attach_flags == (int(V.FIRST), 0, 0)
    assert q.link_attach_flags == (0, 0, int(V.LAST)) and last.attached
    e = errno_of(b.attach, m.Program(), Before(a))
    assert e.errno == E.EBUSY and isinstance(e, mprog.Busy)
    b.close()


# ------------------------------------------------------------------------------- errors

def test_error_classes_and_context(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    b.attach(a)
    rev = b.revision

    e = errno_of(b.attach, a, Tail())
    assert type(e) is mprog.AlreadyAttached and e.errno == E.EEXIST
    assert isinstance(e, FileExistsError) and isinstance(e, mprog.MprogError)
    assert e.op == "attach" and e.anchor == Tail() and e.revision == rev
    assert str(e.strerror).startswith("attach: ")

    e = errno_of(b.attach, c, Before(d))
    assert type(e) is mprog.NotFound and e.errno == E.ENOENT and mprog.NotAttached is mprog.NotFound
    assert e.anchor == Before(d) and e.revision == rev

    e = errno_of(b.detach, c)
    assert isinstance(e, mprog.NotAttached) and e.op == "detach" and e.anchor is None
    assert e.revision == rev

    e = errno_of(b.attach, c, After(a), expected_revision=rev + 5)
    assert type(e) is mprog.StaleRevision and e.errno == E.ESTALE and e.revision == rev

    e = errno_of(b.attach, c, m.Flag.BEFORE | m.Flag.AFTER, relative=a)
    assert type(e) is mprog.BadAnchor and e.errno == E.ERANGE

    link = b.link(c)
    e = errno_of(b.detach, c)
    assert type(e) is mprog.Busy and e.errno == E.EBUSY
    e = errno_of(b.link, d, Before(link), expected_revision=1)
    assert type(e) is mprog.StaleRevision and e.op == "link" and e.anchor == Before(link)
    assert e.revision == b.revision

    e = errno_of(link.update, d, m.Flag.REPLACE, old_prog=a)
    assert type(e) is mprog.WrongProgram and e.errno == E.EPERM and e.op == "update"
    link.detach()
    e = errno_of(link.update, d)
    assert type(e) is mprog.LinkDetached and e.errno == E.ENOLINK

    d.close()
    e = errno_of(b.attach, d)
    assert type(e) is mprog.ClosedHandle and e.errno == E.EBADF
    e = errno_of(b.attach, m.Program(), m.Flag.BEFORE | 1 << 20)
    assert type(e) is mprog.InvalidArgument and e.errno == E.EINVAL
    assert ids(b) == [a.id] and b.revision == rev + 2
    b.close()


@pytest.mark.parametrize("dialect,errno_", [("upstream", E.ERANGE), ("v2", E.ENOSPC)])
def test_chain_full(api_backend, dialect, errno_):
    m = api_backend
    b = m.Bundle(dialect)
    for p in progs(m, m.MAX_PROGRAMS):
        b.attach(p)
    rev = b.revision
    e = errno_of(b.attach, m.Program(), Head())
    assert type(e) is mprog.ChainFull and e.errno == errno_
    assert e.anchor == Head() and e.revision == rev
    ex = b.explain("attach", m.Program(), Tail())
    assert type(ex.error) is mprog.ChainFull and ex.error.errno == errno_
    b.close()


# ------------------------------------------------------------------------------- query

def test_query_entries_repr_table(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c = progs(m, 2)
    b.attach(a)
    link = b.link(c)
    q = b.query()
    assert q.entries == (QueryEntry(a.id, 0, 0, 0), QueryEntry(c.id, link.id, 0, 0))
    assert q.entries[1].link_id == link.id
    assert repr(q) == f"QueryResult(revision=3, count=2, programs=[{a.id}, {c.id}@link{link.id}])"
    lines = q.table().splitlines()
    assert lines[0] == "revision 3, 2 program(s)"
    assert lines[1].split() == ["#", "prog", "link", "prog", "flags", "link", "flags"]
    assert lines[2].split() == ["0", str(a.id), "-", "0x0", "0x0"]
    assert lines[3].split() == ["1", str(c.id), str(link.id), "0x0", "0x0"]
    assert str(q) == q.table()
    assert len({len(line) for line in lines[1:]}) == 1          # aligned columns
    with pytest.raises(mprog.QueryTooSmall) as info:
        b.query(1)
    assert info.value.count == 2 and info.value.partial.prog_ids == (a.id,)
    assert info.value.revision == 3
    b.close()


# ------------------------------------------------------------------------------- explain

def test_explain_basic(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    ex = b.explain("detach")
    assert not ex.ok and ex.error.errno == E.ENOENT and ex.op == "detach"
    b.attach(a)
    b.attach(c)
    before = b.query()
    ex = b.explain("attach", d, Before(c))
    assert (ex.ok, ex.action, ex.index) == (True, "insert", 1)
    assert str(ex) == "attach would insert at index 1"
    ex = b.explain("attach", d, Replace(a))
    assert (ex.action, ex.index) == ("replace", 0)
    ex = b.explain("detach", None, Tail())
    assert (ex.action, ex.index) == ("remove", 1)
    ex = b.explain("attach", a, Head())
    assert not ex.ok and type(ex.error) is mprog.AlreadyAttached
    assert ex.error.anchor == Head() and ex.error.revision == before.revision
    assert str(ex).startswith("attach would fail: ")
    ex = b.explain("attach", d, expected_revision=before.revision + 1)
    assert ex.error.errno == E.ESTALE
    assert b.query() == before                   # nothing changed
    with pytest.raises(ValueError):
        b.explain("link", d)
    with pytest.raises(TypeError):
        b.explain("attach", d, "tail")
    b.close()
    with pytest.raises(ValueError):
        b.explain("attach", d)


class RandomOps:
    """Random attach/detach requests (raw flags or anchors) over a few programs and links."""

    def __init__(self, m, dialect, seed, ints=True):
        # ints=False: no raw ints as relatives. With the flags of the other kind an int names
        # whatever object has that number elsewhere in the process, which a replay in a
        # fresh process cannot reproduce (the differential harness's disambiguate()).
        self.m, self.dialect, self.rng, self.ints = m, dialect, random.Random(seed), ints
        self.F = flags_of(m, dialect)
        self.progs = progs(m, 8)
        self.links = []

    def relative(self):
        r = self.rng
        choices = [None, None, r.choice(self.progs), 0, 0xFFFFFFF0]
        if self.ints:
            choices.append(r.choice(self.progs).id)
        if self.links:
            link = r.choice(self.links)
            choices += [link, link.id] if self.ints else [link]
        return r.choice(choices)

    def flags(self):
        r, F = self.rng, self.F
        bits = r.choice([0, 0, F.BEFORE, F.AFTER, F.REPLACE, F.BEFORE | F.AFTER])
        if r.random() < 0.3:
            bits |= F.ID
        if r.random() < 0.15:
            bits |= F.LINK
        if self.dialect == "v2" and r.random() < 0.2:
            bits |= r.choice([F.FIRST, F.LAST])
        return int(bits)

    def anchor(self, b):
        r = self.rng
        p = r.choice(self.progs)
        made = [Head(), Tail(), Before(p), After(p), Replace(p), Before(prog_id=p.id)]
        if self.links:
            made += [After(r.choice(self.links)), Before(link_id=r.choice(self.links).id)]
        return r.choice(made)

    def request(self, b):
        """(op, kwargs) for explain/attach/detach."""
        r = self.rng
        op = r.choice(["attach", "attach", "detach"])
        rev = r.choice([0, 0, 0, b.revision, b.revision + 1, max(1, b.revision - 1)])
        prog = r.choice(self.progs)
        if op == "detach" and r.random() < 0.5:
            prog = None
        kw = {"prog": prog, "expected_revision": rev}
        if r.random() < 0.4:
            kw["flags"] = self.anchor(b)
            if isinstance(kw["flags"], Replace) and op == "detach":
                kw["flags"] = Tail()
        else:
            kw["flags"] = self.flags()
            kw["relative"] = self.relative()
            if op == "attach":
                kw["replace"] = r.choice([None, r.choice(self.progs)])
        return op, kw

    def churn(self, b):
        """Now and then: a link, a link detached or closed, a program detached, so the chain
        has links and holes; and keep it short."""
        r = self.rng
        x = r.random()
        try:
            if x < 0.08:
                self.links.append(b.link(r.choice(self.progs)))
            elif x < 0.12 and self.links:
                r.choice(self.links).detach()
            elif x < 0.15 and self.links:
                r.choice(self.links).close()
            elif len(b) > 5:
                b.detach(None, Head())
        except OSError:
            pass


def apply(b, op, kw):
    if op == "attach":
        b.attach(**kw)
    else:
        b.detach(**kw)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_explain_agrees_with_the_operation(api_backend, dialect):
    """500 random requests: explain says what the operation then does, or how it fails."""
    m = api_backend
    gen = RandomOps(m, dialect, seed={"upstream": 1, "v2": 2}[dialect])
    b = m.Bundle(dialect)
    seen = {"insert": 0, "replace": 0, "remove": 0, "error": 0}
    for _ in range(500):
        gen.churn(b)
        op, kw = gen.request(b)
        before = b.query()
        try:
            ex = b.explain(op, **kw)
        except (TypeError, ValueError) as e:
            with pytest.raises(type(e)):
                apply(b, op, kw)
            continue
        assert b.query() == before, "explain changed the chain"
        old = list(before.prog_ids)
        if not ex.ok:
            seen["error"] += 1
            with pytest.raises(OSError) as info:
                apply(b, op, kw)
            assert info.value.errno == ex.error.errno
            assert type(info.value) is type(ex.error)
            assert b.query() == before
            continue
        seen[ex.action] += 1
        apply(b, op, kw)
        new = list(b.query().prog_ids)
        i = ex.index
        if ex.action == "insert":
            assert new == old[:i] + [kw["prog"].id] + old[i:]
        elif ex.action == "replace":
            assert new == old[:i] + [kw["prog"].id] + old[i + 1:]
        else:
            assert new == old[:i] + old[i + 1:]
    assert all(seen.values()), seen
    b.close()


# ------------------------------------------------------------------------------- transactions

@pytest.mark.parametrize("dialect", DIALECTS)
def test_transaction_one_step(api_backend, dialect):
    m = api_backend
    b = m.Bundle(dialect)
    a, c, d, e = progs(m, 4)
    b.attach(a)
    rev = b.revision
    with b.transaction(expected_revision=rev) as tx:
        tx.attach(c, Head())
        tx.attach(d, After(c))                    # sees c, which only the transaction has
        tx.detach(a)
        tx.attach(e, Before(d), expected_revision=rev)   # the revision it began at
        assert [p.id for p in tx.programs()] == [c.id, e.id, d.id] and len(tx) == 3
        assert ids(b) == [a.id] and b.revision == rev    # nothing visible yet
    assert ids(b) == [c.id, e.id, d.id]
    assert b.revision == rev + 1                  # one revision step
    with pytest.raises(ValueError):
        tx.attach(a)
    with pytest.raises(ValueError):
        tx.commit()
    b.close()


def test_transaction_op_errors_and_staged_revision(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    b.attach(a)
    rev = b.revision
    tx = b.transaction()
    tx.attach(c)
    e = errno_of(tx.attach, d, Tail(), expected_revision=rev + 1)
    assert type(e) is mprog.StaleRevision and e.anchor == Tail() and e.revision == rev
    e = errno_of(tx.attach, c, Head())
    assert type(e) is mprog.AlreadyAttached and e.op == "attach"
    e = errno_of(tx.detach, d)
    assert type(e) is mprog.NotFound and e.op == "detach"
    assert len(tx) == 2                            # failed ops staged nothing
    tx.commit()
    assert ids(b) == [a.id, c.id] and b.revision == rev + 1
    b.close()


def test_transaction_all_or_nothing(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    b.attach(a)
    before = b.query()
    calls = []
    b.watch(lambda old, new: calls.append(new))
    with pytest.raises(mprog.AlreadyAttached):
        with b.transaction() as tx:
            tx.attach(c)
            tx.attach(d, Head())
            tx.attach(a)                           # fails: the whole block is discarded
    assert b.query() == before and calls == []
    with pytest.raises(RuntimeError):
        with b.transaction() as tx:
            tx.detach(a)
            raise RuntimeError("changed my mind")
    assert b.query() == before and calls == []
    tx = b.transaction()
    tx.attach(c)
    tx.discard()
    with pytest.raises(ValueError):
        tx.commit()
    assert b.query() == before and calls == []
    b.close()


def test_transaction_stale(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    b.attach(a)
    rev = b.revision
    tx = b.transaction()
    tx.attach(c)
    b.attach(d)                                    # a competing writer
    e = errno_of(tx.commit)
    assert type(e) is mprog.StaleRevision and e.errno == E.ESTALE and e.op == "transaction"
    assert ids(b) == [a.id, d.id] and b.revision == rev + 1
    tx.discard()
    tx = b.transaction(expected_revision=rev)      # stale from the start
    tx.attach(c)
    e = errno_of(tx.commit)
    assert type(e) is mprog.StaleRevision
    assert ids(b) == [a.id, d.id] and b.revision == rev + 1
    b.close()


def test_a_stale_transaction_says_what_happened(api_backend):
    """Made without expected_revision, it is stale because the chain changed, not because of an
    expected revision 0 (which means "no check")."""
    m = api_backend
    b = m.Bundle()
    b.attach(m.Program())
    tx = b.transaction()
    tx.attach(m.Program())
    b.attach(m.Program())                          # revision 2 -> 3
    message = str(errno_of(tx.commit))
    assert "expected revision 0" not in message
    assert "changed since revision 2" in message and "3" in message
    b.close()


def test_transaction_empty_and_emptying(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c = progs(m, 2)
    b.attach(a)
    b.attach(c)
    rev = b.revision
    calls = []
    b.watch(lambda old, new: calls.append((old.revision, new.revision)))
    with b.transaction(expected_revision=rev) as tx:
        pass
    assert b.revision == rev and calls == []      # nothing to commit
    with b.transaction() as tx:
        tx.detach(a)
        tx.detach(c)
        assert len(tx) == 0
        e = errno_of(tx.detach, None, Tail())
        assert e.errno == E.ENOENT                # the staged chain is empty
    assert len(b) == 0 and b.revision == 1 and calls == [(rev, 1)]
    b.close()


def test_transaction_leaves_links_alone(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    link = b.link(a)
    with b.transaction() as tx:
        assert type(errno_of(tx.detach, a)) is mprog.Busy
        tx.attach(c, Before(link))
        tx.attach(d, Replace(c))
    assert b.query().prog_ids == (d.id, a.id) and b.query().link_ids == (0, link.id)
    assert link.attached
    link.close()
    assert ids(b) == [d.id]
    b.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_transaction_matches_one_by_one(api_backend, dialect):
    """Random ops in a transaction give each op the errno it gets applied one by one, and
    the same final chain, in one revision step."""
    m = api_backend
    rng = random.Random(11)
    F = flags_of(m, dialect)
    ps = progs(m, 6)
    for _ in range(60):
        staged, direct = m.Bundle(dialect), m.Bundle(dialect)
        for p in rng.sample(ps, 3):
            staged.attach(p)
            direct.attach(p)
        rev = staged.revision
        tx = staged.transaction()
        done = 0
        for _ in range(rng.randrange(1, 7)):
            op = rng.choice(["attach", "detach"])
            kw = {"prog": rng.choice(ps + [None] if op == "detach" else ps)}
            if rng.random() < 0.5:
                kw["flags"] = rng.choice([Head(), Tail(), Before(rng.choice(ps)),
                                          After(rng.choice(ps))])
            else:
                kw["flags"] = int(rng.choice([0, F.BEFORE, F.AFTER]))
                kw["relative"] = rng.choice([None, rng.choice(ps)])
            got = []
            for target in (tx, direct):
                try:
                    getattr(target, op)(**kw)
                    got.append(None)
                except OSError as e:
                    got.append(e.errno)
            assert got[0] == got[1], (op, kw)
            done += got[0] is None
            assert [p.id for p in tx.programs()] == ids(direct)
        tx.commit()
        assert ids(staged) == ids(direct)
        assert staged.revision == (rev if not done else rev + 1 if len(staged) else 1)
        staged.close()
        direct.close()


# ------------------------------------------------------------------------------- retry

def test_retry_with_a_competing_writer(api_backend):
    m = api_backend
    b = m.Bundle()
    a, mine = progs(m, 2)
    b.attach(a)
    rivals = progs(m, 3)
    attempts, sleeps = [], []

    def plan(state):
        attempts.append(state.revision)
        anchor = Before(prog_id=state.prog_ids[-1])  # planned from what was read
        if len(attempts) <= len(rivals):
            b.attach(rivals[len(attempts) - 1])       # someone else got there first
        with b.transaction(expected_revision=state.revision) as tx:
            tx.attach(mine, anchor)
        return "done"

    assert mprog.retry(b, plan, sleep=sleeps.append, rng=random.Random(1)) == "done"
    assert attempts == [2, 3, 4, 5]
    assert len(sleeps) == 3 and all(s > 0 for s in sleeps)
    assert ids(b) == [a.id, rivals[0].id, rivals[1].id, mine.id, rivals[2].id]
    assert b.revision == 6


def test_retry_gives_up(api_backend):
    m = api_backend
    b = m.Bundle()
    b.attach(m.Program())
    calls = []

    def plan(state):
        calls.append(state.revision)
        b.attach(m.Program())                      # always a competing change
        b.attach(m.Program(), expected_revision=state.revision)

    with pytest.raises(mprog.StaleRevision):
        mprog.retry(b, plan, attempts=3, sleep=lambda s: None)
    assert calls == [2, 3, 4] and len(b) == 4
    with pytest.raises(ValueError):
        mprog.retry(b, plan, attempts=0)
    b.close()


# ------------------------------------------------------------------------------- watch

def test_watch_every_committed_change(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d, e = progs(m, 4)
    seen = []

    @b.watch
    def changed(old, new):
        seen.append((old.prog_ids, old.revision, new.prog_ids, new.revision))

    assert callable(changed)
    b.attach(a)
    link = b.link(c, Head())
    link.update(d)
    link.update(d)                                 # the same program: no change
    with pytest.raises(mprog.AlreadyAttached):
        b.attach(a)                                # a failure: no change
    b.explain("attach", e)                         # a dry run: no change
    with b.transaction() as tx:
        tx.attach(e)
        tx.detach(a)
    link.detach()
    link.detach()                                  # already detached: no change
    link.close()                                   # detached: no change
    x, y = a.id, d.id
    assert seen == [
        ((), 1, (x,), 2),
        ((x,), 2, (c.id, x), 3),
        ((c.id, x), 3, (y, x), 4),
        ((y, x), 4, (y, e.id), 5),
        ((y, e.id), 5, (e.id,), 6),
    ]
    b.unwatch(changed)
    b.attach(a)
    assert len(seen) == 5
    with pytest.raises(ValueError):
        b.unwatch(changed)
    b.close()


def test_watch_link_close_and_bundle_close(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c = progs(m, 2)
    b.attach(a)
    link = b.link(c)
    seen, also = [], []
    b.watch(lambda old, new: seen.append((old.count, new.count, new.revision)))
    b.watch(lambda old, new: also.append(new.link_ids))
    link.close()                                   # attached: its release is a change
    b.close()                                      # let go of what it held: a change
    assert seen == [(2, 1, 4), (1, 0, 1)]
    assert also == [(0,), ()]
    b.close()
    assert len(seen) == 2


def test_watch_unwatch_from_inside(api_backend):
    m = api_backend
    b = m.Bundle()
    seen = []

    def once(old, new):
        seen.append(new.revision)
        b.unwatch(once)

    b.watch(once)
    b.attach(m.Program())
    b.attach(m.Program())
    assert seen == [2]
    b.close()


# ------------------------------------------------------------------------------- links

def test_link_context_manager_and_keep(api_backend):
    m = api_backend
    b = m.Bundle()
    a, c, d = progs(m, 3)
    with b.link(a, Tail()) as link:
        assert link.attached and ids(b) == [a.id]
    assert link.closed and not link.attached and len(b) == 0
    with b.link(c).keep() as kept:
        pass
    assert kept.attached and not kept.closed and ids(b) == [c.id]
    with pytest.raises(RuntimeError):
        with b.link(d) as link:
            raise RuntimeError
    assert link.closed and ids(b) == [c.id]
    b.close()                                      # the owner ends: the kept link detaches
    assert not kept.attached and not kept.closed
    kept.close()


# ------------------------------------------------------ closed bundles and raising watchers

@pytest.mark.parametrize("name", ["core", "model"])
def test_commit_into_closed_bundle_refused(name):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    p = m.Program()
    tx = b.transaction()
    tx.attach(p)
    b.close()
    with pytest.raises(ValueError):
        tx.commit()


@pytest.mark.parametrize("name", ["core", "model"])
def test_transaction_on_closed_bundle(name):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    b.close()
    with pytest.raises(ValueError):
        b.transaction()


@pytest.fixture
def unraisable(monkeypatch):
    """What sys.unraisablehook received: where a raising watcher's exception goes."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_value))
    return seen


def _bad(old, new):
    raise RuntimeError("watcher failed")


@pytest.mark.parametrize("name", ["core", "model"])
def test_a_raising_watcher_neither_fails_the_change_nor_silences_the_others(name, unraisable):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    p = m.Program()
    heard = []
    b.watch(_bad)
    b.watch(lambda old, new: heard.append(new.count))
    b.attach(p)                                   # committed: no exception here
    assert len(b) == 1 and heard == [1]
    assert [str(e) for e in unraisable] == ["watcher failed"]
    b.close()                                     # closes fully, watchers told once more
    assert heard == [1, 0] and len(unraisable) == 2
    with pytest.raises(ValueError):
        len(b)


@pytest.mark.parametrize("name", ["core", "model"])
def test_a_watcher_told_of_close_finds_the_bundle_closed(name):
    """close() tells the watchers of the freed chain once the bundle is closed: one that
    queries or attaches then is refused (ValueError), and nothing is taken in."""
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    p, q = m.Program(), m.Program()
    b.attach(p)
    b.query()  # an answer kept: not to be handed out once closed
    seen = []

    def watcher(old, new):
        seen.append((old.count, new.revision, new.count))
        for call in (b.query, lambda: b.attach(q), lambda: len(b)):
            try:
                call()
            except ValueError:
                seen.append("refused")

    b.watch(watcher)
    b.close()
    assert seen == [(1, 1, 0), "refused", "refused", "refused"]
    with pytest.raises(ValueError):
        b.query()
    assert not q.closed
    q.close()
    p.close()


@pytest.mark.parametrize("name", ["core", "model"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_a_watcher_raising_a_base_exception_is_reported_like_any(name, exc, unraisable):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    p = m.Program()
    heard = []

    def stop(old, new):
        raise exc("stop")

    b.watch(stop)
    b.watch(lambda old, new: heard.append(new.count))
    b.attach(p)                                   # committed, and the call says so
    assert len(b) == 1 and heard == [1]
    assert [type(e) for e in unraisable] == [exc]
    b.close()
    assert heard == [1, 0] and [type(e) for e in unraisable] == [exc, exc]


@pytest.mark.parametrize("name", ["core", "model"])
def test_a_raising_watcher_reaches_the_default_unraisable_hook(name, capsys, monkeypatch):
    """With Python's own sys.unraisablehook (it takes only its own argument type; pytest
    replaces it with one that takes anything), the change still succeeds, the later watchers
    are told and the exception is printed."""
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    heard = []
    b.watch(_bad)
    b.watch(lambda old, new: heard.append(new.count))
    b.attach(m.Program())
    assert heard == [1] and len(b) == 1
    assert "watcher failed" in capsys.readouterr().err
    b.close()


@pytest.mark.parametrize("name", ["core", "model"])
def test_link_update_and_close_with_a_raising_watcher(name, unraisable):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    p = m.Program(name="p")
    link = b.link(p)
    b.watch(_bad)
    link.update(m.Program(name="q"))              # the only reference to q is the chain's
    gc.collect()
    assert [x.name for x in b] == ["q"] and link.prog.name == "q"
    link.close()
    assert link.closed and not link.attached and len(b) == 0
    assert len(unraisable) == 2


def test_dropping_a_link_or_bundle_with_a_raising_watcher_does_not_abort(unraisable):
    b = mprog.Bundle()
    b.attach(mprog.Program())
    b.link(mprog.Program())                       # dropped at once: the core releases it
    b.watch(_bad)
    b.link(mprog.Program())
    gc.collect()
    assert len(b) == 1 and len(unraisable) == 2   # its create, then its release
    del b
    gc.collect()
    assert len(unraisable) == 3                   # the bundle's close told the watcher


@pytest.mark.parametrize("name", ["core", "model"])
def test_transaction_keeps_staged_temporaries_alive(name):
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    tx = b.transaction()
    tx.attach(m.Program(name="tmp"))              # no other reference
    gc.collect()
    others = [m.Program(name=f"x{i}") for i in range(50)]  # would reuse freed memory
    assert [p.name for p in tx.programs()] == ["tmp"]
    tx.commit()
    assert [p.name for p in b] == ["tmp"] and others


@pytest.mark.parametrize("name", ["core", "model"])
def test_transaction_sees_a_chain_emptied_and_refilled_as_changed(name):
    """The revision starts again at 1 when a chain is freed; commit must not be fooled."""
    m = mprog if name == "core" else mprog.model
    b = m.Bundle()
    a, c, d = m.Program(), m.Program(), m.Program()
    b.attach(a)
    tx = b.transaction()
    tx.attach(c)
    b.detach(a)                                   # freed: revision 1
    b.attach(d)                                   # revision 2 again, as when tx began
    with pytest.raises(mprog.StaleRevision):
        tx.commit()
    assert [p.id for p in b] == [d.id]


# ------------------------------------------------------------------------------- kernel

def test_kernel_refuses_what_is_off_its_abi():
    import mprog.kernel as k
    ok, why = k.available()
    if not ok:
        pytest.skip(f"live kernel backend unavailable: {why}")
    with k.Bundle() as b:
        for call in (lambda: b.explain("attach"), lambda: b.watch(print),
                     lambda: b.unwatch(print), lambda: b.transaction()):
            with pytest.raises(NotImplementedError, match="off the kernel's ABI"):
                call()
    k.assert_nothing_left()


# ------------------------------------------------------------------------------- traces

def _session(m, rec):
    """A little of everything, through a recorder."""
    a, c, d = rec.program("a"), rec.program("c"), rec.program("d")
    rec.attach(a)
    rec.attach(c, Before(a))
    with rec.link(d, After(a)) as link:
        with pytest.raises(mprog.AlreadyAttached):
            rec.attach(c)
        rec.query()
        with pytest.raises(mprog.QueryTooSmall):
            rec.query(1)
        e = rec.program("e")
        rec.attach(e, After(link))
        link.update(rec.program("f"))
    rec.detach(None, Head(), expected_revision=rec.revision)
    with pytest.raises(mprog.StaleRevision):
        rec.detach(a, expected_revision=1)
    rec.attach(c, Before(prog_id=a.id))
    kept = rec.link(rec.program("g"), Tail()).keep()
    rec.attach(m.Program("made elsewhere"), Before(kept))
    kept.detach()
    with pytest.raises(mprog.LinkDetached):
        kept.update(a)
    rec.close_program(a)
    with pytest.raises(TypeError):
        rec.attach(e, "nowhere")                   # not an op at all: not recorded
    with pytest.raises(ValueError):
        rec.attach(e, expected_revision=-1)        # recorded: ["raise", "ValueError"]
    return rec.query()


@pytest.mark.parametrize("replay_on", ["core", "model"])
def test_record_load_replay(api_backend, replay_on, tmp_path):
    m = api_backend
    path = str(tmp_path / "session.jsonl")
    b = m.Bundle()
    with trace.record(b, path) as rec:
        final = _session(m, rec)
    lines = [json.loads(x) for x in open(path)]
    assert lines[0] == {"format": "mprog-record/1", "dialect": "upstream"}
    assert all("outcome" in x for x in lines[1:])
    assert lines[4] == {"op": "attach", "prog": 0, "flags": 0, "relative": None,
                        "replace": None, "expected_revision": {"kind": "zero"},
                        "outcome": ["ok", None]}
    assert {"err", "raise"} <= {x["outcome"][0] for x in lines[1:]}
    t = trace.load(path)
    assert t.dialect == "upstream" and len(t.ops) == len(lines) - 1
    assert t.outcomes == [x["outcome"] for x in lines[1:]]
    steps = trace.run(t, replay_on)
    assert [s.outcome for s in steps] == t.outcomes
    assert all(s.agrees for s in steps)
    # the same chain, by label: compare shapes (ids are each backend's own)
    last = steps[-1].chain
    assert last.count == final.count and last.revision == final.revision
    assert last.link_ids.count(0) == final.link_ids.count(0)
    b.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_record_random_session_replays(api_backend, dialect, tmp_path):
    """Record 300 random ops (raw flags, anchors, ids, links): replaying the file on the other
    backend gives every op the same outcome and the same chains."""
    m = api_backend
    other = "model" if m is mprog else "core"
    buf = io.StringIO()
    b = m.Bundle(dialect)
    rec = trace.record(b, buf)
    gen = RandomOps(m, dialect, seed=5, ints=False)
    gen.progs = [rec.program(f"p{i}") for i in range(8)]
    chains = []
    for _ in range(300):
        op, kw = gen.request(b)
        try:
            getattr(rec, op)(**kw)
        except (OSError, TypeError, ValueError):
            pass
        if gen.rng.random() < 0.1:
            try:
                gen.links.append(rec.link(gen.rng.choice(gen.progs)).link)
            except OSError:
                pass
        chains.append(b.query())
    path = tmp_path / "random.jsonl"
    path.write_text(buf.getvalue())
    t = trace.load(str(path))
    steps = trace.run(t, other)
    assert all(s.agrees for s in steps), [s for s in steps if not s.agrees][:1]
    assert {o[0] for o in t.outcomes} >= {"ok", "err"}
    # the chain after each op has the same revision and length on both
    mine = [(q.revision, q.count) for q in chains]
    assert [(s.chain.revision, s.chain.count) for s in steps][-1] == mine[-1]
    b.close()


def test_load_differential_traces(tmp_path):
    here = os.path.join(os.path.dirname(__file__), "traces")
    for name in sorted(os.listdir(here)):
        t = trace.load(os.path.join(here, name))
        data = json.load(open(os.path.join(here, name)))
        assert t.dialect == data["dialect"]
        assert t.ops == [s["op"] for s in data["steps"]]
        assert t.outcomes == [None] * len(t.ops)
    ops = [{"op": "new_prog", "as": 0},
           {"op": "attach", "prog": 0, "flags": 0, "expected_revision": {"kind": "zero"}}]
    bare = tmp_path / "ops.json"
    bare.write_text(json.dumps(ops))
    t = trace.load(str(bare))
    assert t.ops == ops
    steps = trace.run(t, "model")
    assert [s.outcome for s in steps] == [["ok", 0], ["ok", None]]
    assert steps[-1].chain.count == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"op": "fly"}]))
    with pytest.raises(ValueError):
        trace.load(str(bad))


def _recorded(tmp_path):
    path = tmp_path / "cli.jsonl"
    with mprog.Bundle() as b, trace.record(b, str(path)) as rec:
        a, c = rec.program("a"), rec.program("c")
        rec.attach(a)
        link = rec.link(c, Head())
        with pytest.raises(mprog.AlreadyAttached):
            rec.attach(a)
        link.close()
    return path


@pytest.mark.parametrize("backend_name", ["core", "model"])
def test_cli_show(tmp_path, capsys, backend_name):
    from mprog.__main__ import main
    path = _recorded(tmp_path)
    assert main(["show", str(path), "--backend", backend_name]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"6 ops, dialect upstream, backend {backend_name}"
    heads = [line for line in out if line[:4].strip().isdigit()]
    assert [h.split("->")[0].split(None, 1)[1].strip() for h in heads] == [
        "p0 = new_prog()", "p1 = new_prog()", "attach(p0, 0)", "l0 = link(p1, BEFORE)",
        "attach(p0, 0)", "l0.close()"]
    assert [h.split("->")[1].split("(")[0].strip() for h in heads] == [
        "ok 0", "ok 1", "ok", "ok 0", "err EEXIST", "ok"]
    # after the link: a table of two rows, the link's program first
    i = out.index(heads[3])
    assert out[i + 1].strip() == "revision 3, 2 program(s)"
    # rows by label, with the recording's names and ids, flags by name
    assert out[i + 3].split()[:2] == ["0", "p1"] and " l0 (id " in out[i + 3]
    assert out[i + 4].split()[:2] == ["1", "p0"] and " l0" not in out[i + 4]
    assert out[-3].strip() == "revision 4, 1 program(s)"
    assert out[-1].split()[:2] == ["0", "p0"] and " l0" not in out[-1]

    # an outcome that differs from the recording: exit 1, and said so
    lines = path.read_text().splitlines()
    doctored = json.loads(lines[5])
    doctored["outcome"] = ["ok", None]
    lines[5] = json.dumps(doctored)
    path.write_text("\n".join(lines) + "\n")
    assert main(["show", str(path), "--backend", backend_name]) == 1
    assert "DIFFERS from the recording" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "missing.jsonl")]) == 2


def test_cli_replay_accepts_recorded_traces(tmp_path, capsys):
    from mprog.__main__ import main
    path = _recorded(tmp_path)
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "6 ops, dialect upstream, backends core,model" in out
    assert out.rstrip().endswith("no divergence")
    assert main(["show", os.path.join(os.path.dirname(__file__), "traces",
                                      "v2-detach-after-last-no-program.json"),
                 "--backend", "model"]) == 0
    assert "dialect v2" in capsys.readouterr().out
