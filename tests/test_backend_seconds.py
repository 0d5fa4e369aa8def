"""Each backend's own time, what the progress line's ops/s per backend is made of: the core's
(each batch the executor runs) and the model's (measured on one op in
``batched.TIMED_EVERY`` and counted that many times) are both there, each a part of the
campaign's time, and the model's estimate is near what timing every op gives (on a clock of
the test's own: a timed test would only measure the machine's load)."""
import pytest

import mprog
from mprog import model
from mprog.differential import batched, trial
from mprog.differential.campaign import run_campaign
from mprog.ops.interpreter import Interpreter


def _seconds(traces: int) -> tuple:
    r = run_campaign({"core": mprog, "model": model}, traces=traces, seed=11, out=None)
    return r.backend_seconds, r.seconds


def test_both_backends_have_their_time_and_it_is_part_of_the_campaign_s() -> None:
    spent, total = _seconds(40)
    assert set(spent) == {"core", "model"}
    assert all(0 < s < total for s in spent.values()), (spent, total)


def test_the_model_s_sampled_time_is_near_its_time_op_by_op(monkeypatch) -> None:
    # A clock of our own, so the machine's load plays no part: it stands still but while the
    # model runs an op, when it moves by that op's made-up cost (a refusal dearer than a
    # success, and each kind of op its own price, as the model's costs differ). The estimate
    # from one op in TIMED_EVERY, counted that many times, must come near the sum over every
    # op: the ops at the sampled positions are a fair sample of the trace.
    clock = [0.0]
    price = {"new_prog": 0.4, "attach": 1.0, "link": 1.3, "detach": 0.9, "query": 0.6}
    real_apply = Interpreter.apply

    def apply(self, op):  # type: ignore[no-untyped-def]
        answer = real_apply(self, op)
        if self.name == "model":
            clock[0] += price.get(op["op"], 0.8) * (1.0 if answer[0] == "ok" else 1.9)
        return answer

    monkeypatch.setattr(Interpreter, "apply", apply)
    for module in (batched, trial):
        monkeypatch.setattr(module, "perf_counter", lambda: clock[0])
    sampled = _seconds(150)[0]["model"]
    monkeypatch.setattr(batched, "TIMED_EVERY", 1)
    clock[0] = 0.0
    every = _seconds(150)[0]["model"]
    # timing every op on this clock (the batched step's usual way in C reads it too) is
    # exactly all the time the model took on it
    assert every == pytest.approx(clock[0]) and every > 0, (every, clock[0])
    assert 0.9 < sampled / every < 1.1, (sampled, every)
