"""python/mprog/_core.pyi says what the extension offers; this keeps it true.

The stub is hand-written (the signatures pybind11 records name types for help(), not
importable annotations), so it can drift when the bindings change. Every public class, method and property of the built
``mprog._core`` must be in the stub and the other way round, properties must be properties,
and each method's parameters (names, order, which have defaults) must match the signature
pybind11 records in the docstring.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import mprog
from mprog import _core

STUB = Path(mprog.__file__).with_name("_core.pyi")
# In the source tree when the package is installed elsewhere (e.g. a wheel without the stub).
if not STUB.exists():
    STUB = Path(__file__).resolve().parents[1] / "python" / "mprog" / "_core.pyi"

# pybind11's own members of every class: not part of mprog's interface.
PYBIND11_MEMBERS = {"_pybind11_conduit_v1_"}

Params = List[Tuple[str, bool]]  # (name, has a default); "*args" / "**kwargs" spelled so


def public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


# ---- what the stub says ----

def _stub_params(fn: ast.FunctionDef) -> Params:
    a = fn.args
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    # Positional-only parameters are compared by place only: pybind11 calls the ones it was
    # given no py::arg for arg0, arg1, ...
    out: Params = [("?" if i < len(a.posonlyargs) else arg.arg, i >= first_default)
                   for i, arg in enumerate(positional)]
    if a.vararg:
        out.append(("*" + a.vararg.arg, False))
    out += [(arg.arg, d is not None) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append(("**" + a.kwarg.arg, False))
    return out[1:]  # without self


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


class StubClass:
    def __init__(self, node: ast.ClassDef) -> None:
        self.methods: Dict[str, Params] = {}
        self.properties: set[str] = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                if _is_property(item):
                    self.properties.add(item.name)
                else:
                    self.methods[item.name] = _stub_params(item)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                self.properties.add(item.target.id)

    @property
    def members(self) -> set[str]:
        return set(self.methods) | self.properties


def stub_module() -> Tuple[Dict[str, StubClass], set[str]]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    classes = {n.name: StubClass(n) for n in tree.body if isinstance(n, ast.ClassDef)}
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    return classes, {n for n in names if not n.startswith("_")}


# ---- what the extension has ----

def _split_top_level(text: str) -> List[str]:
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def runtime_params(name: str, fn: object) -> Optional[Params]:
    """Parameters from pybind11's signature line, e.g.
    ``attach(self: mprog._core.Bundle, prog: object, flags: object = 0) -> None``;
    None for an overloaded function (its stub should use @overload; not checked here)."""
    doc = getattr(fn, "__doc__", None) or ""
    if "Overloaded function" in doc:
        return None
    m = re.match(re.escape(name) + r"\((.*)\)\s*->", doc.splitlines()[0] if doc else "")
    assert m, f"{name}: no pybind11 signature in its docstring: {doc[:80]!r}"
    out: Params = []
    for part in _split_top_level(m.group(1)):
        head = part.split("=", 1)[0]
        pname = head.split(":", 1)[0].strip()
        pname = "?" if re.fullmatch(r"arg\d+", pname) else pname
        out.append((pname, "=" in part and not pname.startswith("*")))
    return out[1:]  # without self


def runtime_classes() -> Dict[str, type]:
    return {n: c for n, c in vars(_core).items() if isinstance(c, type) and not n.startswith("_")}


def runtime_members(cls: type) -> Tuple[Dict[str, object], set[str]]:
    """Methods and properties bound on ``cls`` itself (pybind11 puts each in the class dict;
    a class without a constructor inherits the slot wrapper ``__init__``, which is skipped)."""
    methods: Dict[str, object] = {}
    properties: set[str] = set()
    for name, value in vars(cls).items():
        if name in PYBIND11_MEMBERS or not public(name):
            continue
        if isinstance(value, property):
            properties.add(name)
        elif type(value).__name__ == "instancemethod":  # a def()
            methods[name] = value
        elif isinstance(value, (staticmethod, classmethod)):  # a def_static()
            methods[name] = value
    return methods, properties


# ---- the checks ----

STUB_CLASSES, STUB_NAMES = stub_module()
RUNTIME_CLASSES = runtime_classes()


def test_module_names_match() -> None:
    runtime = {n for n, v in vars(_core).items()
               if not n.startswith("_") and (isinstance(v, type) or callable(v))}
    assert runtime - STUB_NAMES == set(), "in mprog._core but missing from _core.pyi"
    assert STUB_NAMES - runtime == set(), "in _core.pyi but not in mprog._core"


@pytest.mark.parametrize("cls_name", sorted(RUNTIME_CLASSES))
def test_class_members_match(cls_name: str) -> None:
    stub = STUB_CLASSES.get(cls_name)
    assert stub is not None, f"{cls_name} is bound but missing from _core.pyi"
    methods, properties = runtime_members(RUNTIME_CLASSES[cls_name])
    runtime = set(methods) | properties
    assert runtime - stub.members == set(), f"{cls_name}: bound but missing from _core.pyi"
    assert stub.members - runtime == set(), f"{cls_name}: in _core.pyi but not bound"
    assert properties == stub.properties, f"{cls_name}: properties differ from the stub's"


@pytest.mark.parametrize("cls_name", sorted(RUNTIME_CLASSES))
def test_method_parameters_match(cls_name: str) -> None:
    stub = STUB_CLASSES.get(cls_name)
    assert stub is not None, f"{cls_name} is bound but missing from _core.pyi"
    methods, _ = runtime_members(RUNTIME_CLASSES[cls_name])
    for name, fn in sorted(methods.items()):
        if isinstance(fn, (staticmethod, classmethod)) or name not in stub.methods:
            continue  # static: no self to strip (checked by name only)
        params = runtime_params(name, fn)
        if params is None:
            continue
        assert stub.methods[name] == params, f"{cls_name}.{name}: stub parameters differ"


# Parameters whose type really is "any object" (what a program gets as its ctx).
ANY_OBJECT_PARAMETERS = {"ctx"}


@pytest.mark.parametrize("cls_name", sorted(RUNTIME_CLASSES))
def test_signatures_name_their_types(cls_name: str) -> None:
    """help() shows what each parameter takes, not pybind11's `object` for every handle."""
    methods, _ = runtime_members(RUNTIME_CLASSES[cls_name])
    for name, fn in sorted(methods.items()):
        if name.startswith("__") and name != "__init__":
            continue  # the protocols' own parameters (__exit__'s exception triple, ...)
        doc = getattr(fn, "__doc__", None) or ""
        m = re.match(re.escape(name) + r"\((.*)\)\s*->", doc.splitlines()[0] if doc else "")
        assert m, f"{cls_name}.{name}: no signature"
        for part in _split_top_level(m.group(1))[1:]:  # without self
            pname, _, ptype = part.split("=", 1)[0].partition(":")
            if pname.strip() not in ANY_OBJECT_PARAMETERS:
                assert ptype.strip() != "object", f"{cls_name}.{name}({part}): says only 'object'"
