"""The result of ``Bundle.query``: the chain as the kernel reports it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Tuple


_set = object.__setattr__  # (a frozen dataclass's own __setattr__ refuses)


class QueryEntry(NamedTuple):
    """One slot of the chain: its program, its link (0 if attached by program), their flags."""

    prog_id: int
    link_id: int
    prog_attach_flags: int
    link_attach_flags: int


@dataclass(frozen=True, init=False)
class QueryResult:
    """Revision, total count and per-entry arrays, in chain order.

    ``count`` is the chain's total; the arrays hold as many entries as were asked for
    (all of them unless ``query(count=...)`` asked for fewer). ``entries`` gives the same as
    one ``QueryEntry`` per slot; ``str()`` (or ``table()``) renders it as a table.
    ``attach_flags`` is the cgroup dialect's mode (ALLOW_OVERRIDE/ALLOW_MULTI, 0 for none
    and for an effective query); always 0 for tcx.
    """

    revision: int
    count: int
    prog_ids: Tuple[int, ...] = ()
    link_ids: Tuple[int, ...] = ()
    prog_attach_flags: Tuple[int, ...] = ()
    link_attach_flags: Tuple[int, ...] = ()
    attach_flags: int = 0

    def __init__(self, revision: int, count: int, prog_ids: Tuple[int, ...] = (),
                 link_ids: Tuple[int, ...] = (), prog_attach_flags: Tuple[int, ...] = (),
                 link_attach_flags: Tuple[int, ...] = (), attach_flags: int = 0) -> None:
        # The __init__ a frozen dataclass writes sets each field through object.__setattr__,
        # one call per field; every backend builds one of these per query (the fuzzer after
        # nearly every operation), so the fields go in as one dict made whole, the instance's
        # own: a little dearer to build than filling ``self.__dict__`` item by item, but then
        # each field reads about three times faster (and the interpreter reads six per query).
        _set(self, "__dict__", {
            "revision": revision, "count": count, "prog_ids": prog_ids, "link_ids": link_ids,
            "prog_attach_flags": prog_attach_flags, "link_attach_flags": link_attach_flags,
            "attach_flags": attach_flags})

    @property
    def entries(self) -> Tuple[QueryEntry, ...]:
        return tuple(QueryEntry(*row) for row in zip(self.prog_ids, self.link_ids,
                                                     self.prog_attach_flags,
                                                     self.link_attach_flags))

    def __repr__(self) -> str:
        slots = ", ".join(f"{p}@link{l}" if l else str(p)
                          for p, l in zip(self.prog_ids, self.link_ids))
        return f"QueryResult(revision={self.revision}, count={self.count}, programs=[{slots}])"

    def table(self) -> str:
        """The chain as an aligned text table, one row per slot."""
        header = ("#", "prog", "link", "prog flags", "link flags")
        rows = [header] + [(str(i), str(e.prog_id), str(e.link_id) if e.link_id else "-",
                            hex(e.prog_attach_flags), hex(e.link_attach_flags))
                           for i, e in enumerate(self.entries)]
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = [f"revision {self.revision}, {self.count} program(s)"]
        lines += ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
