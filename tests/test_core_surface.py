"""The core's Python surface beyond the protocol: what help() and repr() show, how the
binding is tied to the package, and limits checked before anything is allocated."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import mprog
from mprog import Bundle, Program, _core


def test_bundle_repr_shows_dialect_revision_and_programs() -> None:
    b = Bundle("v2")
    assert repr(b) == "Bundle(dialect='v2', revision=1, programs=[])"
    b.attach(Program(name="a"))
    link = b.link(Program(name="b"))
    assert repr(b) == "Bundle(dialect='v2', revision=3, programs=['a', 'b'])"
    link.close()
    b.close()
    assert repr(b) == "Bundle(dialect='v2', closed)"


def test_link_repr_names_its_program() -> None:
    b = Bundle()
    p = Program(name="ingress")
    link = b.link(p)
    assert repr(link) == f"Link(id={link.id}, prog='ingress' (id {p.id}))"
    link.detach()
    assert repr(link).endswith(", detached)")
    link.close()
    assert repr(link).endswith(", closed)")


@pytest.mark.parametrize("cls", [_core.Bundle, _core.Program, _core.Link, _core.Transaction])
def test_every_public_method_has_a_docstring(cls: type) -> None:
    assert (cls.__doc__ or "").strip()
    for name, value in vars(cls).items():
        if name.startswith("_") or type(value).__name__ != "instancemethod":
            continue
        # pybind11's docstring: the signature line, then ours after a blank line.
        lines = [l for l in (value.__doc__ or "").splitlines()[1:] if l.strip()]
        assert lines, f"{cls.__name__}.{name} has no docstring of its own"


def test_injection_is_all_or_nothing() -> None:
    # mprog/__init__.py hands the binding what it uses of the package; a missing or wrong one
    # fails there, at import, and not at some later call.
    good = dict(error=mprog.errors.error, query_too_small=mprog.QueryTooSmall,
                query_result=mprog.QueryResult, explanation=mprog.Explanation,
                to_request=mprog.anchors.to_request, messages=mprog.messages,
                to_cgroup_request=mprog.anchors.to_cgroup_request)
    for missing in good:
        with pytest.raises(TypeError):
            _core._inject(**{k: v for k, v in good.items() if k != missing})
    with pytest.raises(TypeError, match="query_result must be callable"):
        _core._inject(**{**good, "query_result": 3})
    # The binding makes QueryResults itself, field by field (query_result.cpp): a class with
    # other fields, or a __new__ of its own, is refused at import, not met at a query.
    @dataclasses.dataclass(frozen=True)
    class Reordered:
        count: int
        revision: int

    class OwnNew(mprog.QueryResult):
        def __new__(cls, *args: object) -> "OwnNew":
            return super().__new__(cls)

    for cls, what in ((Reordered, "fields"), (OwnNew, "object.__new__"), (dict, "fields")):
        with pytest.raises(TypeError, match=what):
            _core._inject(**{**good, "query_result": cls})
    _core._inject(**good)
    b = Bundle()
    assert b.query() == mprog.QueryResult(1, 0)


REPLAY_LIMIT_CHECK = """
import resource, sys, mprog._core as c
c.replay(b"", programs=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for n in (10_000_000, 2**32 - 1, 65535):
    try:
        c.replay(b"", programs=n)
    except ValueError:
        pass
    else:
        sys.exit(f"programs={n} was accepted")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_replay_checks_its_limits_before_allocating() -> None:
    # Once: 10 million programs were allocated (about 320 MB) before the ValueError, and
    # 2**32 - 1 ran out of memory. A fresh process, so its peak is this check's alone.
    out = subprocess.run([sys.executable, "-c", REPLAY_LIMIT_CHECK], capture_output=True,
                         text=True, check=True).stdout
    grew_kb = int(out.split()[-1])  # the last line: an editable install may print before it
    assert grew_kb < 50_000, f"the peak grew by {grew_kb} KB"
    with pytest.raises(ValueError, match="at most 65534"):
        _core.replay(b"", programs=0, links=65535)
    assert _core.replay(b"", programs=65534)["ops"] == 0
