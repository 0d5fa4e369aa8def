"""One operation vocabulary and one interpreter, for every backend and every engine.

Everything that drives mprog's backends with operations builds on this package: the
differential campaign and its hypothesis state machine (``mprog.differential``), recorded
traces (``mprog.trace``), the batch path (``mprog.batch`` encodes these ops into the records
the C++ core replays) and coverage-guided harnesses.

- ``vocabulary``: the operation format (JSON-able dicts naming objects by label), ``validate``,
  ``describe``, flag names, ``relabel`` and the bad-input values.
- ``interpreter``: ``Interpreter(name, backend_module, dialect)``: ``apply(op)`` runs one op on
  that backend and returns its normalized outcome; ``digest()`` is the cheap state compared
  after every step, ``snapshot()`` the full one.
- ``generate``: ``Generator(dialect, rng, weights)``, the one random generator (``next(view)``).

The smallest use, comparing two backends on a list of ops::

    from mprog import model
    import mprog
    from mprog.ops import Interpreter
    core, ref = Interpreter("core", mprog, "upstream"), Interpreter("model", model, "upstream")
    for op in ops:
        assert core.apply(op) == ref.apply(op) and core.digest(op) == ref.digest(op)

``mprog.differential.Trial`` does this for N backends with the labels, the skipping of ops
that name what does not exist, the invariants and the reports.
"""
from __future__ import annotations

from .generate import BATCH, Generator, View, Weights
from .interpreter import SKIP, Interpreter, errname
from .vocabulary import (BAD_VALUES, KNOWN_FLAGS, OPS, READ_ONLY, TRANSACTION_OPS, Op,
                         cgroup_refs, describe, disambiguate, flag, flag_names, link_refs,
                         prog_refs, relabel, tx_refs, validate)

__all__ = ["BAD_VALUES", "BATCH", "Generator", "Interpreter", "KNOWN_FLAGS", "OPS", "Op",
           "READ_ONLY", "SKIP", "TRANSACTION_OPS", "View", "Weights", "cgroup_refs", "describe",
           "disambiguate", "errname", "flag", "flag_names", "link_refs", "prog_refs", "relabel",
           "tx_refs", "validate"]
