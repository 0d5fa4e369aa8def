"""How long handles live, the same on every backend (docs/protocol.md, "Lifetimes").

A Program, Link or Bundle is one kernel object, as an fd names one: it is never copied or
pickled (a copy would be a second owner of the same id, or of the same fd). A Link or Bundle
dropped without ``close()`` is released when it is collected, with a ``ResourceWarning``, as
Python's files are; a Program dropped unclosed is let go silently once nothing holds it (a
chain or a link keeps it alive).
"""
from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, NoReturn, Optional, Tuple, TypeVar

_L = TypeVar("_L", bound="LinkScope")
_T = TypeVar("_T", bound=type)


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


# -- instances never initialized (docs/protocol.md, Bad input, rule 14) --------------------

def uninitialized(obj: object) -> TypeError:
    """The error for using, as itself, an instance whose ``__init__`` never ran (made by
    ``T.__new__(T)``): the same class on every backend (the core's binding raises it too)."""
    cls = type(obj)
    return TypeError(f"{cls.__module__}.{cls.__qualname__} was never initialized (its "
                     "__init__ did not run)")


def uninitialized_argument(what: str, value: object) -> TypeError:
    """The error for such an instance passed as the argument ``what`` (every backend checks
    a handle's type first, so this comes before anything else of the call)."""
    return TypeError(f"{what}: {type(value).__name__} was never initialized (its __init__ "
                     "did not run)")


#: The special methods a never-initialized instance refuses, besides its public members.
REFUSED_SPECIAL = ("__repr__", "__len__", "__iter__", "__enter__", "__exit__")

def refuses_uninitialized(marker: str, *, checks_itself: Tuple[str, ...] = (),
                          fields: bool = True) -> Callable[[_T], _T]:
    """Class decorator: an instance without ``marker`` (a field ``__init__`` sets, with no
    class default) refuses every public method and property, and ``REFUSED_SPECIAL``, with
    ``uninitialized``. Classmethods, staticmethods and plain class attributes are the class's,
    not an instance's: left alone. Each wrapped call pays one look-up, so members on a hot
    path are named in ``checks_itself`` and check for themselves (a zero-cost ``try`` around
    their first read of a field).

    ``fields``: a ``__getattr__`` refuses reading a field ``__init__`` sets (a plain instance
    attribute such as a kernel Program's ``name``) too. Python calls it only where the usual
    look-up failed, but a class with one loses CPython 3.11's specialized attribute reads, so
    the model, read on every op of a campaign, gives its fields properties instead.
    (Nor does the model give such fields class defaults: on CPython 3.11 a class attribute
    whose type is a Python class, or any class attribute on a field that is written, keeps
    the instances' reads or writes of that name from being specialized.)"""
    def decorate(cls: _T) -> _T:
        setattr(cls, "_initialized_by", marker)  # (what initialized() reads: one place)
        if fields:
            setattr(cls, "__getattr__", _missing_field(marker))
        release = inspect.getattr_static(cls, "__del__", None)
        if (inspect.isfunction(release) and not hasattr(release, "refuses_uninitialized")
                and "__del__" not in checks_itself):
            setattr(cls, "__del__", _released(release, marker))
        for name in dir(cls):
            if (name.startswith("_") and name not in REFUSED_SPECIAL) or name in checks_itself:
                continue
            raw = inspect.getattr_static(cls, name)
            if isinstance(raw, property):
                if raw.fget is None:
                    continue
                setattr(cls, name, property(_checked(raw.fget, marker),
                                            None if raw.fset is None
                                            else _checked(raw.fset, marker),
                                            raw.fdel, raw.__doc__))
            elif inspect.isfunction(raw) and not hasattr(raw, "refuses_uninitialized"):
                setattr(cls, name, _checked(raw, marker))  # (a subclass: its own, once)
        return cls
    return decorate


def _checked(fn: Callable[..., Any], marker: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not initialized(self, marker):
            raise uninitialized(self)
        return fn(self, *args, **kwargs)
    checked.refuses_uninitialized = True  # type: ignore[attr-defined]
    return checked


def _released(release: Callable[[Any], None], marker: str) -> Callable[[Any], None]:
    """``__del__``: an instance never initialized holds nothing to release."""
    @functools.wraps(release)
    def __del__(self: Any) -> None:
        if initialized(self, marker):
            release(self)
    __del__.refuses_uninitialized = True  # type: ignore[attr-defined]
    return __del__


def _missing_field(marker: str) -> Callable[[Any, str], Any]:
    def __getattr__(self: Any, name: str) -> Any:
        if not initialized(self, marker):
            raise uninitialized(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    return __getattr__


def initialized(obj: Any, marker: Optional[str] = None) -> bool:
    """Whether ``obj`` has ``marker``, a field its ``__init__`` sets (and its class has no
    default for); by default the one its class was decorated with (``refuses_uninitialized``:
    the same test for an instance used as itself and as an argument)."""
    if marker is None:
        marker = type(obj)._initialized_by
    # (the plain look-up, which never calls __getattr__: no recursion through it)
    try:
        object.__getattribute__(obj, marker)
    except AttributeError:
        return False
    return True
