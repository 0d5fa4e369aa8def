"""What must hold in the cgroup dialect after every step (``invariants`` hands over to this
module when a state has a cgroup tree).

- ``check_state``: each cgroup's list holds at most 64 programs; query count, arrays and the
  bundle's own ``revision``/``len``/iteration agree; every entry's ``prog_attach_flags`` is
  the list's mode and an empty list has mode 0; link ids and link flags are never reported;
  a revision is at least 1; a closed link is detached.
- ``check_transition``: a failed op changed nothing at all (no list, mode, effective array,
  link or program); a successful change stepped exactly one cgroup's revision by exactly 1
  (the revision is never reset); a successful op that is no change changed no list.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ..flags import CGROUP_MAX_PROGRAMS
from ..ops.vocabulary import Op

State = Dict[str, Any]


def check_state(state: State) -> List[str]:
    problems: List[str] = []
    for label, attached, closed, _ in ((k, *v) for k, v in state["links"].items()):
        if closed and attached:
            problems.append(f"l{label} is closed but attached")
    chain = state["chain"]
    if chain.get("closed"):
        return problems
    n = len(chain["progs"])
    if chain["count"] != n or len(chain["prog_flags"]) != n:
        problems.append(f"query count {chain['count']} but {n} program ids")
    if any(link is not None for link in chain["links"]) or any(chain["link_flags"]):
        problems.append(f"cgroup-bpf reports no link ids or link flags: {chain}")
    mine = state["self"]
    if (mine["revision"], mine["len"], mine["list"]) != (chain["revision"], n, chain["progs"]):
        problems.append(f"the bundle says {mine} but its query {chain}")
    for entry in state["cgroups"]:
        if entry[1] == "closed":
            continue
        label, revision, count, progs, mode, flags, _ = entry
        if count != len(progs) or count > CGROUP_MAX_PROGRAMS:
            problems.append(f"c{label}: {count} programs {progs} (at most {CGROUP_MAX_PROGRAMS})")
        if revision < 1:
            problems.append(f"c{label}: revision {revision} < 1")
        if any(f != mode for f in flags) or (not progs and mode):
            problems.append(f"c{label}: per-entry flags {flags} are not the mode {mode:#x}")
        unknown = [p for p in progs if isinstance(p, str)]
        if unknown:
            problems.append(f"c{label}: ids the harness never created: {unknown}")
    return problems


def _revisions(state: State) -> Dict[int, int]:
    return {e[0]: e[1] for e in state["cgroups"] if e[1] != "closed"}


def check_transition(op: Op, answer: List[Any], before: State, after: State) -> List[str]:
    problems: List[str] = []
    if answer[0] == "skip":
        return problems
    if answer[0] != "ok":
        for key in ("chain", "cgroups", "links", "progs"):
            if before.get(key) != after.get(key):
                problems.append(f"failed ({answer[1]}) but {key} changed")
        return problems
    old, new = _revisions(before), _revisions(after)
    stepped = {c: new[c] - old[c] for c in old if c in new and new[c] != old[c]}
    if any(new[c] < old[c] for c in stepped):
        problems.append(f"a revision went back: {old} -> {new}")
    kind = op["op"]
    link = before["links"].get(op.get("link"))
    changes = kind in ("attach", "link", "detach", "update") or (
        kind in ("link_detach", "link_close") and link is not None and link[0])
    if changes and list(stepped.values()) != [1]:
        problems.append(f"{kind} succeeded: one revision should step by 1, got {old} -> {new}")
    if not changes and stepped:
        problems.append(f"{kind} is no change but revisions moved: {old} -> {new}")
    return problems
