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
