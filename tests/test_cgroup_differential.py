"""Differential fuzzing of the cgroup dialect: trees of up to four cgroups, effective queries,
every backend that implements the dialect against the others (``CGROUP_BACKENDS`` in
conftest.py: the C++ core, the reference model and the live kernel)."""
from __future__ import annotations

import random

import pytest

import mprog.model.cgroup as model_cgroup
from mprog.differential.backends import load
from mprog.differential.campaign import run_campaign, run_trace_seed
from mprog.ops import Generator, describe, validate
from mprog.ops.cgroup import MAX_CGROUPS

from conftest import CGROUP_BACKENDS


def backends():
    modules = {}
    for name in CGROUP_BACKENDS:
        module = load(name)
        if name == "kernel":
            ok, why = module.available("cgroup")
            if not ok:
                pytest.skip(f"live kernel cgroup backend unavailable: {why}")
        modules[name] = module
    return modules


def reports(result):
    return "\n\n".join(f"seed {f.seed}: {f.path}\n{f.divergence.report()}" for f in result.found)


def test_the_vocabulary_has_trees_and_effective_queries():
    ops = [{"op": "new_cgroup", "as": 1, "parent": 0},
           {"op": "query", "count": {"kind": "none"}, "cgroup": 1, "effective": True},
           {"op": "attach", "prog": 0, "flags": 2, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}, "cgroup": 1}]
    for op in ops:
        validate(op)
    assert describe(ops[0], "cgroup") == "c1 = cgroup(parent=c0)"
    assert describe(ops[1], "cgroup") == "c1.query(count=none, effective)"
    assert describe(ops[2], "cgroup") == "c1.attach(p0, ALLOW_MULTI)"
    with pytest.raises(ValueError):
        validate({"op": "query", "count": {"kind": "none"}, "effective": 1})
    with pytest.raises(ValueError):
        validate({"op": "new_cgroup", "as": 1})


def test_the_generator_grows_trees_of_up_to_four_and_targets_every_cgroup():
    from mprog.ops.generate import View
    g = Generator("cgroup", random.Random(5))
    view = View(progs=[0, 1, 2])
    seen, targets = set(), set()
    for _ in range(2000):
        for op in g.next(view):
            if op["op"] == "new_cgroup":
                assert op["parent"] in view.cgroups
                view.cgroups[op["as"]] = ()
                seen.add(op["as"])
            targets.add(op.get("cgroup"))
    assert len(view.cgroups) == MAX_CGROUPS and targets >= set(view.cgroups)


def test_campaign(tmp_path, _expedited_rcu):
    """The CI share: 300 traces of 40 operations over trees of up to four cgroups, every
    answer, list, mode and effective array compared after every step (about 10 s)."""
    modules = backends()
    result = run_campaign(modules, "cgroup", traces=300, seed=20261201, trace_len=40,
                          out=str(tmp_path), minimize_seconds=30)
    assert result.traces == 300 and result.ops >= 300 * 35
    assert result.divergences == 0, reports(result)
    assert not result.cleanup_problems, result.cleanup_problems


def _cap_63(monkeypatch):
    monkeypatch.setattr(model_cgroup, "CGROUP_MAX_PROGRAMS", 63)


def _revision_reset(monkeypatch):
    commit = model_cgroup.CgroupBundle._commit

    def reset(self, entries, mode):
        commit(self, entries, mode)
        if not entries:
            self._revision = 1
    monkeypatch.setattr(model_cgroup.CgroupBundle, "_commit", reset)


def _no_hierarchy_rule(monkeypatch):
    monkeypatch.setattr(model_cgroup.CgroupBundle, "_hierarchy_allows_attach", lambda self: True)


def _every_level_counts(monkeypatch):
    def effective(self):
        pre, rest = [], []
        for level in self._lineage():
            pre[:0] = [e.runs() for e in level._entries if e.preorder]
            rest += [e.runs() for e in level._entries if not e.preorder]
        return pre + rest
    monkeypatch.setattr(model_cgroup.CgroupBundle, "effective", effective)


@pytest.mark.parametrize("plant", [_cap_63, _revision_reset, _no_hierarchy_rule,
                                   _every_level_counts])
def test_campaign_finds_a_planted_bug(plant, monkeypatch, _expedited_rcu):
    """The campaign can fail: each rule broken in the model is found against the kernel."""
    modules = {name: module for name, module in backends().items() if name in ("model", "kernel")}
    plant(monkeypatch)
    for seed in range(300):  # stop at the first divergence
        _, divergence, _ = run_trace_seed(modules, "cgroup", seed, 80)
        if divergence is not None:
            return
    pytest.fail("300 traces ran into no divergence")
