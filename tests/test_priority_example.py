"""examples/priority.py runs on every backend (tcx and cgroup) and keeps its three programs in order while a
foreign one comes and goes (the example asserts the order after every step)."""
from __future__ import annotations

import os
import runpy

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "priority.py")
NAME = {"mprog": "core", "mprog.model": "model", "mprog.kernel": "kernel"}


@pytest.mark.parametrize("dialect", ["upstream", "cgroup"])
def test_example_runs(backend, dialect, capsys):
    main = runpy.run_path(EXAMPLE)["main"]
    seen = main(["--backend", NAME[backend.__name__], "--dialect", dialect])
    assert seen[0] == ["policy"] and seen[-1] == ["firewall"]
    assert seen[5] == ["audit", "firewall", "policy", "stats"]      # the foreign one is back
    assert seen[-2] == ["stats", "firewall", "policy", "audit"]
    assert "retries: 0" in capsys.readouterr().out
