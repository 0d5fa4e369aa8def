"""``invariants.grown_clean`` proves a state clean from the clean state before it only where
``check_state`` agrees: on the states real traces go through, and on those states with one
thing wrong planted in every part ``check_state`` reads."""
from __future__ import annotations

import copy
import random
from typing import Any, Callable, Dict, List, Tuple

import mprog
from mprog import model
from mprog.differential.campaign import weights_for
from mprog.differential.invariants import check_state, grown_clean
from mprog.differential.trial import Trial
from mprog.ops.generate import Generator

State = Dict[str, Any]


def _pairs(seeds: int = 12, length: int = 150) -> List[Tuple[State, State]]:
    """Consecutive snapshots (the model's, read op by op) of generated upstream traces."""
    out = []
    for seed in range(seeds):
        trial = Trial({"core": mprog, "model": model}, "upstream", full=True)
        gen = Generator("upstream", random.Random(seed), weights_for(trial))
        try:
            before = copy.deepcopy(trial.states["model"])
            while len(trial.ops) < length:
                for op in gen.next(trial.view):
                    trial.step(op)
                    now = copy.deepcopy(trial.states["model"])
                    out.append((before, now))
                    before = now
        finally:
            trial.close()
    return out


def _last_link(s: State) -> Any:
    return next(label for label in reversed(s["chain"]["links"]) if label is not None)


# each plants one thing check_state reports, in the part of the state the new slots touch
PLANTS: List[Callable[[State], None]] = [
    lambda s: s["chain"]["progs"].__setitem__(-1, s["chain"]["progs"][0]),  # twice
    lambda s: s["chain"]["progs"].__setitem__(-1, "?99"),  # an unknown id
    lambda s: s["chain"]["links"].__setitem__(-1, "?98"),
    lambda s: s["chain"].__setitem__("count", s["chain"]["count"] + 1),
    lambda s: s["chain"]["prog_flags"].__setitem__(-1, 8),
    lambda s: s["chain"]["link_flags"].__setitem__(0, 8),
    lambda s: s["chain"]["links"].append(None),  # arrays of different lengths
    lambda s: s["chain"].__setitem__("revision", 0),
    lambda s: s["self"].__setitem__("revision", s["self"]["revision"] + 1),
    lambda s: s["self"].__setitem__("len", s["self"]["len"] - 1),
    lambda s: s["self"]["list"].reverse(),
    lambda s: s["self"]["list"].pop(),
    # the last slot's link: detached, closed, another program, gone from the chain
    lambda s: s["links"][_last_link(s)].__setitem__(0, False),
    lambda s: s["links"][_last_link(s)].__setitem__(1, True),
    lambda s: s["links"][_last_link(s)].__setitem__(2, "?97"),
    lambda s: s["chain"]["links"].__setitem__(-1, None),
    # an old link: attached while out of the chain, or now in a new slot
    lambda s: [v.__setitem__(0, True) for v in s["links"].values() if not v[0]][:1],
    lambda s: s["chain"]["links"].__setitem__(
        -1, next(iter(label for label, v in s["links"].items() if not v[0]), None)),
    # the same program twice, the bundle's own view agreeing
    lambda s: [s[k][key].__setitem__(-1, s[k][key][0])
               for k, key in (("chain", "progs"), ("self", "list"))],
    # the first slot (a slot of the chain before): another link's, or no link's
    lambda s: s["chain"]["links"].__setitem__(
        0, next(iter(label for label, v in s["links"].items() if not v[0]))),
    lambda s: s["chain"]["links"].__setitem__(
        0, None if s["chain"]["links"][0] is not None else _last_link(s)),
    # two new slots with one program (the rest of the state agreeing)
    lambda s: [s["chain"][key].append(s["chain"][key][-1] if key == "progs" else
                                      None if key == "links" else 0)
               for key in ("progs", "links", "prog_flags", "link_flags")]
    and [s["chain"].__setitem__("count", s["chain"]["count"] + 1),
         s["self"]["list"].append(s["chain"]["progs"][-1]),
         s["self"].__setitem__("len", s["self"]["len"] + 1)],
    # the first link's slot (of the chain before, or new) holds another program
    lambda s: [s[k][key].__setitem__(next(i for i, label in enumerate(s["chain"]["links"])
                                          if label is not None), 999)
               for k, key in (("chain", "progs"), ("self", "list"))],
    # a link made since, attached but in no slot
    lambda s: s["links"].__setitem__(max(s["links"], default=-1) + 1, [True, False, 0]),
]


def test_a_proof_only_where_the_full_check_finds_nothing() -> None:
    proved = 0
    planted = 0
    for before, now in _pairs():
        if check_state(before, "upstream"):
            continue
        if grown_clean(before, now, "upstream"):
            proved += 1
            assert check_state(now, "upstream") == []
            for plant in PLANTS:
                bad = copy.deepcopy(now)
                try:
                    plant(bad)
                except (StopIteration, ValueError, IndexError):
                    continue  # nothing of that kind in this state
                if check_state(bad, "upstream"):
                    planted += 1
                    assert not grown_clean(before, bad, "upstream"), (plant, before, bad)
    # the traces grow chains often enough for the proof to be the common case, and every
    # plant was tried on many of them
    assert proved > 500 and planted > 5000


def test_no_proof_for_v2_or_a_closed_bundle() -> None:
    before, now = next((b, n) for b, n in _pairs(3)
                       if len(n["chain"]["progs"]) > len(b["chain"]["progs"]))
    assert grown_clean(before, now, "upstream")
    assert not grown_clean(before, now, "v2")
    closed = copy.deepcopy(now)
    closed["chain"]["closed"] = True
    assert not grown_clean(before, closed, "upstream")
