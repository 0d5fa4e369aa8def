"""The core and the model keep query()'s answer between changes (the model, after an append,
builds the next one from it): every answer must be the one a full read of the chain gives
(``query(count=n)`` reads every slot again), whatever changed it, and the same object while
nothing did."""
from __future__ import annotations

import random

import pytest

import mprog
import mprog.model
from mprog.flags import V2Flag

PINS = (0, 0, 0, int(V2Flag.FIRST), int(V2Flag.LAST))

BACKENDS = pytest.mark.parametrize("backend", [mprog, mprog.model], ids=["core", "model"])


def _full(b):
    """The chain read slot by slot (a count skips the kept answer)."""
    return b.query(count=len(b)) if len(b) else b.query(count=0)


def _step(b, rng, progs, links, dialect):
    choice = rng.random()
    free = [p for p in progs if p not in b.programs()]
    if choice < 0.45 and free:
        pins = rng.choice(PINS) if dialect == "v2" else 0
        if rng.random() < 0.5:
            b.attach(rng.choice(free), pins)
        else:
            links.append(b.link(rng.choice(free), pins))
    elif choice < 0.6 and len(b):
        b.detach(rng.choice(b.programs()))
    elif choice < 0.65 and links:
        link = links.pop(rng.randrange(len(links)))
        link.close() if rng.random() < 0.5 else link.detach()
    elif choice < 0.7 and links and free:
        rng.choice(links).update(free[0])  # a change that moves no slot: a new program in one
    elif choice < 0.8 and free:
        with b.transaction() as tx:
            tx.attach(free[0])
            if len(free) > 1:
                tx.attach(free[1])
    elif choice < 0.9 and len(b):
        b.detach(None)
    else:
        b.attach(rng.choice(progs))  # often EEXIST: nothing changes


@BACKENDS
@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_every_answer_is_a_full_read(backend, dialect):
    rng = random.Random(5)
    progs = [backend.Program(name=f"p{i}") for i in range(12)]
    links = []
    with backend.Bundle(dialect) as b:
        for _ in range(3000):
            try:
                _step(b, rng, progs, links, dialect)
            except backend.MprogError:
                pass
            kept = b.query()
            assert kept == _full(b)
            assert b.query() is kept  # nothing changed: the same answer
        for link in links:
            link.close()
    for p in progs:
        p.close()


@BACKENDS
def test_an_appended_link_and_its_pins_are_reported_like_the_rest(backend):
    p, q, r = (backend.Program(name=n) for n in "pqr")
    with backend.Bundle("v2") as b:
        b.attach(p, V2Flag.FIRST)
        assert b.query().prog_attach_flags == (int(V2Flag.FIRST),)
        link = b.link(q, V2Flag.LAST)
        b.attach(r)  # lands before the LAST holder: not an append
        q1 = b.query()
        assert q1.prog_ids == (p.id, r.id, q.id) and q1.link_ids == (0, 0, link.id)
        assert q1.link_attach_flags == (0, 0, int(V2Flag.LAST)) and q1 == _full(b)
        link.close()
        b.detach(r)
        assert b.query().prog_ids == (p.id,)
        link2 = b.link(r, V2Flag.LAST)  # an append after an answer
        q2 = b.query()
        assert q2.link_ids == (0, link2.id) and q2.link_attach_flags == (0, int(V2Flag.LAST))
        assert q2 == _full(b)
        link2.close()
    for h in (p, q, r):
        h.close()


@BACKENDS
def test_a_closed_bundle_keeps_no_answer(backend):
    p = backend.Program(name="p")
    b = backend.Bundle()
    b.attach(p)
    kept = b.query()
    assert b.query() is kept
    b.close()
    with pytest.raises(ValueError):
        b.query()
    p.close()
