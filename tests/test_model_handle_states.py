"""The model's handle_states reads what its properties say, as the core's does: the full
snapshot reads every handle through it, so a field it read wrong would hide a change."""
from __future__ import annotations

from mprog import model


def _by_properties(progs, links, bundle):
    return ([p.closed for p in progs],
            [(link.attached, link.closed, link.prog.id) for link in links],
            None if bundle is None else [p.id for p in bundle])


def test_the_models_handle_states_read_what_its_properties_say() -> None:
    b = model.Bundle()
    progs = [model.Program(name=f"p{i}") for i in range(5)]
    links = []
    try:
        b.attach(progs[0])
        links = [b.link(progs[1]), b.link(progs[2]), b.link(progs[4])]
        links[0].detach()
        links[1].update(progs[3])
        links[2].close()
        progs[2].close()
        read = model.handle_states(progs, links, b)
        assert read == _by_properties(progs, links, b)
        assert read[0] == [False, False, True, False, False]
        assert [s[:2] for s in read[1]] == [(False, False), (True, False), (False, True)]
        assert read[2] == [progs[0].id, progs[3].id]
        assert model.handle_states([], links, None)[2] is None
        # a field changed behind the model's back (as a bug would) reads as its property says
        links[1]._link.attached = False
        progs[0]._closed = True
        assert model.handle_states(progs, links, b) == _by_properties(progs, links, b)
        links[1]._link.attached = True
        progs[0]._closed = False
    finally:
        for link in links:
            link.close()
        b.close()
