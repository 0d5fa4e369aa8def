"""Differential tests: the same operations on several backends must give the same answers.

- A hypothesis state machine (one rule per operation, bundles of programs and links) drives a
  ``Trial`` over core and model, in each dialect, and over core, model and the live kernel
  (upstream) when the kernel can run here. The trial compares answers and full states after
  every step and checks the invariants; the ``@invariant``s restate the central ones so that
  hypothesis names the one that broke.
- The seeded campaign (``python -m mprog fuzz``) runs a few hundred traces.
- A deliberately broken backend must diverge, minimize to a handful of ops, and replay from
  its JSON file as the same divergence.
- Every trace saved under ``tests/traces/`` replays without divergence, and every backend
  gives the answer its verdict settled.
"""
from __future__ import annotations

import errno
import glob
import json
import os
import types

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis import Phase  # noqa: E402
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, invariant, multiple,  # noqa: E402
                                 precondition, rule, run_state_machine_as_test)

from mprog import errors  # noqa: E402
from mprog.differential import backends as _backends  # noqa: E402
from mprog.differential import invariants  # noqa: E402
from mprog.differential.campaign import run_campaign  # noqa: E402
from mprog.ops import strategies  # noqa: E402
from mprog.differential.minimize import minimize  # noqa: E402
from mprog.ops.vocabulary import disambiguate, flag  # noqa: E402
from mprog.differential.traces import load as load_trace  # noqa: E402
from mprog.differential.traces import compare, ops_of, save_divergence  # noqa: E402
from mprog.differential.trial import Trial, run_trace  # noqa: E402
from mprog.flags import MAX_PROGRAMS  # noqa: E402

TRACES = os.path.join(os.path.dirname(__file__), "traces")


def need(*names: str) -> dict:
    try:
        return _backends.resolve(names)
    except _backends.BackendUnavailable as e:
        pytest.skip(str(e))


# ------------------------------------------------------------------ strategies


# the one vocabulary's strategies (mprog.ops.strategies), shared with the atheris harness
flags_for = strategies.flags
revisions = strategies.revisions
counts = strategies.counts


class DifferentialMachine(RuleBasedStateMachine):
    """One rule per operation; every rule goes through ``Trial.step`` on all backends."""

    MODULES: dict = {}
    DIALECT = "upstream"
    FLAGS = flags_for("upstream")

    progs = Bundle("progs")
    links = Bundle("links")

    def __init__(self) -> None:
        super().__init__()
        self.trial = Trial(self.MODULES, self.DIALECT)
        self.next_prog = 0
        self.next_link = 0
        self.filled = False

    def teardown(self) -> None:
        self.trial.close()

    # relatives: handles and ids of bundled objects, ids nobody has, plain ints
    def relatives(self) -> st.SearchStrategy:
        return strategies.relatives(self.progs, self.links)

    def step(self, op):
        return self.trial.step(disambiguate(op, self.DIALECT))

    def _new_label(self) -> int:
        label = self.next_prog
        self.next_prog += 1
        return label

    # ------------------------------------------------------------------ rules

    @rule(target=progs)
    def new_prog(self):
        label = self._new_label()
        self.step({"op": "new_prog", "as": label})
        return label

    @precondition(lambda self: not self.filled)
    @rule(target=progs, upto=st.sampled_from((MAX_PROGRAMS, MAX_PROGRAMS - 1, 3)),
          via_link=st.booleans())
    def fill(self, upto, via_link):
        """New programs appended plainly until ``upto`` are attached (full chains, fast).
        Once per example: it is a hundred steps of the trial."""
        self.filled = True
        made = []
        for _ in range(max(0, upto - len(self.trial.state["chain"]["progs"]))):
            label = self._new_label()
            self.step({"op": "new_prog", "as": label})
            made.append(label)
            if via_link:
                self.step({"op": "link", "as": self.next_link, "prog": label, "flags": 0,
                                 "relative": None, "expected_revision": {"kind": "zero"}})
                self.next_link += 1
            else:
                self.step({"op": "attach", "prog": label, "flags": 0, "relative": None,
                                 "replace": None, "expected_revision": {"kind": "zero"}})
        return multiple(*made)

    @rule(prog=progs, data=st.data(), rev=revisions)
    def attach(self, prog, data, rev):
        flags = data.draw(self.FLAGS, label="flags")
        relative = data.draw(self.relatives(), label="relative")
        replace = data.draw(st.one_of(st.none(), self.progs.map(
            lambda p: {"kind": "prog", "ref": p})), label="replace")
        self.step({"op": "attach", "prog": prog, "flags": flags, "relative": relative,
                         "replace": replace, "expected_revision": rev})

    @rule(target=links, prog=progs, data=st.data(), rev=revisions)
    def link(self, prog, data, rev):
        flags = data.draw(self.FLAGS, label="flags")
        relative = data.draw(self.relatives(), label="relative")
        label = self.next_link
        self.next_link += 1
        answers = self.step({"op": "link", "as": label, "prog": prog, "flags": flags,
                                   "relative": relative, "expected_revision": rev})
        return label if next(iter(answers.values()))[0] == "ok" else multiple()

    @rule(link=links, new=progs, replace=st.booleans(),
          old=st.one_of(st.none(), progs), flags=st.sampled_from((0, 0, 1 << 0, 1 << 3)))
    def update(self, link, new, replace, old, flags):
        if replace:
            flags |= flag(self.DIALECT, "REPLACE")
        self.step({"op": "update", "link": link, "new_prog": new, "flags": flags,
                         "old_prog": old})

    @rule(link=links)
    def link_detach(self, link):
        self.step({"op": "link_detach", "link": link})

    @rule(link=links)
    def link_close(self, link):
        self.step({"op": "link_close", "link": link})

    @rule(prog=progs)
    def prog_close(self, prog):
        self.step({"op": "prog_close", "prog": prog})

    @rule(prog=st.one_of(st.none(), progs), data=st.data(), rev=revisions)
    def detach(self, prog, data, rev):
        flags = data.draw(self.FLAGS, label="flags")
        relative = data.draw(self.relatives(), label="relative")
        self.step({"op": "detach", "prog": prog, "flags": flags, "relative": relative,
                         "expected_revision": rev})

    @rule(count=counts)
    def query(self, count):
        self.step({"op": "query", "count": count})

    # ------------------------------------------------------------- invariants
    # (Trial.step checks all of these already; restated so hypothesis names the one broken.)

    def _states(self):
        return self.trial.states.values()

    @invariant()
    def backends_agree(self):
        states = list(self._states())
        for other in states[1:]:
            assert other["chain"] == states[0]["chain"]
            assert other["links"] == states[0]["links"]

    @invariant()
    def chain_within_capacity_and_unique(self):
        for state in self._states():
            progs = state["chain"]["progs"]
            assert len(progs) <= MAX_PROGRAMS
            assert len(set(progs)) == len(progs)

    @invariant()
    def empty_chain_reports_revision_one(self):
        for state in self._states():
            if not state["chain"]["progs"]:
                assert state["chain"]["revision"] == 1

    @invariant()
    def pins_at_their_ends(self):
        for state in self._states():
            assert not invariants._check_flags(state["chain"], self.DIALECT)


def machine(modules: dict, dialect: str):
    return type(f"Differential_{'_'.join(modules)}_{dialect}", (DifferentialMachine,),
                {"MODULES": modules, "DIALECT": dialect, "FLAGS": flags_for(dialect)})


FAST = settings(max_examples=200, stateful_step_count=30, deadline=None,
                suppress_health_check=list(HealthCheck))
# the kernel is slow to change (each change waits for RCU) and slower to shrink: fewer
# examples, and a failure is reported as found (its Divergence holds the whole trace)
KERNEL = settings(max_examples=15, stateful_step_count=20, deadline=None,
                  suppress_health_check=list(HealthCheck),
                  phases=(Phase.explicit, Phase.reuse, Phase.generate))


def test_state_machine_core_vs_model():
    run_state_machine_as_test(machine(need("core", "model"), "upstream"), settings=FAST)


def test_state_machine_v2_core_model_oracle():
    """v2 has no kernel; the oracle (the v2 series read again) takes the kernel's place."""
    run_state_machine_as_test(machine(need("core", "model", "oracle"), "v2"), settings=FAST)


def test_state_machine_core_model_kernel():
    run_state_machine_as_test(machine(need("core", "model", "kernel"), "upstream"),
                              settings=KERNEL)


# ------------------------------------------------------------------ campaign


@pytest.mark.parametrize("dialect", ["upstream", "v2"])
def test_seeded_campaign_core_vs_model(dialect, tmp_path):
    modules = need("core", "model")
    result = run_campaign(modules, dialect, traces=150, seed=20240607, trace_len=80,
                          out=str(tmp_path), minimize_seconds=20)
    assert result.traces == 150
    reports = "\n\n".join(f"seed {f.seed}: {f.path}\n{f.divergence.report()}"
                          for f in result.found)
    assert result.divergences == 0, reports


def test_seeded_campaign_v2_core_model_oracle(tmp_path):
    """v2 has no kernel: the oracle, written from the v2 series itself (docs/v2.md, "The v2
    oracle"), is the third party. 300 traces of 120 operations, every state compared in full
    after every step. (The oracle has no transactions, so this trial runs none; the core vs
    model campaign above does.)"""
    modules = need("core", "model", "oracle")
    result = run_campaign(modules, "v2", traces=300, seed=20230607, trace_len=120,
                          out=str(tmp_path), minimize_seconds=20, full_every=1)
    assert result.traces == 300
    assert result.ops >= 300 * 100
    reports = "\n\n".join(f"seed {f.seed}: {f.path}\n{f.divergence.report()}"
                          for f in result.found)
    assert result.divergences == 0, reports


def test_seeded_campaign_core_model_kernel(tmp_path, _expedited_rcu):
    """Three-way parity: 300 random traces of 25 operations, each on core, model and the
    live kernel's tcx, every answer and every state compared (issue: kernel-exact parity)."""
    modules = need("core", "model", "kernel")
    result = run_campaign(modules, "upstream", traces=300, seed=20261125, trace_len=25,
                          out=str(tmp_path), minimize_seconds=30)
    assert result.traces == 300
    assert result.ops >= 300 * 20
    reports = "\n\n".join(f"seed {f.seed}: {f.path}\n{f.divergence.report()}"
                          for f in result.found)
    assert result.divergences == 0, reports
    assert not result.cleanup_problems, result.cleanup_problems


# ------------------------------------------------- minimizer and JSON replay


def broken(module):
    """``module`` with one deliberate bug: attach AFTER a relative fails with EINVAL once the
    chain holds two programs (and changes nothing, so only the answer differs)."""
    after = flag("upstream", "AFTER")

    class BrokenBundle:
        def __init__(self, dialect="upstream"):
            self._b = module.Bundle(dialect=dialect)

        def attach(self, prog, flags=0, relative=None, replace=None, expected_revision=0):
            if flags == after and relative is not None and len(self._b) >= 2:
                raise errors.error(errno.EINVAL, "attach", "deliberately broken")
            return self._b.attach(prog, flags=flags, relative=relative, replace=replace,
                                  expected_revision=expected_revision)

        def __getattr__(self, name):
            return getattr(self._b, name)

        def __len__(self):
            return len(self._b)

        def __iter__(self):
            return iter(self._b)

    return types.SimpleNamespace(Bundle=BrokenBundle, Program=module.Program,
                                 DIALECTS=("upstream",))


def _reference():
    for name in ("model", "core"):
        ok, _ = _backends.available(name)
        if ok:
            return name, _backends.load(name)
    pytest.skip("neither model nor core can run")


def test_same_backend_twice_never_diverges():
    name, module = _reference()
    result = run_campaign({name: module, name + "#2": module}, "upstream", traces=40,
                          seed=7, trace_len=80, out=None)
    assert result.divergences == 0, [f.divergence.report() for f in result.found]


def test_broken_backend_is_found_minimized_and_replayed(tmp_path):
    name, module = _reference()
    modules = {name: module, "broken": broken(module)}
    # (no bad input: the stand-in wraps a bundle and nothing more, so a Link or a Bundle
    # never initialized would be the first thing to differ, not the deliberate bug)
    result = run_campaign(modules, "upstream", traces=200, seed=1, trace_len=120,
                          out=str(tmp_path), minimize_seconds=60, bad_input=0)
    assert result.found, "the deliberately broken backend was not caught"
    found = result.found[0]
    small = found.divergence
    assert small.kind == "answer"
    assert len(small.ops) < found.original_length
    # small: two programs attached, a third created (or one reused), then the broken attach;
    # ddmin promises a 1-minimal trace (no single op can go), not the globally smallest
    assert len(small.ops) <= 8, small.report()
    last = small.op
    assert last["op"] == "attach" and last["flags"] == flag("upstream", "AFTER")
    assert small.answers[-1]["broken"] == ["err", "EINVAL"]
    assert small.answers[-1][name] != ["err", "EINVAL"]

    # the file round-trips: same ops, same divergence; the healthy backend alone agrees
    data = load_trace(found.path)
    ops = ops_of(data)
    assert ops == small.ops
    again = compare(modules, data["dialect"], ops)
    assert again is not None and again.signature == small.signature
    assert run_trace({name: module, "again": module}, "upstream", ops) is None


def test_minimizer_keeps_the_signature(tmp_path):
    name, module = _reference()
    modules = {name: module, "broken": broken(module)}
    ops = [{"op": "new_prog", "as": i} for i in range(5)]
    ops += [{"op": "query", "count": {"kind": "short"}}]
    ops += [{"op": "attach", "prog": i, "flags": 0, "relative": None, "replace": None,
             "expected_revision": {"kind": "current"}} for i in range(4)]
    ops += [{"op": "attach", "prog": 4, "flags": flag("upstream", "AFTER"),
             "relative": {"kind": "prog", "ref": 1}, "replace": None,
             "expected_revision": {"kind": "current"}}]
    d = run_trace(modules, "upstream", ops)
    assert d is not None
    small = minimize(modules, "upstream", d)
    assert small.signature == d.signature
    assert len(small.ops) == 6  # 3 new_prog, 2 attach, the broken attach
    assert all(op["op"] != "query" for op in small.ops)
    assert small.op["expected_revision"] == {"kind": "zero"}
    path = save_divergence(str(tmp_path), list(modules), small)
    assert json.load(open(path))["divergence"]["kind"] == "answer"


def test_cli_replay_and_exit_status(tmp_path, capsys):
    from mprog.__main__ import main
    from mprog.differential.traces import save, to_json

    name, module = _reference()
    ops = [{"op": "new_prog", "as": 0},
           {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}},
           {"op": "query", "count": {"kind": "none"}}]
    path = tmp_path / "t.json"
    save(str(path), to_json("upstream", [name, name], ops))
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "attach(p0, 0)" in out and "no divergence" in out

    # against the broken backend the trace diverges at its last op, and replay exits 1
    modules = {name: module, "broken": broken(module)}
    ops += [{"op": "new_prog", "as": 1}, {"op": "new_prog", "as": 2},
            {"op": "attach", "prog": 1, "flags": 0, "relative": None, "replace": None,
             "expected_revision": {"kind": "zero"}},
            {"op": "attach", "prog": 2, "flags": flag("upstream", "AFTER"),
             "relative": {"kind": "prog", "ref": 0}, "replace": None,
             "expected_revision": {"kind": "zero"}}]
    d = run_trace(modules, "upstream", ops)
    assert d is not None and len(d.ops) == len(ops)
    path = save_divergence(str(tmp_path), list(modules), d)
    assert load_trace(path)["divergence"]["step"] == len(ops) - 1
    assert compare(modules, "upstream", ops_of(load_trace(path))).signature == d.signature

    # fuzz exits 0 without divergence and says how fast it went
    assert main(["fuzz", "--backends", "core,model", "--traces", "3", "--trace-len", "20",
                 "--seed", "5", "--quiet", "--out", str(tmp_path)]) == 0
    assert "ops/s" in capsys.readouterr().out


# ------------------------------------------------------- saved regressions


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(TRACES, "*.json"))),
                         ids=os.path.basename)
def test_saved_trace_replays_without_divergence(path):
    """Each file is a divergence once found ("divergence" says what it was); the backends
    must now agree on it, and on the answer its "verdict" settled (with the rule why)."""
    data = load_trace(path)
    names = list(data["backends"])
    if data["dialect"] == "v2" and "oracle" not in names:
        names.append("oracle")  # every settled v2 answer must also be the v2 series' own
    modules = need(*names)
    ops = ops_of(data)
    last: list = []
    divergence = compare(modules, data["dialect"], ops, echo=last.append)
    assert divergence is None, divergence.report()
    answers = [json.loads(line.split(":", 1)[1]) for line in last[-len(modules):]]
    assert answers == [data["verdict"]["settled"]] * len(modules), data["verdict"]["why"]


def wrapped(module, **methods):
    """``module`` whose bundles run ``methods`` (name -> fn(real_bundle, *args)) instead."""
    class Wrapped:
        def __init__(self, dialect="upstream"):
            self._b = module.Bundle(dialect=dialect)

        def __getattr__(self, name):
            if name in methods:
                return lambda *a, **k: methods[name](self._b, *a, **k)
            return getattr(self._b, name)

        def __len__(self):
            return methods["__len__"](self._b) if "__len__" in methods else len(self._b)

        def __iter__(self):
            return iter(self._b)

    return types.SimpleNamespace(Bundle=Wrapped, Program=module.Program,
                                 DIALECTS=("upstream",))


def test_digests_catch_a_bug_that_answers_alike():
    """A failed attach that still changes the chain (the answer is right, the state is not):
    the per-step digest of a fast campaign finds it, and the full re-run explains it."""
    import mprog

    def attach(b, prog, flags=0, relative=None, replace=None, expected_revision=0):
        try:
            b.attach(prog, flags, relative, replace, expected_revision)
        except OSError as e:
            if e.errno == errno.ESTALE and len(b) >= 3:
                try:
                    b.detach(None)  # the bug: a stale attach drops the last program
                except OSError:
                    pass  # (a link's slot: the bug stays silent)
            raise

    modules = {"core": mprog, "broken": wrapped(mprog, attach=attach)}
    result = run_campaign(modules, "upstream", traces=60, seed=3, out=None, minimize=False,
                          full_every=0)  # digests only: no trace checked in full
    assert result.found, "a state-only bug was not caught by the digests"
    d = result.found[0].divergence
    assert d.kind in ("state", "invariant") and d.op["op"] == "attach", d.report()
    assert d.states["core"] is not None and "chain" in d.states["core"]  # explained in full


def test_sampled_full_checks_catch_what_digests_do_not_read():
    """len(bundle) is not in the digest; a backend lying about it is caught by the traces
    checked in full (one in ``full_every``), so the invariants run in every campaign."""
    import mprog

    modules = {"core": mprog,
               "broken": wrapped(mprog, __len__=lambda b: len(b) + (len(b) == 5))}
    result = run_campaign(modules, "upstream", traces=40, seed=5, out=None, minimize=False,
                          full_every=4)
    assert result.full_traces == 10
    assert result.found and result.found[0].divergence.kind == "invariant"
    assert "len(bundle)" in result.found[0].divergence.report()
