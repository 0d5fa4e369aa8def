"""One protocol, three backends: every test that takes ``backend`` runs against each.

``backend`` is the module itself (``mprog``, ``mprog.model`` or ``mprog.kernel``); all three
offer ``Bundle``, ``Program``, ``Link``, ``Flag`` and ``V2Flag`` with the same meaning.
"""
from __future__ import annotations

import importlib

import pytest

BACKENDS = ("core", "model", "kernel")
_MODULES = {"core": "mprog", "model": "mprog.model", "kernel": "mprog.kernel",
            "oracle": "mprog.oracle"}


def load_backend(name: str):
    module = importlib.import_module(_MODULES[name])
    if name == "kernel":
        ok, why = module.available()
        if not ok:
            pytest.skip(f"live kernel backend unavailable: {why}")
    return module


@pytest.fixture(scope="session")
def _expedited_rcu():
    """tcx waits for a full RCU grace period per change (about 20 ms here); expedited grace
    periods make that about 0.1 ms. Machine-wide, so it is restored when the session ends."""
    from mprog.kernel import expedited_grace_periods

    with expedited_grace_periods():
        yield


@pytest.fixture(params=BACKENDS)
def backend(request):
    module = load_backend(request.param)
    if request.param == "kernel":
        request.getfixturevalue("_expedited_rcu")
    yield module
    if request.param == "kernel":
        module.assert_nothing_left()


@pytest.fixture(params=("core", "model"))
def v2_backend(request):
    """Backends that implement the v2 dialect (the kernel never ran it)."""
    return load_backend(request.param)


@pytest.fixture(params=("core", "model", "oracle"))
def v2_rules_backend(request):
    """v2's rules on core, model and the v2 oracle (the v2 series read again, independently;
    it has the protocol but none of the API's extensions such as transactions)."""
    return load_backend(request.param)


@pytest.fixture(params=("core", "model"))
def api_backend(request):
    """Backends with the Python API's extensions off the kernel's ABI (explain, watch,
    transactions): the core and the model."""
    return load_backend(request.param)


#: Backends that implement the cgroup dialect.
CGROUP_BACKENDS = ("core", "model", "kernel")


class CgroupHarness:
    """Programs and cgroup bundles of one backend, closed (children first) at the end."""

    def __init__(self, module):
        self.module = module
        self._made = []
        self._programs = {}

    def programs(self, n, prefix="p"):
        progs = [self.module.Program(f"{prefix}{i}", dialect="cgroup") for i in range(n)]
        self._made.extend(progs)
        self._programs.update((p.id, p) for p in progs)
        return progs

    def keep(self, obj):
        """Close ``obj`` (a program or bundle made by the test) at the end too."""
        self._made.append(obj)
        if hasattr(obj, "fn"):
            self._programs[obj.id] = obj
        return obj

    def closed_program(self):
        p = self.module.Program("closed", dialect="cgroup")
        p.close()
        return p

    def bundle(self, parent=None):
        b = self.module.Bundle("cgroup", parent=parent)
        self._made.append(b)
        return b

    def order(self, bundle, effective=False):
        """The list (or effective array) as Program objects."""
        return [self._programs[i] for i in bundle.query(effective=effective).prog_ids]

    def indices(self, progs):
        """``at(bundle, effective=False)``: the list as indices into ``progs``."""
        where = {p.id: i for i, p in enumerate(progs)}
        return lambda b, effective=False: [where[i] for i in
                                           b.query(effective=effective).prog_ids]

    def close(self):
        for obj in reversed(self._made):
            obj.close()


@pytest.fixture(params=CGROUP_BACKENDS)
def cg(request):
    """A CgroupHarness for each backend that implements the cgroup dialect."""
    module = importlib.import_module(_MODULES[request.param])
    if request.param == "kernel":
        ok, why = module.available("cgroup")
        if not ok:
            pytest.skip(f"live kernel cgroup backend unavailable: {why}")
    harness = CgroupHarness(module)
    yield harness
    harness.close()
    if request.param == "kernel":
        module.assert_nothing_left()
