"""Words for the kernel's errnos, so a failure says what was wrong, not just a number."""
from __future__ import annotations

import errno
import os

from .. import errors

_WHAT = {
    errno.EINVAL: "invalid argument: unknown flag bits, a handle of the wrong kind, a missing "
                  "or non-program replace/old program, or a relative without BEFORE/AFTER",
    errno.EBADF: "a closed handle was named",
    errno.ENOENT: "not found: the program, the relative or the id is not there",
    errno.EEXIST: "the program is already in the chain",
    errno.ESTALE: "expected_revision is not the chain's revision",
    errno.ERANGE: "no such position, or the directives disagree",
    errno.EBUSY: "the entry belongs to a link",
    errno.EPERM: "old_prog is not the link's program",
    errno.ENOLINK: "the link is detached",
    errno.ENODEV: "the device is gone",
}


def fail(err: int, op: str, detail: str = "", *, full: bool = False) -> errors.MprogError:
    """The exception for errno ``err`` from ``op`` (``detail`` names the objects involved)."""
    what = "the chain already holds 63 programs" if full else _WHAT.get(err, os.strerror(err))
    code = errno.errorcode.get(err, str(err))
    return errors.error(err, op, f"{what} ({code}{'; ' + detail if detail else ''})",
                        full=full)
