"""What must hold after every step, in every backend, whatever the others say.

Each check takes snapshots (``Interpreter.snapshot()``) and returns a list of problems (empty: fine).

- ``check_state``: a chain holds at most 63 programs, none twice, no id the harness does not
  know; the bundle's ``revision``, ``len`` and iteration agree with its query; a link is
  attached exactly when the chain holds it, with the program the link reports; a closed link is
  detached. Upstream reports 0 in both flag arrays; v2 reports pins (FIRST/LAST) where the
  slot's owner is (program or link array) and a FIRST holder sits at index 0, a LAST holder
  last, at most one of each.
- ``check_transition``: a failed op changed nothing at all; a successful change raised the
  revision by exactly 1, or emptied the chain, which is then freed and reports revision 1
  (SPEC "Data model"; docs/v2-rules.md "Detach"); a successful no-op (query, a link update to its own
  program, detaching a detached link, new/close of a program, staging in a transaction) changed
  nothing in the chain; a transaction's commit is one change or none.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ..flags import MAX_PROGRAMS, V2Flag
from ..ops.vocabulary import Op
from . import cgroup_invariants

State = Dict[str, Any]


def check_state(state: State, dialect: str) -> List[str]:
    if dialect == "cgroup":
        return cgroup_invariants.check_state(state)
    problems: List[str] = []
    chain = state["chain"]
    if chain.get("closed"):  # a closed bundle holds nothing: its links are detached
        return [f"l{label} is attached to a closed bundle"
                for label, (attached, _, _) in state["links"].items() if attached]
    progs, links = chain["progs"], chain["links"]
    n = len(progs)
    if chain["count"] != n:
        problems.append(f"query count {chain['count']} but {n} program ids")
    if not (len(links) == len(chain["prog_flags"]) == len(chain["link_flags"]) == n):
        problems.append("query arrays of different lengths")
    if n > MAX_PROGRAMS:
        problems.append(f"{n} programs in the chain (at most {MAX_PROGRAMS})")
    if len(set(progs)) != n:  # labels are ints, unknown ids "?id" strings: no collisions
        problems.append(f"a program is in the chain twice: {progs}")
    unknown = [x for x in (*progs, *links) if type(x) is str]
    if unknown:
        problems.append(f"ids the harness never created: {unknown}")
    if chain["revision"] < 1:
        problems.append(f"revision {chain['revision']} < 1")
    if n == 0 and chain["revision"] != 1:
        problems.append(f"empty chain reports revision {chain['revision']}, not 1")
    mine = state["self"]
    if mine["revision"] != chain["revision"]:
        problems.append(f"bundle.revision {mine['revision']} but query says {chain['revision']}")
    if mine["len"] != n:
        problems.append(f"len(bundle) {mine['len']} but query counts {n}")
    if mine["list"] != progs:
        problems.append(f"list(bundle) {mine['list']} but query says {progs}")
    in_chain = dict(zip(links, progs))  # link label -> the program of its slot
    in_chain.pop(None, None)  # slots attached by program
    for label, (attached, closed, prog) in state["links"].items():
        if closed and attached:
            problems.append(f"l{label} is closed but attached")
        if attached != (label in in_chain):
            problems.append(f"l{label}.attached is {attached} but the chain "
                            f"{'holds' if label in in_chain else 'does not hold'} it")
        if label in in_chain and prog != in_chain[label]:
            problems.append(f"l{label}.prog is {prog} but its slot holds {in_chain[label]}")
    problems += _check_flags(chain, dialect)
    return problems


def grown_clean(before: State, state: State, dialect: str) -> bool:
    """Whether ``check_state(state, dialect)`` is surely ``[]``, proved from ``before`` (a
    state ``check_state`` found nothing wrong with) where ``state``'s chain is ``before``'s
    with slots appended at its end: the usual change, as chains fill at the end. The checks
    ``before`` passed hold for its slots still; only what the new slots bring is checked
    (a duplicate, an unknown id, flags, the links they hold), and what is whole-state and
    cheap (counts, the bundle's own view) is checked whole. False: no proof (a full check
    decides, and words the problems). Upstream only (v2's pins depend on positions)."""
    if dialect != "upstream":
        return False
    old, new = before["chain"], state["chain"]
    if old.get("closed") or new.get("closed"):
        return False
    progs, links, old_progs = new["progs"], new["links"], old["progs"]
    n, m = len(progs), len(old_progs)
    pflags, lflags = new["prog_flags"], new["link_flags"]
    if not (m < n <= MAX_PROGRAMS and new["count"] == n
            and len(links) == len(pflags) == len(lflags) == n and new["revision"] >= 1):
        return False
    added, added_links = progs[m:], links[m:]
    # before's labels were known ints, none twice: only the new ones can add a problem
    if (str in map(type, added) or str in map(type, added_links)
            or len(set(added)) != n - m or any(map(old_progs.__contains__, added))
            or progs[:m] != old_progs or links[:m] != old["links"]
            or any(pflags) or any(lflags)):
        return False
    mine = state["self"]
    if not (mine["revision"] == new["revision"] and mine["len"] == n
            and mine["list"] == progs):
        return False
    # The links: ``before``'s kept their states and were right about its chain; the new
    # slots' links (none of them in ``before``'s chain or among its links) must be attached,
    # open and hold their slot's program; links made since, attached exactly if in a new
    # slot (the conditions are check_state's, negated).
    slots = dict(zip(added_links, added))
    slots.pop(None, None)
    old_links, link_states = before["links"], state["links"]
    if link_states is old_links:
        if not slots:  # programs attached by program, the links as they were
            return True
    elif not old_links.items() <= link_states.items():
        return False
    if any(label in old_links or label in old["links"] for label in slots):
        return False
    for label in link_states.keys() - old_links.keys():
        if label in old["links"]:
            return False
        attached, closed, prog = link_states[label]
        held = label in slots
        if ((closed and attached) or attached != held
                or (held and prog != slots[label])):
            return False
    return True


#: v2's pins, and the bits other than them that ``~(FIRST | LAST)`` gives (the flag's
#: defined ones), as ints: the enum's operators run in Python, for every slot of every state
#: checked (the same bits, so the same verdicts).
_FIRST, _LAST = int(V2Flag.FIRST), int(V2Flag.LAST)
_NOT_PINS = int(~(V2Flag.FIRST | V2Flag.LAST))


def _check_flags(chain: Dict[str, Any], dialect: str) -> List[str]:
    problems: List[str] = []
    n = len(chain["progs"])
    pflags, lflags, links = chain["prog_flags"], chain["link_flags"], chain["links"]
    if dialect != "v2":
        if any(pflags) or any(lflags):
            problems.append(f"upstream reports nonzero attach flags {pflags} {lflags}")
        return problems
    firsts, lasts = [], []
    for i in range(n):
        owner, other = (lflags, pflags) if links[i] is not None else (pflags, lflags)
        if other[i]:
            problems.append(f"entry {i}: pins {other[i]:#x} reported in the wrong array")
        if owner[i] & _NOT_PINS:
            problems.append(f"entry {i}: flags {owner[i]:#x} beyond FIRST|LAST")
        if (owner[i] | other[i]) & _FIRST:
            firsts.append(i)
        if (owner[i] | other[i]) & _LAST:
            lasts.append(i)
    if len(firsts) > 1 or (firsts and firsts[0] != 0):
        problems.append(f"FIRST held at {firsts} (at most one, at index 0)")
    if len(lasts) > 1 or (lasts and lasts[0] != n - 1):
        problems.append(f"LAST held at {lasts} (at most one, at index {n - 1})")
    return problems


def is_change(op: Op, before: State) -> bool:
    """Whether ``op``, if it succeeds, must change the chain (judged on the state before)."""
    kind = op["op"]
    if kind in ("attach", "link", "detach"):
        return True
    if kind in ("link_detach", "link_close"):
        link = before["links"].get(op["link"])
        return bool(link and link[0])
    if kind == "update":
        link = before["links"].get(op["link"])
        return bool(link and link[0] and link[2] != op["new_prog"])
    return False


def check_transition(op: Op, answer: List[Any], before: State, after: State) -> List[str]:
    if "cgroups" in before or "cgroups" in after:
        return cgroup_invariants.check_transition(op, answer, before, after)
    problems: List[str] = []
    kind = op["op"]
    if answer[0] == "skip":
        return problems
    if answer[0] != "ok":
        if before is after:  # the snapshot read as the last one did: nothing changed
            return problems
        if differs(before["chain"], after["chain"]):
            problems.append(f"failed ({answer[1]}) but the chain changed: "
                            f"{_diff(before['chain'], after['chain'])}")
        if differs(before["links"], after["links"]):
            problems.append(f"failed ({answer[1]}) but links changed: "
                            f"{_diff(before['links'], after['links'])}")
        if differs(before["progs"], after["progs"]):
            problems.append(f"failed ({answer[1]}) but programs changed")
        return problems
    old, new = before["chain"], after["chain"]
    if kind == "bundle_close" or old.get("closed"):
        return problems
    if kind == "tx_commit":
        # one change if anything was staged (revision +1, or freed back to 1), else none
        if old != new and new["revision"] != old["revision"] + 1 and not (
                not new["progs"] and new["revision"] == 1):
            problems.append(f"revision went {old['revision']} -> {new['revision']} on a commit")
        return problems
    if is_change(op, before):
        n = len(new["progs"])
        if n == 0:
            if new["revision"] != 1:
                problems.append(f"emptied chain reports revision {new['revision']}, not 1")
        elif new["revision"] != old["revision"] + 1:
            problems.append(f"revision went {old['revision']} -> {new['revision']} on a change")
        delta = n - len(old["progs"])
        want = _LENGTH_STEP[kind]
        if kind == "attach" and op["flags"] & 4:  # REPLACE (bit 2 in both dialects)
            want = 0
        if delta != want:
            problems.append(f"chain length went {len(old['progs'])} -> {n} (expected {want:+d})")
    elif differs(old, new):
        problems.append(f"succeeded without a change but the chain changed: {_diff(old, new)}")
    return problems


#: How a successful change moves the chain's length, per op (REPLACE: by 0).
_LENGTH_STEP = {"attach": 1, "link": 1, "detach": -1, "link_detach": -1, "link_close": -1,
                "update": 0}


def differs(a: Any, b: Any) -> bool:
    """``a != b``, answered by identity first (snapshots reuse the parts that read the same,
    and a dict compared with itself still compares every value)."""
    return a is not b and bool(a != b)


def _diff(a: Dict[Any, Any], b: Dict[Any, Any]) -> str:
    keys = sorted(set(a) | set(b), key=str)
    return "; ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))
