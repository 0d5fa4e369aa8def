"""Hand an exception that cannot be raised to ``sys.unraisablehook``, as C code's
``PyErr_WriteUnraisable`` does (the core's watchers go there from C++).

The default hook accepts only its own argument type (``UnraisableHookArgs``, a struct
sequence that ``sys`` does not export), so build that: its type is learnt once, from one
unraisable exception raised into a hook of our own.
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional


def _hook_args_type() -> Any:
    seen: List[Any] = []

    class _Raiser:
        def __del__(self) -> None:
            raise RuntimeError  # reported to the hook below, as an unraisable exception

    saved = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        _Raiser()  # dropped at once: its __del__ raises
    finally:
        sys.unraisablehook = saved
    return type(seen[0])


_HookArgs = _hook_args_type()


def report_unraisable(exc: BaseException, err_msg: Optional[str], obj: Any) -> None:
    """Call ``sys.unraisablehook`` with ``exc``, as the interpreter would."""
    sys.unraisablehook(_HookArgs((type(exc), exc, exc.__traceback__, err_msg, obj)))
