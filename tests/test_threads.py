"""The core under Python threads: snapshots, runs and a writer interleaved by the interpreter.

Readers iterate (``list(b)``) and run (``b.run(ctx)``) while a writer attaches, detaches,
replaces and updates links. Every snapshot a reader takes must be a chain state the writer
really committed (the writer records the program ids after each successful operation), and a
writer must never wait on a Python program that a reader is running. The GIL serializes the
core's calls here, so this checks snapshot semantics and reference keeping across thread
switches; torn entries under true parallelism are the C++ stress test's (tests/cpp/stress.cpp,
under ThreadSanitizer in CI).
"""
from __future__ import annotations

import random
import sys
import threading
import time

import pytest

import mprog
from mprog import NEXT, Flag

WRITER_OPS = 2000
READERS = 3


@pytest.fixture
def fast_switching():
    """Switch threads as often as CPython allows, to interleave readers with the writer."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def recording_program(name: str) -> mprog.Program:
    """A program whose fn appends its own id to ctx (a list) and hands on."""
    holder = []

    def fn(ctx):
        ctx.append(holder[0])
        return NEXT

    p = mprog.Program(name=name, fn=fn)
    holder.append(p.id)
    return p


def state(b: mprog.Bundle) -> tuple:
    return tuple(b.query().prog_ids)


def test_readers_see_only_committed_states(fast_switching):
    b = mprog.Bundle()
    committed = {()}
    stop = threading.Event()
    seen = [set() for _ in range(READERS)]
    verdicts = [set() for _ in range(READERS)]
    crashes = []

    def reader(k: int) -> None:
        try:
            while not stop.is_set():
                seen[k].add(tuple(p.id for p in b))  # list(b): one snapshot
                ctx = []
                verdicts[k].add(b.run(ctx))
                seen[k].add(tuple(ctx))  # the programs run called, in order
        except BaseException as e:  # pragma: no cover - reported below
            crashes.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(READERS)]
    for t in threads:
        t.start()

    rng = random.Random(4)
    links = []
    changes = 0
    try:
        for i in range(WRITER_OPS):
            time.sleep(0)  # let the readers in between most operations
            programs = list(b)
            target = rng.choice(programs) if programs else None
            op = rng.random()
            try:
                if len(programs) < 40 and op < 0.35:
                    flags = rng.choice([0, Flag.BEFORE, Flag.AFTER])
                    b.attach(recording_program(f"p{i}"), flags=flags,
                             relative=target if flags else None)
                elif len(programs) < 40 and op < 0.5:
                    links.append(b.link(recording_program(f"l{i}"), flags=Flag.AFTER))
                elif op < 0.6 and target is not None:
                    b.attach(recording_program(f"r{i}"), flags=Flag.REPLACE, replace=target)
                elif op < 0.7 and links:
                    rng.choice(links).update(recording_program(f"u{i}"))
                elif op < 0.8 and links:
                    link = links.pop(rng.randrange(len(links)))
                    link.detach()
                    link.close()
                elif target is not None:
                    b.detach(target)
                else:
                    continue
            except OSError:
                continue  # refused (linked slot, ...): nothing changed
            changes += 1
            committed.add(state(b))
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert not crashes, crashes
    assert changes > WRITER_OPS // 2
    snapshots = set().union(*seen)
    never_committed = snapshots - committed
    assert not never_committed, f"readers saw {len(never_committed)} states never committed"
    assert len(snapshots) > WRITER_OPS // 10, f"readers saw only {len(snapshots)} states: too few to mean anything"
    assert set().union(*verdicts) == {NEXT}


def test_writer_does_not_wait_for_a_running_python_program():
    """run() calls Python programs outside the read section: a writer detaching the very
    program a reader is inside must not wait for it (it would deadlock on the GIL)."""
    b = mprog.Bundle()
    inside = threading.Event()
    go = threading.Event()
    calls = []

    def blocking(ctx):
        inside.set()
        go.wait(10)  # releases the GIL
        return NEXT

    slow = mprog.Program(name="slow", fn=blocking)
    after = mprog.Program(name="after", fn=lambda ctx: calls.append("after") or NEXT)
    b.attach(slow)
    b.attach(after)

    result = []
    reader = threading.Thread(target=lambda: result.append(b.run(None)))
    reader.start()
    assert inside.wait(10)

    writer = threading.Thread(target=lambda: (b.detach(slow), b.detach(after)), daemon=True)
    writer.start()
    writer.join(10)
    finished = not writer.is_alive()
    go.set()
    reader.join(10)
    assert finished, "the writer waited for a Python program a reader was running"
    assert list(b) == [] and b.revision == 1
    # The reader finishes the snapshot it took: the state that existed when run() began.
    assert result == [NEXT] and calls == ["after"]
