"""Every ```python block of docs/cgroup.md runs on each backend that implements the cgroup
dialect: as written (on the model), and with its import pointed at the live kernel."""
from __future__ import annotations

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPORT = "import mprog.model as backend"
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.M | re.S)


def examples():
    with open(os.path.join(ROOT, "docs", "cgroup.md")) as f:
        text = f.read()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def test_there_is_an_example_that_imports_the_model():
    assert examples() and all(IMPORT in code for _, code in examples())


@pytest.mark.parametrize("line,code", examples())
def test_example_runs(cg, line, code):
    code = code.replace(IMPORT, f"import {cg.module.__name__} as backend")
    exec(compile(code, f"docs/cgroup.md:{line}", "exec"), {"__name__": "__example__"})
