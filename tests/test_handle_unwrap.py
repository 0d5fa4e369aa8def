"""The binding reads the object behind a Program or Link handle from the instance itself
(``unwrap`` in cpp/python/objects.hpp): a Python subclass of Program is a Program, and an
instance whose ``__init__`` never ran (``Program.__new__(Program)``) is refused with a
TypeError, nothing changed: pybind11's caster would hand out storage it allocates for it and
never constructs."""
import pytest

import mprog


class NamedProgram(mprog.Program):
    """A user's subclass: not the binding's own type, so the caster reads it."""


def test_a_subclass_instance_is_a_program_everywhere():
    b = mprog.Bundle()
    plain = mprog.Program("plain")
    sub = NamedProgram("sub")
    try:
        b.attach(plain)
        b.attach(sub, mprog.Flag.BEFORE, relative=plain)
        assert [p.id for p in b] == [sub.id, plain.id]
        link = b.link(mprog.Program("linked"), mprog.Flag.AFTER, relative=sub)
        assert b.query().prog_ids[1] == link.prog.id
        b.detach(sub)
        assert [p.id for p in b] == [link.prog.id, plain.id]
        link.close()
    finally:
        b.close()


@pytest.mark.parametrize("cls", [mprog.Program, NamedProgram])
def test_an_uninitialized_program_is_refused_and_changes_nothing(cls):
    b = mprog.Bundle()
    p = mprog.Program("p")
    q = mprog.Program("q")
    try:
        b.attach(p)
        revision = b.revision
        ghost = cls.__new__(cls)
        calls = [lambda: b.attach(ghost), lambda: b.detach(ghost), lambda: b.link(ghost),
                 lambda: b.attach(q, mprog.Flag.BEFORE, relative=ghost),
                 lambda: b.attach(q, mprog.Flag.REPLACE, replace=ghost),
                 lambda: b.transaction().attach(ghost)]
        for call in calls:
            with pytest.raises(TypeError, match="never initialized"):
                call()
        assert b.revision == revision and [x.id for x in b] == [p.id]
    finally:
        b.close()
