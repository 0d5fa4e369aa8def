"""Every ```python block of README.md and docs/v2.md runs, each on its own in a fresh
namespace, and must not raise; the README's Python API examples also run on the model.

docs/SPEC.md's and docs/kernel-behaviour.md's blocks run on all three backends (the live
kernel's as root): a block tagged ```python setup is run before each other block of its
document, and one tagged ```python kernel runs on the kernel backend only.
"""
from __future__ import annotations

import gc
import os
import re
import warnings

import pytest

# Imported here, not first inside an example: an editable install that rebuilds on import
# runs its build with sys.stdout, and under capsys that has no file descriptor.
import mprog  # noqa: F401

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


# -- docs written for every backend ---------------------------------------------------------

#: The import line of each document, and what it becomes on each backend.
DOC_IMPORTS = {
    os.path.join("docs", "SPEC.md"): {
        "core": "from mprog import Bundle, Program", "model": "from mprog.model import Bundle, Program",
        "kernel": "from mprog.kernel import Bundle, Program"},
    os.path.join("docs", "kernel-behaviour.md"): {
        "core": "import mprog\n", "model": "import mprog.model as mprog\n",
        "kernel": "import mprog.kernel as mprog\n"},
}
_TAGGED = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.M | re.S)


def doc_examples(name):
    """(line, tag, code) of each ```python block of a document, its setup put before it."""
    text = read(name)
    found = [(text.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2))
             for m in _TAGGED.finditer(text)]
    setup = "".join(code for _, tag, code in found if tag == "setup")
    return [(line, tag, setup + code) for line, tag, code in found if tag != "setup"]


DOC_EXAMPLES = [pytest.param(name, line, code, on, id=f"{name}:{line}:{on}")
                for name, imports in DOC_IMPORTS.items()
                for line, tag, code in doc_examples(name)
                for on in imports if tag != "kernel" or on == "kernel"]


def test_docs_have_examples_for_every_backend():
    for name, imports in DOC_IMPORTS.items():
        examples = [p for p in DOC_EXAMPLES if p.values[0] == name]
        assert {p.values[3] for p in examples} == set(imports)
        assert all(any(line in p.values[2] for line in imports.values()) for p in examples)


@pytest.mark.parametrize("name,line,code,on", DOC_EXAMPLES)
def test_doc_example_runs(name, line, code, on, request, capsys):
    imports = DOC_IMPORTS[name]
    code = code.replace(next(v for v in imports.values() if v in code), imports[on])
    if on == "kernel":
        import mprog.kernel
        ok, why = mprog.kernel.available()
        if not ok:
            pytest.skip(f"live kernel backend unavailable: {why}")
        request.getfixturevalue("_expedited_rcu")
    exec(compile(code, f"{name}:{line} ({on})", "exec"), {"__name__": "__example__"})
    with warnings.catch_warnings():  # the examples leave their bundles to be collected
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    if on == "kernel":
        mprog.kernel.assert_nothing_left()


def test_the_two_commands_are_two_self_contained_lines():
    """A newcomer copies two lines: each makes its environment, installs, then does its job."""
    text = read("README.md")
    section = text[text.index("## The two commands"):]
    section = section[:section.index("\n## ", 1)]
    block = re.search(r"^```bash\n(.*?)^```", section, re.M | re.S)
    assert block is not None
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 2
    for line, job in zip(lines, ("python -m mprog fuzz", "python -m pytest tests")):
        assert line.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
        assert line.split(" && ")[-1].startswith(job)  # the job comes last
