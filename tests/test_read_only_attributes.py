"""The attributes a handle reports are read-only on every backend (docs/protocol.md,
"Handles"): assigning or deleting one is AttributeError, as on the core's binding, and the
handle stays as it was. (The live kernel's backend and the v2 oracle used to keep them as
plain attributes: ``p.id = 5`` went through there and renamed the program for the backend.)"""
import pytest

import mprog

#: What each handle reports (only those its class on that backend has).
ATTRIBUTES = {"Program": ("id", "name", "fn", "closed", "dialect"),
              "Link": ("id", "prog", "attached", "closed"),
              "Bundle": ("revision", "dialect", "closed", "parent")}


def _check(module, dialect):
    bundle = module.Bundle(dialect=dialect)
    prog = module.Program("p", dialect="cgroup") if dialect == "cgroup" else module.Program("p")
    link = bundle.link(prog)
    checked = []
    try:
        for what, obj in (("Program", prog), ("Link", link), ("Bundle", bundle)):
            for name in ATTRIBUTES[what]:
                if not hasattr(obj, name):
                    continue  # not this backend's (the oracle's bundle has no closed)
                before = getattr(obj, name)
                with pytest.raises(AttributeError):
                    setattr(obj, name, 5)
                with pytest.raises(AttributeError):
                    delattr(obj, name)
                assert getattr(obj, name) == before, (what, name)
                checked.append(f"{what}.{name}")
        assert link.prog.id == prog.id and [p.id for p in bundle] == [prog.id]
    finally:
        link.close()
        bundle.close()
        prog.close()
    assert len(checked) >= 9, checked


def test_every_backend_keeps_what_a_handle_reports_read_only(backend):
    _check(backend, "upstream")


def test_every_v2_backend_keeps_what_a_handle_reports_read_only(v2_rules_backend):
    _check(v2_rules_backend, "v2")


def test_every_cgroup_backend_keeps_what_a_handle_reports_read_only(cg):
    _check(cg.module, "cgroup")


# ---- in the fuzzer's vocabulary: ``assign`` ----

def test_campaigns_assign_what_handles_report_and_every_backend_refuses():
    from misuse_helpers import drawn

    seen = set()
    for op, answers in drawn("assign"):
        if answers["core"] != ["skip"]:  # (a link the trace never made)
            # (a closed bundle's revision is ValueError before any assignment)
            assert set(map(tuple, answers.values())) <= {
                ("ok", "refused"), ("raise", "ValueError")}, (op, answers)
            seen.add((("prog" in op) + 2 * ("link" in op), op["attr"]))
    assert len(seen) >= 8, seen


def test_a_campaign_finds_a_backend_that_lets_an_assignment_through(monkeypatch):
    """Planted: the model's Program.name assignable (as the kernel backend's was), still
    refusing an instance never initialized."""
    import mprog.model
    from mprog.differential.campaign import run_campaign
    from mprog.model.handles import Program

    monkeypatch.setattr(Program, "name", property(Program.name.fget,
                                                  lambda self, value: None))
    result = run_campaign({"core": mprog, "model": mprog.model}, traces=300, seed=3,
                          out=None, bad_input=40, minimize=False)
    assert result.divergences, "the planted fault went unnoticed"
    last = result.found[0].divergence.ops[-1]
    assert last["op"] == "assign" and last["attr"] == "name" and "prog" in last, last
