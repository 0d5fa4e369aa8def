"""How long handles live, the same on every backend (docs/protocol.md, "Lifetimes").

A Program, Link or Bundle is one kernel object, as an fd names one: it is never copied or
pickled (a copy would be a second owner of the same id, or of the same fd). A Link or Bundle
dropped without ``close()`` is released when it is collected, with a ``ResourceWarning``, as
Python's files are; a Program dropped unclosed is let go silently once nothing holds it (a
chain or a link keeps it alive).
"""
from __future__ import annotations

import warnings
from typing import Any, NoReturn, TypeVar

_L = TypeVar("_L", bound="LinkScope")


class Unique:
    """A handle that cannot be copied or pickled (``copy``, ``deepcopy`` and ``pickle`` all
    ask ``__reduce_ex__``)."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(f"cannot copy or pickle a {type(self).__name__}: it is one kernel "
                        "object, like an fd")


class LinkScope(Unique):
    """A link as a context manager: closed when its with block ends, unless ``keep()`` was
    called (off the kernel's ABI: a convenience of the Python API)."""

    _kept = False

    def close(self) -> None:
        raise NotImplementedError

    def keep(self: _L) -> _L:
        """Outlive the with block: the link stays until close() (or until it is dropped)."""
        self._kept = True
        return self

    def __enter__(self: _L) -> _L:
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._kept:
            self.close()


def warn_unclosed(obj: object) -> None:
    """Say that ``obj`` was dropped without ``close()`` (call it from ``__del__``)."""
    warnings.warn(f"unclosed {obj!r}: call close() (or use a with block)", ResourceWarning,
                  stacklevel=2, source=obj)
