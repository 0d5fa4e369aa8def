"""Each backend's own time, what the progress line's ops/s per backend is made of: the core's
(each batch the executor runs) and the model's (measured on one op in
``batched.TIMED_EVERY`` and counted that many times) are both there, each a part of the
campaign's time, and the model's estimate is near what timing every op gives."""
import mprog
from mprog import model
from mprog.differential import batched
from mprog.differential.campaign import run_campaign


def _seconds(traces: int) -> tuple:
    r = run_campaign({"core": mprog, "model": model}, traces=traces, seed=11, out=None)
    return r.backend_seconds, r.seconds


def test_both_backends_have_their_time_and_it_is_part_of_the_campaign_s() -> None:
    spent, total = _seconds(40)
    assert set(spent) == {"core", "model"}
    assert all(0 < s < total for s in spent.values()), (spent, total)


def test_the_model_s_sampled_time_is_near_its_time_op_by_op(monkeypatch) -> None:
    sampled = _seconds(150)[0]["model"]
    monkeypatch.setattr(batched, "TIMED_EVERY", 1)
    every = _seconds(150)[0]["model"]
    # the same ops either way; the machine's noise is the only other difference
    assert 0.5 < sampled / every < 2, (sampled, every)
