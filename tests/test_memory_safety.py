"""Lifetimes across the binding (docs/lifetimes.md): nothing the core points at goes while it
still points at it.

Each test is a use-after-free in an earlier build (ASan reported every one; a release build
read freed memory or crashed). They assert what a correct build answers; the ASan-built
extension that CI runs the whole suite under (.ci/run) catches a regression that happens to
give the right answer from freed memory.
"""
from __future__ import annotations

import gc
import threading
import time
from typing import Any, List

import pytest

import mprog
from mprog import Bundle, Program


def collect() -> None:
    gc.collect()


# ---- a transaction holds the chain it started from ----

def test_transaction_outlives_a_detach() -> None:
    b = Bundle()
    b.attach(Program(name="x"))
    tx = b.transaction()
    b.detach()  # the chain lets go of x; x has no other holder
    collect()
    assert [p.name for p in tx.programs()] == ["x"]
    with pytest.raises(mprog.StaleRevision):
        tx.commit()
    assert len(b) == 0


def test_transaction_outlives_a_link_close() -> None:
    b = Bundle()
    link = b.link(Program(name="by-link"))
    tx = b.transaction()
    link.close()
    del link
    collect()
    assert [p.name for p in tx.programs()] == ["by-link"]
    tx.attach(Program(name="fresh"))
    assert [p.name for p in tx.programs()] == ["by-link", "fresh"]
    with pytest.raises(mprog.StaleRevision):
        tx.commit()


def test_transaction_outlives_bundle_close() -> None:
    b = Bundle()
    b.attach(Program(name="a"))
    link = b.link(Program(name="b"))
    tx = b.transaction()
    b.close()
    collect()
    assert [p.name for p in tx.programs()] == ["a", "b"]
    with pytest.raises(ValueError):
        tx.commit()
    assert not link.attached
    link.close()


def test_no_false_already_attached_after_the_chain_let_go() -> None:
    # A program freed while a transaction still pointed at it left its address in the
    # scratch chain; a fresh program allocated there was "already attached".
    b = Bundle()
    b.attach(Program(name="gone"))
    tx = b.transaction()
    b.detach()
    collect()
    fresh = [Program(name=f"p{i}") for i in range(mprog.MAX_PROGRAMS - 1)]
    for p in fresh:
        tx.attach(p)  # raises AlreadyAttached if an address was reused
    assert len(tx) == mprog.MAX_PROGRAMS


def test_transactions_while_another_thread_changes_the_chain() -> None:
    b = Bundle()
    stop = threading.Event()
    errors: List[BaseException] = []
    seen: List[str] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                link = b.link(Program(name="l"))
                b.attach(Program(name="w"))
                b.detach()  # the last: "w"
                link.close()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(1000):
            tx = b.transaction()
            time.sleep(0)  # let the writer in while the transaction is open
            seen.extend(p.name for p in tx.programs())
            try:
                tx.attach(Program(name="t"))
            except mprog.ChainFull:  # pragma: no cover - the writer keeps the chain short
                pass
            tx.discard()
    finally:
        stop.set()
        t.join()
    assert not errors
    assert set(seen) <= {"w", "l", "t"}


# ---- a link operation keeps the bundle alive to its end ----

def _bundle_held_only_by(prog_name: str) -> Any:
    """A watched bundle whose last reference is the fn of the program its link holds."""
    b = Bundle()
    told: List[Any] = []
    b.watch(lambda old, new: told.append(new))
    old = Program(name=prog_name, fn=(lambda held: lambda ctx: -1 if held else 0)(b))
    link = b.link(old)
    return link, told


def test_link_update_when_the_old_program_holds_the_bundle() -> None:
    link, _ = _bundle_held_only_by("old")
    collect()
    link.update(Program(name="new"))  # releasing "old" lets the bundle go mid-call
    collect()
    assert link.prog.name == "new"
    link.close()


def test_link_close_when_its_program_holds_the_bundle() -> None:
    link, told = _bundle_held_only_by("old")
    collect()
    link.close()
    collect()
    assert link.closed and not link.attached
    assert told and told[-1].count == 0


def test_link_detach_when_a_watcher_drops_the_bundle() -> None:
    holder = [Bundle()]
    link = holder[0].link(Program(name="x"))
    holder[0].watch(lambda old, new: holder.clear())
    link.detach()
    collect()
    assert not holder and not link.attached
    link.close()
