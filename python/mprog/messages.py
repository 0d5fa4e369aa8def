"""One text per rule: what a failure message says after ``"<op>: "``.

The reference model formats these where it raises, and the C++ core's binding formats the same
entries from the reason the core returns (``mprog::Why``) and the facts it knows
(cpp/python/raise.cpp; the table is handed to it once, at import). So a rule reads the same
from either backend: ``detach: program 12 is attached by link 1; detach the link instead``.

Facts name handles as :func:`program` and :func:`link` do.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

TEXTS: Dict[str, str] = {
    "unknown_flags": "unknown flag bits {bits:#x}",
    "stale": "expected revision {expected}, but the chain is at {revision}",
    "exists": "{program} is already in the chain",
    "chain_full": "the chain is full ({limit} programs)",
    # by program: detach, upstream's REPLACE (bpf_mprog_pos_exact)
    "absent": "{program} is not in the chain",
    "replace_absent": "the program to replace ({program}) is not in the chain",
    "relative_absent": "relative {relative} is not in the chain",
    # a program named by program whose slot a link owns
    "link_owned": "{program} is attached by {link}",
    # an entry picked by position (no program named) that a link owns
    "link_owned_detach": "{program} is attached by {link}; detach the link instead",
    # v2 REPLACE: the slot of the program to replace is another's (owner: a link, or
    # PROGRAM_ATTACH)
    "slot_owned": "{program}'s slot belongs to {owner}",
    "no_directive": "{unplaced} needs BEFORE or AFTER",
    "empty": "the chain is empty",
    "link_closed": "{link} is closed",
    "link_detached": "{link} is detached",
    "wrong_old_prog": "{link} runs {program}, not {old}",
    "pin_position": "only the {end} entry can hold {pin}",
    "transaction_expected": "expected revision {expected}, but it began at {base}",
    "transaction_changed": "the chain changed since revision {base} (it is at {revision})",
}


PROGRAM_ATTACH = "a program attach"


def text(rule: str, **facts: Any) -> str:
    """The message of ``rule`` with its facts filled in."""
    return TEXTS[rule].format_map(facts)  # (format(**facts) would copy the dict again)


def program(ident: Optional[int]) -> str:
    return "none" if ident is None else f"program {ident}"


def link(ident: int) -> str:
    return f"link {ident}"


def unplaced(relative: Optional[str], flags: int) -> str:
    """What a request without BEFORE/AFTER named that needs one: a relative, or flag bits."""
    return f"relative {relative}" if relative is not None else f"flag bits {flags:#x}"
