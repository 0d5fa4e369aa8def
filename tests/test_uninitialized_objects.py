"""``T.__new__(T)`` makes an instance of a bound class whose C++ object was never made.
pybind11's caster handed out raw storage for it, so any method or property read
uninitialized members (``Program.__new__(Program).fn`` crashed the interpreter). Every class
of ``mprog._core`` now refuses such an instance with a TypeError, as ``self`` and as an
argument (cpp/python/initialized.hpp); running ``__init__`` on it afterwards makes it whole.

Every other backend (the model, the live kernel, the v2 oracle) answers the same, as an
argument and as the object itself (docs/protocol.md, Bad input, rule 14)."""
import pytest

import mprog
from mprog import _core

# (class, what is read or called on an instance that was never initialized)
CASES = [
    (mprog.Program, ["fn", "name", "id", "closed", "dialect", "close", "__repr__"]),
    (mprog.Link, ["id", "prog", "closed", "attached", "close", "detach", "__repr__"]),
    (mprog.Bundle, ["revision", "dialect", "closed", "close", "query", "__len__", "__iter__",
                    "__repr__"]),
    (mprog.Transaction, ["commit", "discard"]),
    (_core.Executor, ["programs", "links"]),
]


@pytest.mark.parametrize("cls,names", CASES, ids=[c.__name__ for c, _ in CASES])
def test_every_use_of_an_uninitialized_instance_is_a_type_error(cls, names):
    ghost = cls.__new__(cls)
    for name in names:
        with pytest.raises(TypeError, match="never initialized"):
            value = getattr(ghost, name)
            if callable(value):
                value()


def test_an_uninitialized_handle_is_refused_as_an_argument():
    b = mprog.Bundle()
    try:
        ghost = mprog.Program.__new__(mprog.Program)
        with pytest.raises(TypeError, match="never initialized"):
            b.attach(ghost)
        with pytest.raises(TypeError, match="never initialized"):
            mprog.Link.detach(mprog.Link.__new__(mprog.Link))
        assert b.revision == 1 and len(b) == 0
    finally:
        b.close()


def test_init_after_new_makes_it_whole():
    p = mprog.Program.__new__(mprog.Program)
    p.__init__("late")
    b = mprog.Bundle()
    try:
        b.attach(p)
        assert [q.id for q in b] == [p.id] and p.name == "late"
    finally:
        b.close()
        p.close()


# ---- every backend, as arguments (docs/protocol.md, Bad input, rule 14) ----

def _ghosts(module):
    return (module.Program.__new__(module.Program), module.Link.__new__(module.Link))


def test_every_backend_refuses_an_uninitialized_handle_as_an_argument(backend):
    """A Program or Link never initialized, in every place a handle goes: TypeError, nothing
    changed (the core, the model and the live kernel alike)."""
    _refused_everywhere(backend, "upstream")


def test_every_v2_backend_refuses_an_uninitialized_handle_as_an_argument(v2_rules_backend):
    """The same in v2 (the core, the model and the oracle)."""
    _refused_everywhere(v2_rules_backend, "v2")


def _refused_everywhere(backend, dialect):
    F = mprog.Flag
    b = backend.Bundle(dialect=dialect)
    p, q, r = (backend.Program(name) for name in "pqr")
    made = [b, p, q, r]
    try:
        b.attach(p)
        link = b.link(q)
        made.insert(0, link)
        prog, link_ghost = _ghosts(backend)
        calls = {
            "attach": lambda: b.attach(prog),
            "link": lambda: b.link(prog),
            "detach": lambda: b.detach(prog),
            "relative": lambda: b.attach(r, F.BEFORE, relative=prog),
            "relative link": lambda: b.attach(r, F.BEFORE | F.LINK, relative=link_ghost),
            "relative by id": lambda: b.attach(r, F.BEFORE | F.ID, relative=prog),
            "replace": lambda: b.attach(r, F.REPLACE, replace=prog),
            "detach relative": lambda: b.detach(None, F.AFTER, relative=prog),
            "update": lambda: link.update(prog),
            "update old_prog": lambda: link.update(r, F.REPLACE, old_prog=prog),
        }
        for what, call in calls.items():
            before = b.query()
            with pytest.raises(TypeError, match="never initialized"):
                call()
            after = b.query()
            assert (after.revision, after.prog_ids, after.link_ids) == (
                before.revision, before.prog_ids, before.link_ids), what
        assert link.prog.id == q.id
    finally:
        for obj in made:
            obj.close()


def test_every_cgroup_backend_refuses_an_uninitialized_program(cg):
    b = cg.bundle()
    (p,) = cg.programs(1)
    b.attach(p, mprog.CgroupFlag.ALLOW_MULTI)
    ghost, _ = _ghosts(cg.module)
    for call in (lambda: b.attach(ghost, mprog.CgroupFlag.ALLOW_MULTI), lambda: b.detach(ghost)):
        with pytest.raises(TypeError, match="never initialized"):
            call()
    assert list(b.query().prog_ids) == [p.id]


# ---- every backend, as the object itself (docs/protocol.md, Bad input, rule 14) ----

#: What is read or called on a handle never initialized, by class: every member the protocol
#: gives it, with arguments a real handle would take (a ghost must be refused for being one,
#: not for a missing argument), and the special uses (``repr``, ``len``, iteration, ``with``).
def _uses(module, dialect, real_prog):
    p = real_prog
    return {
        "Program": {
            "id": lambda g: g.id, "name": lambda g: g.name, "fn": lambda g: g.fn,
            "closed": lambda g: g.closed, "dialect": lambda g: g.dialect,
            "close()": lambda g: g.close(), "repr": repr,
        },
        "Link": {
            "id": lambda g: g.id, "prog": lambda g: g.prog, "attached": lambda g: g.attached,
            "closed": lambda g: g.closed, "close()": lambda g: g.close(),
            "detach()": lambda g: g.detach(), "update()": lambda g: g.update(p),
            "keep()": lambda g: g.keep(), "repr": repr, "with": _enter,
        },
        "Bundle": {
            "attach()": lambda g: g.attach(p), "link()": lambda g: g.link(p),
            "detach()": lambda g: g.detach(p), "query()": lambda g: g.query(),
            "revision": lambda g: g.revision, "dialect": lambda g: g.dialect,
            "closed": lambda g: g.closed, "close()": lambda g: g.close(),
            "programs()": lambda g: g.programs(), "run()": lambda g: g.run(None),
            "transaction()": lambda g: g.transaction(), "parent": lambda g: g.parent,
            "repr": repr, "len": len, "iter": lambda g: list(g), "with": _enter,
        },
    }


def _enter(ghost):
    with ghost:
        pass


def _refused_as_itself(module, dialect):
    real = module.Program("p", dialect="cgroup") if dialect == "cgroup" else module.Program("p")
    bundle = module.Bundle(dialect=dialect)  # its class: the cgroup dialect's may be its own
    classes = {"Program": type(real), "Link": module.Link, "Bundle": type(bundle)}
    refused, missed = [], []
    try:
        for what, uses in _uses(module, dialect, real).items():
            cls = classes[what]
            for use, call in uses.items():
                name = use.rstrip("()")
                if name.isidentifier() and name not in ("repr", "len", "iter") and not hasattr(
                        cls, name):
                    continue  # a member this backend's class does not have at all
                ghost = cls.__new__(cls)
                try:
                    call(ghost)
                except TypeError as e:
                    if "never initialized" in str(e):
                        refused.append(f"{what}.{use}")
                        continue
                    missed.append(f"{what}.{use}: TypeError: {e}")
                except Exception as e:  # noqa: BLE001 - reported below, every one
                    missed.append(f"{what}.{use}: {type(e).__name__}: {e}")
                else:
                    missed.append(f"{what}.{use}: no error")
    finally:
        bundle.close()
        real.close()
    assert not missed, missed
    assert len(refused) >= 15, refused  # (the test reached the members)


def test_every_backend_refuses_every_use_of_an_uninitialized_instance(backend):
    """``T.__new__(T)`` as the object itself, on the core, the model and the live kernel:
    every member, ``repr``, ``len``, iteration and ``with`` are TypeError ("never
    initialized"), as the core's binding has them."""
    _refused_as_itself(backend, "upstream")


def test_every_v2_backend_refuses_every_use_of_an_uninitialized_instance(v2_rules_backend):
    _refused_as_itself(v2_rules_backend, "v2")


def test_every_cgroup_backend_refuses_every_use_of_an_uninitialized_instance(cg):
    _refused_as_itself(cg.module, "cgroup")


def test_every_transaction_refuses_use_when_uninitialized(api_backend):
    """Transactions (the core's and the model's; the kernel has none)."""
    b = api_backend.Bundle()
    p = api_backend.Program("p")
    cls = type(b.transaction())
    try:
        for call in (lambda g: g.attach(p), lambda g: g.detach(p), lambda g: g.commit(),
                     lambda g: g.discard(), lambda g: g.programs(), len):
            with pytest.raises(TypeError, match="never initialized"):
                call(cls.__new__(cls))
    finally:
        b.close()
        p.close()


def test_dropping_an_uninitialized_instance_is_silent(backend, v2_rules_backend):
    """It holds nothing to release: no ResourceWarning, nothing sent to sys.unraisablehook
    (its ``__del__`` does not meet the refusal its members give)."""
    import gc
    import sys
    import warnings

    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for module in {backend, v2_rules_backend}:
                for cls in (module.Program, module.Link, module.Bundle):
                    ghost = cls.__new__(cls)
                    del ghost
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not unraisable, [u.exc_value for u in unraisable]
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# ---- in the fuzzer's vocabulary: ``unmade_use`` ----

def test_campaigns_use_instances_never_initialized_and_compare_them():
    """The generator draws ``unmade_use`` ops (bad input of their own kind), and every
    backend answers each with TypeError."""
    from misuse_helpers import drawn

    seen = set()
    for op, answers in drawn("unmade_use"):
        assert answers == {"core": ["raise", "TypeError"], "model": ["raise", "TypeError"]}, op
        seen.add((op["of"], op["use"]))
    assert len(seen) >= 10, seen


def test_a_campaign_finds_a_backend_that_lets_one_through(monkeypatch):
    """Planted: the model's Program.close() without its check (what it did before rule 14
    covered the object itself). A campaign with bad input finds it, at an ``unmade_use``."""
    import mprog.model
    from mprog.differential.campaign import run_campaign
    from mprog.model.handles import Program

    def close(self):
        self._closed = True

    monkeypatch.setattr(Program, "close", close)
    result = run_campaign({"core": mprog, "model": mprog.model}, traces=300, seed=3,
                          out=None, bad_input=40, minimize=False)
    assert result.divergences, "the planted fault went unnoticed"
    last = result.found[0].divergence.ops[-1]
    assert last == {"op": "unmade_use", "of": "Program", "use": "close()"}, last


@pytest.mark.parametrize("op", [
    {"op": "unmade_use", "of": "Program"},
    {"op": "unmade_use", "of": "Program", "use": "revision"},
    {"op": "unmade_use", "of": "Queue", "use": "id"},
    {"op": "unmade_use", "of": ["Program"], "use": "id"},
])
def test_a_malformed_unmade_use_is_refused(op):
    from mprog.ops.vocabulary import validate

    with pytest.raises(ValueError):
        validate(op)
