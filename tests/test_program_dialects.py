"""Programs of a dialect other than the chain's: every backend makes a tcx program of either
chain dialect (the live kernel's too), takes the same constructor arguments, and the fuzzer's
vocabulary makes such programs now and then (``new_prog``'s optional ``dialect``)."""
import pytest

import mprog


def test_every_backend_makes_a_v2_program(backend):
    """A v2 program is a tcx program: every backend makes one, and an upstream chain takes
    it (the live kernel's backend refused the dialect's name with ValueError)."""
    b = backend.Bundle()
    p = backend.Program("p", dialect="v2")
    try:
        assert p.dialect == "v2"
        b.attach(p)
        assert [q.id for q in b] == [p.id]
        with pytest.raises(mprog.errors.InvalidArgument):
            c = backend.Bundle(dialect="cgroup")
            try:
                c.attach(p, mprog.CgroupFlag.ALLOW_MULTI)
            finally:
                c.close()
    finally:
        b.close()
        p.close()


def test_every_v2_backend_takes_the_same_constructor_arguments(v2_rules_backend):
    """The v2 oracle took neither a Program's dialect nor a Bundle's parent (TypeError where
    the core and the model make a tcx program, and refuse a chain's parent with
    ValueError)."""
    m = v2_rules_backend
    b = m.Bundle(dialect="v2")
    p = m.Program("p", dialect="v2")
    try:
        assert p.dialect == "v2"
        b.attach(p)
        assert [q.id for q in b] == [p.id]
        with pytest.raises(ValueError):
            m.Program("q", dialect=5)
        with pytest.raises(ValueError):
            m.Bundle(dialect="v2", parent=b)
    finally:
        b.close()
        p.close()


def test_campaigns_make_programs_of_another_dialect():
    from misuse_helpers import drawn

    made = [op for op, answers in drawn("new_prog", traces=20, bad_input=0, other_dialect=20)
            if op.get("dialect") is not None]
    assert made and {op["dialect"] for op in made} == {"v2"}


def test_records_leave_a_program_of_another_dialect_to_the_interpreters():
    from mprog import batch

    plain, other = {"op": "new_prog", "as": 0}, {"op": "new_prog", "as": 0, "dialect": "v2"}
    assert batch.record(plain) is not None
    assert batch.record(other) is None and batch.record_aside(other) is None
    with pytest.raises(ValueError, match="dialect"):
        batch.encode([other])


@pytest.mark.parametrize("planted", [False, True])
def test_a_trial_finds_a_backend_that_refuses_a_v2_program(backend, planted, monkeypatch):
    """A new_prog of the v2 dialect in an upstream trial (each backend against the model,
    the model against the core): every backend makes it and the chain takes it. Planted: the
    backend refuses the dialect (what the kernel backend did) and the trial reports it at
    that op."""
    import mprog.model
    from mprog.differential.trial import Divergence, Trial

    reference = mprog if backend is mprog.model else mprog.model
    if planted:
        real = backend.Program

        class Refusing(real):
            def __init__(self, name="", fn=None, dialect="upstream"):
                if dialect == "v2":
                    raise ValueError("planted: no v2 programs")
                super().__init__(name, fn, dialect)

        monkeypatch.setattr(backend, "Program", Refusing)
    ops = [{"op": "new_prog", "as": 0, "dialect": "v2"},
           {"op": "attach", "prog": 0, "flags": 0, "relative": None, "replace": None,
            "expected_revision": {"kind": "zero"}}]
    with Trial({"it": backend, "ref": reference}, "upstream") as trial:
        if planted:
            with pytest.raises(Divergence):
                trial.run(ops)
        else:
            trial.run(ops)
            assert trial.answers[-1] == {"it": ["ok", None], "ref": ["ok", None]}
