"""What ``Bundle.run`` accepts from a program's ``fn`` (docs/protocol.md, "Bad input").

A verdict is a C ``int`` in the kernel (and in the C++ core): an ``int`` (a ``bool`` is one)
in [-2**31, 2**31). Anything else is the program's mistake, reported with its name.
"""
from __future__ import annotations

from typing import Any

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def checked(verdict: Any, prog: Any) -> int:
    """``verdict`` as an int, or TypeError/ValueError naming ``prog``."""
    if not isinstance(verdict, int):
        raise TypeError(f"run: program {prog.id} ({prog.name!r}) returned "
                        f"{type(verdict).__name__}, not an int")
    if not _INT_MIN <= verdict <= _INT_MAX:
        raise ValueError(f"run: program {prog.id} ({prog.name!r}) returned {verdict}, "
                         "outside a C int")
    return int(verdict)
