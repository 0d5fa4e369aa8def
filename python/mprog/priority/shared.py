"""Where a manager's priorities come from: its own, then those it shares with others.

``priority_of`` is either a function ``prog_id -> priority or None`` (a rule, e.g. one that
reads a program's name; read only) or a mapping (a daemon's store: a dict shared by threads, a
``multiprocessing`` manager's dict shared by processes). A store that takes item assignment is
written by the manager, which sets a program's entry only while the program is out of the
chain, so that no other manager ever sees it somewhere its priority does not fit.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

PriorityOf = Union[Callable[[int], Optional[int]], Any]


class Priorities:
    """The priority of each program id: this manager's own first, then the shared source."""

    def __init__(self, priority_of: Optional[PriorityOf] = None) -> None:
        if priority_of is not None and not callable(priority_of) and not hasattr(priority_of,
                                                                                  "get"):
            raise TypeError("priority_of must be a function of a program id or a mapping, "
                            f"not {type(priority_of).__name__}")
        self._own: Dict[int, int] = {}
        self._shared = priority_of
        #: The store this manager writes, if the shared source takes item assignment.
        self._store: Any = (priority_of if priority_of is not None and not callable(priority_of)
                            and hasattr(priority_of, "__setitem__") else None)

    @property
    def writable(self) -> bool:
        """Whether the shared source is a store this manager writes."""
        return self._store is not None

    def of(self, prog_id: int) -> Optional[int]:
        mine = self._own.get(prog_id)
        if mine is not None or self._shared is None:
            return mine
        found = self._shared(prog_id) if callable(self._shared) else self._shared.get(prog_id)
        return None if found is None else _priority(found)

    def own(self, prog_id: int) -> Optional[int]:
        return self._own.get(prog_id)

    def set(self, prog_id: int, priority: int) -> None:
        self._own[prog_id] = priority
        if self._store is not None:
            self._store[prog_id] = priority

    def forget(self, prog_id: int) -> None:
        self._own.pop(prog_id, None)
        if self._store is not None:
            self._store.pop(prog_id, None)


def _priority(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"a priority is an int, not {type(value).__name__}")
    return value
