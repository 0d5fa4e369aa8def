"""Backend modules by name: ``core`` (``mprog``), ``model`` (``mprog.model``), ``kernel``.

A backend is a module (or any object) offering the protocol of docs/protocol.md: ``Bundle``,
``Program`` and ``DIALECTS``. Names may repeat (``model,model`` compares the model with itself,
the harness's own sanity check); the second gets the name ``model#2``.
"""
from __future__ import annotations

import importlib
from typing import Any, Dict, Iterable, List, Tuple

MODULES = {"core": "mprog", "model": "mprog.model", "kernel": "mprog.kernel",
           "oracle": "mprog.oracle"}  # v2 only: the v2 series read again (issue 15)


class BackendUnavailable(RuntimeError):
    """A backend that cannot run here (not built yet, or no live kernel)."""


def load(name: str) -> Any:
    """The module of backend ``name``; ``BackendUnavailable`` if it cannot run here."""
    if name not in MODULES:
        raise BackendUnavailable(f"unknown backend {name!r} (known: {', '.join(MODULES)})")
    try:
        module = importlib.import_module(MODULES[name])
    except ImportError as e:
        raise BackendUnavailable(f"{name}: cannot import {MODULES[name]}: {e}") from e
    if not hasattr(module, "Bundle") or not hasattr(module, "Program"):
        raise BackendUnavailable(f"{name}: {MODULES[name]} has no Bundle/Program (not built?)")
    available = getattr(module, "available", None)
    if callable(available):
        ok, why = available()
        if not ok:
            raise BackendUnavailable(f"{name}: unavailable: {why}")
    return module


def available(name: str) -> Tuple[bool, str]:
    """(True, "") if backend ``name`` can run here, else (False, why)."""
    try:
        load(name)
    except BackendUnavailable as e:
        return False, str(e)
    return True, ""


def resolve(names: Iterable[str]) -> Dict[str, Any]:
    """``{"core": module, "model": module, ...}`` for names like ``core,model`` (repeats ok)."""
    out: Dict[str, Any] = {}
    for name in names:
        name = name.strip().split("#")[0]  # "model#2" (a saved trace's second model)
        if not name:
            continue
        key, n = name, 1
        while key in out:
            n += 1
            key = f"{name}#{n}"
        out[key] = load(name)
    if len(out) < 1:
        raise BackendUnavailable("no backends given")
    return out


def parse(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def supports(module: Any, dialect: str) -> bool:
    return dialect in tuple(getattr(module, "DIALECTS", ("upstream", "v2")))


def check_dialect(backends: Dict[str, Any], dialect: str) -> None:
    bad = [name for name, module in backends.items() if not supports(module, dialect)]
    if bad:
        raise BackendUnavailable(f"dialect {dialect!r} is not offered by {', '.join(bad)}")
    for name, module in backends.items():
        # a backend that runs the dialect only where the machine allows (the kernel's cgroups)
        available = getattr(module, "available", None)
        if dialect != "upstream" and callable(available):
            ok, why = available(dialect)
            if not ok:
                raise BackendUnavailable(f"{name}: the {dialect} dialect is unavailable: {why}")
