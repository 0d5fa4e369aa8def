"""``T.__new__(T)`` makes an instance of a bound class whose C++ object was never made.
pybind11's caster handed out raw storage for it, so any method or property read
uninitialized members (``Program.__new__(Program).fn`` crashed the interpreter). Every class
of ``mprog._core`` now refuses such an instance with a TypeError, as ``self`` and as an
argument (cpp/python/initialized.hpp); running ``__init__`` on it afterwards makes it whole."""
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
