"""Shared by the tests of the ops that are bad input themselves (``unmade_use``, ``assign``)."""
import random

import mprog
import mprog.model
from mprog.differential.batched import BatchedTrial
from mprog.differential.campaign import weights_for
from mprog.ops import Generator


def drawn(kind, traces=40, bad_input=40, **weights):
    """(op, answers) for each op of ``kind`` in ``traces`` generated core-against-model
    traces (upstream, ``bad_input`` percent, other ``Weights`` as given), each trace checked
    in full at its end."""
    for seed in range(traces):
        trial = BatchedTrial({"core": mprog, "model": mprog.model}, "upstream")
        w = weights_for(trial, bad_input)
        for name, value in weights.items():
            setattr(w, name, value)
        generator = Generator("upstream", random.Random(seed), w)
        try:
            while len(trial.ops) < 150:
                for op in generator.next(trial.view):
                    answers = trial.step(op)
                    if op["op"] == kind:
                        yield op, answers
            trial.check_full()
        finally:
            trial.close()
