"""One protocol, three backends: every test that takes ``backend`` runs against each.

``backend`` is the module itself (``mprog``, ``mprog.model`` or ``mprog.kernel``); all three
offer ``Bundle``, ``Program``, ``Link``, ``Flag`` and ``V2Flag`` with the same meaning.
"""
from __future__ import annotations

import importlib

import pytest

BACKENDS = ("core", "model", "kernel")
_MODULES = {"core": "mprog", "model": "mprog.model", "kernel": "mprog.kernel"}


def load_backend(name: str):
    module = importlib.import_module(_MODULES[name])
    if name == "kernel":
        ok, why = module.available()
        if not ok:
            pytest.skip(f"live kernel backend unavailable: {why}")
    return module


@pytest.fixture(params=BACKENDS)
def backend(request):
    module = load_backend(request.param)
    yield module
    if request.param == "kernel":
        module.assert_nothing_left()


@pytest.fixture(params=("core", "model"))
def v2_backend(request):
    """Backends that implement the v2 dialect (the kernel never ran it)."""
    return load_backend(request.param)
