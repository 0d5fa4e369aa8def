"""Opt-in: expedited RCU grace periods, which make the live kernel about 200x faster here.

tcx waits for a full RCU grace period (``synchronize_rcu``) on every change of a chain, about
10 ms on a HZ=250 kernel with lazy RCU: an attach+detach pair costs ~20 ms. With
``/sys/kernel/rcu_expedited`` set the same pair costs ~0.1 ms. The switch is machine-wide, so
it is never flipped behind the caller's back: a fuzzer or test module asks for it explicitly,
and the previous value is put back afterwards.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

_KNOB = "/sys/kernel/rcu_expedited"


@contextlib.contextmanager
def grace_periods(expedited: bool) -> Iterator[bool]:
    """Within the block, grace periods are expedited (or, with False, the kernel's normal
    ones); yields whether that could be arranged. The previous setting is put back."""
    try:
        with open(_KNOB) as f:
            before = f.read().strip()
        with open(_KNOB, "w") as f:
            f.write("1" if expedited else "0")
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        with open(_KNOB, "w") as f:
            f.write(before)


def expedited_grace_periods() -> "contextlib.AbstractContextManager[bool]":
    """Within the block, grace periods are expedited; yields whether that could be arranged."""
    return grace_periods(True)
