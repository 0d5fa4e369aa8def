"""Every ```python block of README.md and docs/v2.md runs, each on its own in a fresh
namespace, and must not raise; the README's Python API examples also run on the model."""
from __future__ import annotations

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ("README.md", os.path.join("docs", "v2.md"))
API_SECTION = "## The Python API"
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.M | re.S)


def read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def blocks(text):
    """(line number, code) of each ```python block of a Markdown text."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def api_lines():
    """The README lines of its Python API section (from its heading to the next one)."""
    text = read("README.md")
    start = text.index(API_SECTION)
    end = text.find("\n## ", start + 1)
    return text.count("\n", 0, start) + 1, text.count("\n", 0, end if end >= 0 else len(text))


EXAMPLES = [pytest.param(name, line, code, id=f"{name}:{line}")
            for name in FILES for line, code in blocks(read(name))]
FIRST, LAST = api_lines()
API_EXAMPLES = [p for p in EXAMPLES if p.values[0] == "README.md" and FIRST <= p.values[1] <= LAST]


def test_there_are_examples():
    assert len(API_EXAMPLES) >= 6  # one per capability at least
    assert any(p.values[0] == FILES[1] for p in EXAMPLES)


def test_extraction_is_strict():
    text = "x\n```python\nraise RuntimeError\n```\n```bash\nls\n```\n"
    found = [m.group(1) for m in _BLOCK.finditer(text)]
    assert found == ["raise RuntimeError\n"]
    with pytest.raises(RuntimeError):
        exec(compile(found[0], "<block>", "exec"), {"__name__": "__example__"})


@pytest.mark.parametrize("name,line,code", EXAMPLES)
def test_example_runs(name, line, code, capsys):
    exec(compile(code, f"{name}:{line}", "exec"), {"__name__": "__example__"})


@pytest.mark.parametrize("name,line,code", API_EXAMPLES)
def test_api_example_runs_on_the_model(name, line, code, capsys):
    """The README's Python API examples run unchanged on the reference model."""
    assert "import mprog\n" in code
    code = code.replace("import mprog\n", "import mprog.model as mprog\n")
    exec(compile(code, f"{name}:{line} (model)", "exec"), {"__name__": "__example__"})
