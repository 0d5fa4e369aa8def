"""How long handles live, one rule on every backend (docs/protocol.md, "Lifetimes").

A Link or Bundle dropped without ``close()`` is released when collected, with a
``ResourceWarning``, as Python's files are; a Program dropped unclosed is let go silently once
no chain or link holds it; no handle can be copied or pickled. ``del`` + ``gc.collect()``
makes each collection happen at a known point.
"""
from __future__ import annotations

import copy
import errno
import gc
import os
import pickle
import warnings

import pytest


def collect():
    gc.collect()


@pytest.fixture
def quiet():
    """Fail on any ResourceWarning: closed objects must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        yield


def test_an_unused_link_is_released_at_once_with_a_warning(backend):
    with backend.Bundle() as b:
        p = backend.Program(name="p")
        with pytest.warns(ResourceWarning, match="unclosed"):
            b.link(p)  # nobody keeps the handle
            collect()
        assert len(b) == 0 and b.revision == 1  # attached, then released: the chain is freed
        p.close()


def test_a_dropped_link_is_released_when_collected(backend):
    with backend.Bundle() as b:
        p, q = backend.Program(name="p"), backend.Program(name="q")
        b.attach(p)
        link = b.link(q)
        link_id, rev = link.id, b.revision
        with pytest.warns(ResourceWarning):
            del link
            collect()
        assert b.query().prog_ids == (p.id,) and b.revision == rev + 1
        with pytest.raises(backend.NotFound):  # the link is gone: its id names nothing
            b.attach(backend.Program(name="r"), backend.Flag.BEFORE | backend.Flag.LINK
                     | backend.Flag.ID, relative=link_id)
        for h in (p, q):
            h.close()


def test_a_dropped_bundle_is_released_and_its_links_detached(backend):
    b = backend.Bundle()
    p, q, r = (backend.Program(name=n) for n in "pqr")
    b.attach(p)
    link = b.link(q)
    with pytest.warns(ResourceWarning, match="unclosed"):
        del b
        collect()
    assert link.attached is False and not link.closed
    with pytest.raises(backend.LinkDetached) as e:
        link.update(r)
    assert e.value.errno == errno.ENOLINK
    link.detach()  # detached already: no change, no error
    link.close()
    for h in (p, q, r):
        h.close()


def test_closed_handles_do_not_warn(backend, quiet):
    b = backend.Bundle()
    p = backend.Program(name="p")
    link = b.link(p)
    link.close()
    b.close()
    p.close()
    del b, p, link
    collect()
    with backend.Bundle() as b2, b2.link(backend.Program(name="q")):
        pass
    del b2
    collect()


def test_a_dropped_program_lives_while_the_chain_holds_it(backend, quiet):
    with backend.Bundle() as b:
        b.attach(backend.Program(name="held"))  # no other reference
        collect()
        [held] = list(b)
        assert held.name == "held" and not held.closed
        held_id = held.id
        del held
        b.detach()
        collect()  # let go silently (quiet fails on a warning)
        r = backend.Program(name="r")
        with pytest.raises(backend.NotFound):  # gone: its id names nothing
            b.attach(r, backend.Flag.BEFORE | backend.Flag.ID, relative=held_id)
        r.close()


def test_a_link_holds_its_program(backend, quiet):
    with backend.Bundle() as b:
        link = b.link(backend.Program(name="linked"))
        collect()
        assert link.prog.name == "linked" and [x.name for x in b] == ["linked"]
        link.close()


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, pickle.dumps])
def test_handles_cannot_be_copied(backend, how):
    with backend.Bundle() as b:
        p = backend.Program(name="p")
        link = b.link(p)
        for h in (p, link, b):
            with pytest.raises(TypeError):
                how(h)
        link.close()
        p.close()


def _cycle(m):
    b = m.Bundle()
    p = m.Program(name="p")
    b.attach(p)
    b.link(m.Program(name="q"))  # dropped: released
    # b, p and the link's program dropped unclosed


def test_dropping_everything_leaks_nothing(backend):
    """Many create-and-drop cycles: the kernel backend's fds and every backend's id tables stay
    flat (what a long campaign does to them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _cycle(backend)
        collect()
        fds, tables = len(os.listdir("/proc/self/fd")), _tables(backend)
        for _ in range(100):
            _cycle(backend)
        collect()
        assert len(os.listdir("/proc/self/fd")) == fds
        assert _tables(backend) == tables


def _tables(m):
    """The sizes of a backend's registries of live objects."""
    if m.__name__ == "mprog.kernel":
        from mprog.kernel import handles
        return (len(handles.programs_by_id), len(handles.open_programs),
                len(handles.open_links), len(handles.open_bundles))
    if m.__name__ == "mprog.model":
        from mprog.model import handles as mh
        return len(mh._live_programs), len(mh._open_links)
    return ()  # the core's registries hold no Python objects: its destructors erase them


def test_the_cgroup_dialect_follows_the_same_rule(cg):
    """A dropped cgroup link is released (its slot gone), a dropped cgroup bundle too."""
    m = cg.module
    b = m.Bundle("cgroup")
    p, q = (m.Program(name=n, dialect="cgroup") for n in "pq")
    b.attach(p, m.CgroupFlag.ALLOW_MULTI)
    keep = b.link(q)
    rev = b.revision
    with pytest.warns(ResourceWarning, match="unclosed"):
        del keep
        collect()
    assert list(b.query().prog_ids) == [p.id] and b.revision == rev + 1
    link = b.link(q)
    with pytest.warns(ResourceWarning, match="unclosed"):
        del b
        collect()
    assert not link.attached and not link.closed
    link.close()
    for h in (p, q):
        h.close()
