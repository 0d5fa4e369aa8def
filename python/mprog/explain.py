"""The answer of a dry run: would an operation succeed, and where, or which rule refuses it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Explanation:
    """``b.explain(op, ...)``: what ``op`` would do now, without doing it.

    ``action`` is ``"insert"``, ``"replace"`` or ``"remove"`` and ``index`` the slot it acts
    on (for ``insert``, the index the program would have); on refusal ``error`` is the
    exception the operation would raise (its ``errno`` and message name the rule).
    """

    op: str
    action: Optional[str] = None
    index: Optional[int] = None
    error: Optional[OSError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.op} would fail: {self.error}"
        where = {"insert": "insert at", "replace": "replace the program at",
                 "remove": "remove the program at"}[self.action or "insert"]
        return f"{self.op} would {where} index {self.index}"
