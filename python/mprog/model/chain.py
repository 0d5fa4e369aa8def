"""The data the rules work on, and the small pure helpers they are built from.

A chain is a tuple of slots in run order. As with the kernel's a/b entries, a change never edits
the live tuple: the rules build a new one (the "peer") and the bundle commits it in one step,
so a failed operation has changed nothing.
"""
from __future__ import annotations

import enum
import errno as E
from typing import Any, Optional, Tuple, Type

from .. import messages as M
from ..errors import error
from .handles import BpfLink, Link, Program


class Slot:
    """One attached program; ``link`` if it was attached through one; v2 pins (FIRST/LAST).

    Never changed once made (a change builds new slots: ``with_prog``). A plain class with
    ``__slots__``, not a NamedTuple: the rules read ``slot.prog`` in every lookup, and a slot
    attribute is the fastest read Python has. Two slots are equal only if they are the same
    slot (the chains compare slots by identity)."""

    __slots__ = ("prog", "link", "pins")

    def __init__(self, prog: Program, link: Optional[BpfLink] = None, pins: int = 0) -> None:
        self.prog = prog
        self.link = link
        self.pins = pins

    def with_prog(self, prog: Program) -> "Slot":
        """The same slot running another program (a link update)."""
        return Slot(prog, self.link, self.pins)

    def __repr__(self) -> str:
        return f"Slot({self.prog!r}, {self.link!r}, {self.pins:#x})"


class Anchor:
    """A resolved relative (the kernel's ``bpf_tuple``): a program, and its link if one was named."""

    __slots__ = ("prog", "link")

    def __init__(self, prog: Program, link: Optional[BpfLink] = None) -> None:
        self.prog = prog
        self.link = link

    def __repr__(self) -> str:
        return f"Anchor({self.prog!r}, {self.link!r})"


Slots = Tuple[Slot, ...]


class Bits:
    """A dialect's flags as plain int attributes, made by ``plain``."""

    def __repr__(self) -> str:
        return f"Bits({vars(self)})"


def plain(flags: Type[enum.IntFlag]) -> Any:
    """A dialect's flags as plain ints (``F.BEFORE``), as its rules test them: an IntFlag's
    ``&`` goes through the enum machinery, which cost most of an operation's time. On an
    instance of a plain class rather than a SimpleNamespace: Python reads those attributes
    several times faster, and the rules read one at nearly every check."""
    bits = Bits()
    for f in flags:
        setattr(bits, str(f.name), int(f))
    return bits


class Request:
    """One attach or link, after its handles were checked, as v2's rules hand it from step to
    step; never changed once made. (The dialects' entry points take these fields as
    arguments, as ``bpf_mprog_attach()`` does: making an object costs an operation more than
    the rest of its arguments.)

    ``link`` is the new link being attached (``Bundle.link``), or None when acting by program.
    ``relative`` and ``replace`` are still raw: when they are resolved is part of each dialect.
    (A plain class with ``__slots__`` for the same reason as ``Slot``: the rules read it
    field by field.)
    """

    __slots__ = ("op", "prog", "link", "flags", "relative", "replace", "expected_revision")

    def __init__(self, op: str, prog: Optional[Program], link: Optional[BpfLink], flags: int,
                 relative: Any = None, replace: Any = None, expected_revision: int = 0) -> None:
        self.op = op
        self.prog = prog  # attach/link: the program to add; detach: the one named, or None
        self.link = link
        self.flags = flags
        self.relative = relative
        self.replace = replace
        self.expected_revision = expected_revision

    def with_flags(self, flags: int) -> "Request":
        return Request(self.op, self.prog, self.link, flags, self.relative, self.replace,
                       self.expected_revision)

    @property
    def adding(self) -> Program:
        """The program an attach or link adds (always there: the bundle checked it first)."""
        assert self.prog is not None
        return self.prog


def describe(obj: Any) -> str:
    """How messages name a handle, a resolved relative or a raw argument."""
    if type(obj) is Program:  # (the usual, first: ``_id`` is ``id`` without the property)
        return M.program(obj._id)
    if isinstance(obj, Anchor):
        return describe(obj.link if obj.link is not None else obj.prog)
    if isinstance(obj, Program):
        return M.program(obj.id)
    if isinstance(obj, (Link, BpfLink)):
        return M.link(obj.id)
    if obj is None:
        return "none"
    return f"fd {obj!r}"


def check_fresh(revision: int, expected: int, op: str) -> None:
    """``expected_revision`` 0 means "don't check"; anything else must be the current one."""
    if expected and expected != revision:
        raise error(E.ESTALE, op, M.text("stale", expected=expected, revision=revision))


def holds(slot: Slot, anchor: Anchor) -> bool:
    """Does this slot match the relative? A link relative matches only its own slot; a program
    relative matches its program's slot, attached directly or by link (bpf_mprog_pos_*())."""
    return slot.prog is anchor.prog and (anchor.link is None or slot.link is anchor.link)


# Plain loops: the model looks things up on every operation, and a loop is the fastest way
# Python has to find an object by identity. The position is asked of the tuple (its index()
# runs in C and, slots having no __eq__, stops at that very slot) only once a slot matched.

def find_anchor(slots: Slots, anchor: Anchor) -> Optional[int]:
    for slot in slots:
        if holds(slot, anchor):
            return slots.index(slot)
    return None


def find_prog(slots: Slots, prog: Optional[Program]) -> Optional[int]:
    for slot in slots:
        if slot.prog is prog:
            return slots.index(slot)
    return None


def find_link(slots: Tuple[Any, ...], link: BpfLink) -> Optional[int]:
    """Where ``link``'s slot is (also a cgroup list's entry: anything with a ``link``)."""
    for slot in slots:
        if slot.link is link:
            return slots.index(slot)
    return None


def inserted(slots: Slots, idx: int, slot: Slot) -> Slots:
    if idx == len(slots):
        return slots + (slot,)  # an append (most inserts): one copy instead of three
    return slots[:idx] + (slot,) + slots[idx:]


def removed(slots: Slots, idx: int) -> Slots:
    return slots[:idx] + slots[idx + 1:]


def replaced(slots: Slots, idx: int, slot: Slot) -> Slots:
    return slots[:idx] + (slot,) + slots[idx + 1:]
