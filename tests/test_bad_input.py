"""Bad input, one answer: a catalogue of wrong calls, run on every backend.

Each case is one call with one bad argument (of the wrong type, None, out of range, closed,
another backend's object, unknown bits, ...) on a fixed world, and the outcome every backend
must give: an exception class (TypeError, ValueError) or the errno of an ``MprogError``, or
"ok". A call that fails must change nothing: the chain, its revision and every handle's state
are compared before and after. The rules behind the outcomes are docs/protocol.md's
("Bad input"); the kernel backend is the authority where the kernel sees the call.
"""
from __future__ import annotations

import errno
import importlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, List

import pytest

from mprog import anchors
from mprog.errors import MprogError

#: Where each backend's "another backend's objects" come from.
_FOREIGN = {"mprog": "mprog.model", "mprog.model": "mprog", "mprog.kernel": "mprog",
            "mprog.oracle": "mprog.model"}


@dataclass
class World:
    """The chain ``[p, q]``: p attached by program, q through the link ``l``; ``r`` free;
    ``cp``/``cl`` a closed program and a closed link; ``fp``/``fl`` another backend's."""

    m: Any
    b: Any
    p: Any
    q: Any
    r: Any
    l: Any
    cp: Any
    cl: Any
    fp: Any
    fl: Any
    dl: Any
    cb: Any
    F: Any
    closing: List[Any]

    def state(self):
        handles = (self.l, self.cl, self.fl, self.dl)
        return (self.b.query(), [(h.attached, h.closed) for h in handles],
                [h.closed for h in (self.p, self.q, self.r, self.cp)])

    def names(self):
        by_id = {h.id: n for n, h in (("p", self.p), ("q", self.q), ("r", self.r))}
        return [by_id.get(i, i) for i in self.b.query().prog_ids]


def build_world(m: Any, dialect: str = "upstream"):
    """The world on backend module ``m`` (a generator: closes everything after its yield)."""
    foreign = importlib.import_module(_FOREIGN[m.__name__])
    b = m.Bundle(dialect)
    p, q, r, cp, x, y = (m.Program(name=n) for n in ("p", "q", "r", "cp", "x", "y"))
    b.attach(p)
    l = b.link(q)
    cl = b.link(x)
    cl.close()
    dl = b.link(y)
    dl.detach()
    cp.close()
    cb = m.Bundle(dialect)
    cb.close()
    fb = foreign.Bundle()
    fp = foreign.Program(name="fp")
    fl = fb.link(foreign.Program(name="fq"))
    w = World(m, b, p, q, r, l, cp, cl, fp, fl, dl, cb, m.V2Flag if dialect == "v2" else m.Flag,
              [])
    yield w
    for h in (*w.closing, l, cl, dl, fl, fb, b, p, q, r, x, y, cp, fp):
        h.close()


@pytest.fixture
def world(backend):
    yield from build_world(backend)


# -- values --------------------------------------------------------------------------------

#: Values that are not handles at all, named; each is tried wherever a handle or an int goes.
JUNK = {
    "float": 1.5, "str": "x", "bytes": b"\x01", "list": [], "dict": {}, "object": object(),
}
#: Ints where a handle goes: 0 is "none" (fd 0), another u32 an fd that is no bpf object,
#: anything a u32 cannot hold is out of range.
INTS = {"zero": 0, "one": 1, "neg": -1, "u32": 1 << 32, "u64": 1 << 64, "true": True}
#: Handles, by the world's name.
HANDLES = {"none": None, "open link": "l", "closed link": "cl", "closed prog": "cp",
           "foreign prog": "fp", "foreign link": "fl", "bundle": "b"}


def value(w: World, name: str) -> Any:
    if name in JUNK:
        return JUNK[name]
    if name in INTS:
        return INTS[name]
    ref = HANDLES[name]
    return None if ref is None else getattr(w, ref)


ALL = [*HANDLES, *INTS, *JUNK]


@dataclass
class Case:
    id: str
    call: Callable[[World], Any]
    expect: str
    after: Any = None  # "ok" cases: the chain (by name) they leave


CASES: List[Case] = []


def case(id_: str, expect: str, after: Any = None):
    def register(call):
        CASES.append(Case(id_, call, expect, after))
        return call
    return register


def table(position: str, call: Callable[[World, Any], Any], outcomes: dict) -> None:
    """One case per value in ALL at one argument position; ``outcomes`` maps a value's name
    to its outcome (or ``(outcome, after)``), ``"*"`` covers the rest."""
    for name in ALL:
        got = outcomes.get(name, outcomes.get("*"))
        if got is None:
            continue
        expect, after = got if isinstance(got, tuple) else (got, None)
        CASES.append(Case(f"{position}[{name}]",
                          (lambda n: lambda w: call(w, value(w, n)))(name), expect, after))


def made(w: World, obj: Any) -> Any:
    w.closing.append(obj)
    return obj


# What every position shares: a value that is no handle and no int is a TypeError, an int a
# u32 cannot hold a ValueError (both before anything else); another backend's handle is no
# handle of this one.
TYPES = {n: "TypeError" for n in (*JUNK, "foreign prog", "foreign link", "bundle")}
HANDLE = {**TYPES, "neg": "ValueError", "u32": "ValueError", "u64": "ValueError"}
NOT_HANDLES = {n: "TypeError" for n in HANDLES}  # where an int is wanted
# Where a program is read by fd (attach, link, update's new program, REPLACE's replace and
# old program): closed is EBADF, an open handle of the other kind or an int (an fd that is
# no bpf object, 0 included) EINVAL.
PROGRAM = {**HANDLE, "none": "EINVAL", "open link": "EINVAL", "closed link": "EBADF",
           "closed prog": "EBADF", "zero": "EINVAL", "one": "EINVAL", "true": "EINVAL"}
CHAIN = ["p", "q"]
R_FIRST, R_AFTER_P, R_LAST = ["r", "p", "q"], ["p", "r", "q"], ["p", "q", "r"]

table("attach(prog)", lambda w, v: w.b.attach(v), PROGRAM)
table("link(prog)", lambda w, v: made(w, w.b.link(v)), PROGRAM)
# None and 0 name no program: detach then takes the last entry, q's link slot: EBUSY.
table("detach(prog)", lambda w, v: w.b.detach(v), {**PROGRAM, "none": "EBUSY", "zero": "EBUSY"})
table("attach(relative)", lambda w, v: w.b.attach(w.r, w.F.BEFORE, relative=v),
      {**PROGRAM, "none": ("ok", R_FIRST), "zero": ("ok", R_FIRST)})
table("attach(ID relative)", lambda w, v: w.b.attach(w.r, w.F.BEFORE | w.F.ID, relative=v),
      {**HANDLE, **{n: "ENOENT" for n in ("none", "open link", "closed link", "closed prog",
                                          "zero", "one", "true")}})
table("attach(LINK relative)", lambda w, v: w.b.attach(w.r, w.F.BEFORE | w.F.LINK, relative=v),
      {**PROGRAM, "open link": ("ok", R_AFTER_P), "closed prog": "EBADF"})
table("attach(REPLACE replace)", lambda w, v: w.b.attach(w.r, w.F.REPLACE, replace=v), PROGRAM)
# Without REPLACE the kernel never reads replace: only its Python type and range are checked.
table("attach(replace)", lambda w, v: w.b.attach(w.r, replace=v), {**HANDLE, "*": ("ok", R_LAST)})
FLAGS = {**TYPES, **NOT_HANDLES, "one": "EINVAL", "neg": "EINVAL", "u32": "EINVAL",
         "u64": "EINVAL", "true": "EINVAL"}
table("attach(flags)", lambda w, v: w.b.attach(w.r, v), {**FLAGS, "zero": ("ok", R_LAST)})
table("link(flags)", lambda w, v: made(w, w.b.link(w.r, v)), {**FLAGS, "zero": ("ok", R_LAST)})
table("detach(flags)", lambda w, v: w.b.detach(w.p, v), {**FLAGS, "zero": ("ok", ["q"])})
table("update(flags)", lambda w, v: w.l.update(w.r, v), {**FLAGS, "zero": ("ok", ["p", "r"])})
REVISION = {**TYPES, **NOT_HANDLES, "one": "ESTALE", "u32": "ESTALE", "true": "ESTALE",
            "neg": "ValueError", "u64": "ValueError"}
table("attach(expected_revision)", lambda w, v: w.b.attach(w.r, expected_revision=v),
      {**REVISION, "zero": ("ok", R_LAST)})
table("link(expected_revision)", lambda w, v: made(w, w.b.link(w.r, expected_revision=v)),
      {**REVISION, "zero": ("ok", R_LAST)})
table("detach(expected_revision)", lambda w, v: w.b.detach(w.p, expected_revision=v),
      {**REVISION, "zero": ("ok", ["q"])})
# count: None or any int >= 0 (more room than entries is fine, however large).
table("query(count)", lambda w, v: w.b.query(v),
      {**TYPES, **NOT_HANDLES, "none": ("ok", CHAIN), "zero": ("ok", CHAIN), "one": "ENOSPC",
       "true": "ENOSPC", "neg": "ValueError", "u32": ("ok", CHAIN), "u64": ("ok", CHAIN)})
table("update(new_prog)", lambda w, v: w.l.update(v), PROGRAM)
table("update(REPLACE old_prog)", lambda w, v: w.l.update(w.r, w.F.REPLACE, v), PROGRAM)
# Without REPLACE an old program is EINVAL, whatever it is; 0 (None) is none, as the kernel reads.
table("update(old_prog)", lambda w, v: w.l.update(w.r, 0, v),
      {**HANDLE, "*": "EINVAL", "none": ("ok", ["p", "r"]), "zero": ("ok", ["p", "r"])})
table("Program(name)", lambda w, v: made(w, w.m.Program(name=v)),
      {"*": "TypeError", "str": ("ok", CHAIN)})
table("Program(fn)", lambda w, v: made(w, w.m.Program(fn=v)),
      {"*": "TypeError", "none": ("ok", CHAIN)})
table("Bundle(dialect)", lambda w, v: made(w, w.m.Bundle(v)),
      {"*": "TypeError", "str": "ValueError"})

# -- a closed bundle: ValueError before anything else, like a closed file ---------------------
for name, call in {
    "attach": lambda w: w.cb.attach(w.r), "attach(bad type)": lambda w: w.cb.attach("x"),
    "attach(bad flags)": lambda w: w.cb.attach(w.r, 1 << 1),
    "link": lambda w: made(w, w.cb.link(w.r)), "link(bad type)": lambda w: w.cb.link(1.5),
    "detach": lambda w: w.cb.detach(), "detach(prog)": lambda w: w.cb.detach(w.p),
    "detach(bad type)": lambda w: w.cb.detach("x"), "query": lambda w: w.cb.query(),
    "query(bad count)": lambda w: w.cb.query(-1), "revision": lambda w: w.cb.revision,
    "len": lambda w: len(w.cb), "list": lambda w: list(w.cb), "run": lambda w: w.cb.run(None),
}.items():
    CASES.append(Case(f"closed bundle: {name}", call, "ValueError"))
CASES.append(Case("closed bundle: close again", lambda w: w.cb.close(), "ok", CHAIN))
CASES.append(Case("closed bundle: dialect", lambda w: w.cb.dialect, "ok", CHAIN))

# -- links: closed (EBADF after the type and flag checks), detached (ENOLINK), ...------------
for name, (call, expect) in {
    "closed: update": (lambda w: w.cl.update(w.r), "EBADF"),
    "closed: update(bad type)": (lambda w: w.cl.update("x"), "TypeError"),
    "closed: update(unknown flag)": (lambda w: w.cl.update(w.r, 1 << 1), "EINVAL"),
    "closed: update(closed prog)": (lambda w: w.cl.update(w.cp), "EBADF"),
    "closed: detach": (lambda w: w.cl.detach(), "EBADF"),
    "detached: update": (lambda w: w.dl.update(w.r), "ENOLINK"),
    "detached: update(REPLACE own)": (lambda w: w.dl.update(w.r, w.F.REPLACE, w.dl.prog),
                                      "ENOLINK"),
    "detached: update(closed prog)": (lambda w: w.dl.update(w.cp), "EBADF"),
    "attached: update(REPLACE wrong old)": (lambda w: w.l.update(w.r, w.F.REPLACE, w.p),
                                            "EPERM"),
    "attached: update(prog in chain)": (lambda w: w.l.update(w.p), "EEXIST"),
    "attached: update(BEFORE)": (lambda w: w.l.update(w.r, w.F.BEFORE), "EINVAL"),
    "foreign: update(own backend's prog)": (lambda w: w.fl.update(w.r), "TypeError"),
}.items():
    CASES.append(Case(f"link {name}", call, expect))
for name, call in {
    "closed: close": lambda w: w.cl.close(), "detached: detach": lambda w: w.dl.detach(),
    "attached: update(own prog)": lambda w: w.l.update(w.q),
}.items():
    CASES.append(Case(f"link {name}", call, "ok", CHAIN))

# -- flag bits that no rule knows --------------------------------------------------------------
for name, (call, expect, after) in {
    "attach(bit 1)": (lambda w: w.b.attach(w.r, 1 << 1), "EINVAL", None),
    "attach(bit 31)": (lambda w: w.b.attach(w.r, 1 << 31), "EINVAL", None),
    "attach(AFTER|bit 6)": (lambda w: w.b.attach(w.r, w.F.AFTER | 1 << 6), "EINVAL", None),
    "attach(v2 LAST)": (lambda w: w.b.attach(w.r, mprog_V2Flag(w).LAST), "EINVAL", None),
    "detach(bit 12)": (lambda w: w.b.detach(w.p, 1 << 12), "EINVAL", None),
    "link(bit 0)": (lambda w: made(w, w.b.link(w.r, 1 << 0)), "EINVAL", None),
    # The kernel's BPF_LINK_CREATE does not mask unknown bits (docs/kernel-behaviour.md).
    "link(AFTER|bit 6)": (lambda w: made(w, w.b.link(w.r, w.F.AFTER | 1 << 6)), "ok", R_LAST),
    "link(AFTER|bit 32)": (lambda w: made(w, w.b.link(w.r, w.F.AFTER | 1 << 32)), "EINVAL",
                           None),
    "update(bit 3)": (lambda w: w.l.update(w.r, 1 << 3), "EINVAL", None),
}.items():
    CASES.append(Case(f"flags {name}", call, expect, after))


def mprog_V2Flag(w: World) -> Any:
    return w.m.V2Flag


# -- anchors holding bad values -----------------------------------------------------------------
for name, (call, expect) in {
    "Before(foreign prog)": (lambda w: w.b.attach(w.r, anchors.Before(w.fp)), "TypeError"),
    "Before(closed prog)": (lambda w: w.b.attach(w.r, anchors.Before(w.cp)), "EBADF"),
    "After(closed link)": (lambda w: w.b.attach(w.r, anchors.After(w.cl)), "EBADF"),
    "Before(str)": (lambda w: w.b.attach(w.r, anchors.Before("x")), "TypeError"),
    "Before(prog_id=2**32)": (lambda w: w.b.attach(w.r, anchors.Before(prog_id=1 << 32)),
                              "ValueError"),
    "Replace(link)": (lambda w: w.b.attach(w.r, anchors.Replace(w.l)), "EINVAL"),
    "Head(first=True)": (lambda w: w.b.attach(w.r, anchors.Head(first=True)), "ValueError"),
    "detach After(str)": (lambda w: w.b.detach(None, anchors.After("x")), "TypeError"),
}.items():
    CASES.append(Case(f"anchor {name}", call, expect))


def outcome(w: World, c: Case) -> str:
    try:
        c.call(w)
    except MprogError as e:
        return errno.errorcode[e.errno]
    except Exception as e:  # noqa: BLE001 - the class is the outcome
        return type(e).__name__
    return "ok"


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(world, c):
    """One call, one outcome on every backend; a failure changes nothing at all."""
    before = world.state()
    got = outcome(world, c)
    assert got == c.expect
    if c.expect == "ok":
        assert world.names() == c.after
    else:
        assert world.state() == before


def test_the_catalogue_is_large_and_says_each_outcome():
    assert len(CASES) >= 190
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.expect in ("ok", "TypeError", "ValueError") or c.expect in errno.errorcode.values()
               for c in CASES)
    assert all((c.after is not None) == (c.expect == "ok") for c in CASES)


# -- what a program's fn returns to run(): a C int, or the program is named --------------------
VERDICTS = {
    "None": (None, "TypeError"), "float": (1.5, "TypeError"), "str": ("2", "TypeError"),
    "bytes": (b"", "TypeError"), "list": ([], "TypeError"), "2**31": (1 << 31, "ValueError"),
    "-2**31-1": (-(1 << 31) - 1, "ValueError"), "2**64": (1 << 64, "ValueError"),
    "2**31-1": ((1 << 31) - 1, "ok"), "-2**31": (-(1 << 31), "ok"), "True": (True, "ok"),
}


@pytest.mark.parametrize("name", VERDICTS)
def test_run_takes_an_int_verdict(backend, name):
    verdict, expect = VERDICTS[name]
    with backend.Bundle() as b:
        p = backend.Program(name="judge", fn=lambda ctx: verdict)
        b.attach(p)
        if expect == "ok":
            got = b.run(None)
            assert got == verdict and type(got) is int
        else:
            with pytest.raises({"TypeError": TypeError, "ValueError": ValueError}[expect]) as e:
                b.run(None)
            assert f"program {p.id} ('judge')" in str(e.value)
        p.close()


def test_run_without_a_context_passes_none(backend):
    # run(ctx=None): the same signature everywhere (the core's took no argument, the model and
    # the kernel backend raised TypeError without one). The kernel runs no v2 chain.
    dialects = ["upstream", "cgroup"] + (["v2"] if backend.__name__ != "mprog.kernel" else [])
    for dialect in dialects:
        seen = []
        with backend.Bundle(dialect) as b:
            p = backend.Program("judge", lambda ctx: seen.append(ctx) or 1, dialect=dialect)
            b.attach(p)
            assert b.run() == b.run(ctx=None) == b.run(None) == 1
            assert seen == [None, None, None], dialect
            p.close()


def test_a_raising_fn_propagates(backend):
    def boom(ctx):
        raise KeyError("boom")
    with backend.Bundle() as b:
        p = backend.Program(name="boom", fn=boom)
        b.attach(p)
        with pytest.raises(KeyError):
            b.run(None)
        p.close()


# -- the differential fuzzer finds a bad-input disagreement by itself ------------------------

def test_a_campaign_with_bad_input_finds_no_disagreement(tmp_path, _expedited_rcu):
    """Random traces where 30% of the ops carry one bad argument (mprog.ops' bad values), on
    core, model and the live kernel, every state compared after every step."""
    import mprog
    import mprog.kernel
    import mprog.model
    from mprog.differential import run_campaign
    modules = {"core": mprog, "model": mprog.model, "kernel": mprog.kernel}
    ok, why = mprog.kernel.available()
    if not ok:
        pytest.skip(f"live kernel backend unavailable: {why}")
    result = run_campaign(modules, "upstream", traces=120, seed=20261201, trace_len=40,
                          out=str(tmp_path), minimize_seconds=20, full_every=1, bad_input=30)
    assert result.traces == 120 and result.ops >= 120 * 30
    reports = "\n\n".join(f"seed {f.seed}: {f.path}\n{f.divergence.report()}"
                          for f in result.found)
    assert result.divergences == 0, reports
    assert not result.cleanup_problems, result.cleanup_problems


# -- the Python API's extensions (core and model) take arguments by the same rules -------------

@pytest.mark.parametrize("name", [n for n in ALL if PROGRAM.get(n, "ok") != "ok"])
def test_transactions_and_dry_runs_read_a_program_by_the_same_rules(api_backend, name):
    """``tx.attach(v)`` raises, and ``b.explain("attach", v)`` reports, what ``b.attach(v)``
    raises (docs/protocol.md, "Bad input", rules 3 and 4)."""
    for w in build_world(api_backend):
        expect = PROGRAM[name]
        tx = w.b.transaction()
        assert outcome(w, Case("tx", lambda w: tx.attach(value(w, name)), expect)) == expect
        tx.discard()
        c = Case("explain", lambda w: w.b.explain("attach", value(w, name)), expect)
        if expect in ("TypeError", "ValueError"):
            assert outcome(w, c) == expect
        else:
            refused = w.b.explain("attach", value(w, name))
            assert not refused.ok and errno.errorcode[refused.error.errno] == expect
