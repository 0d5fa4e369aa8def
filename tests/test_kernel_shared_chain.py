"""Kernel-backend extras for sharing one live chain between processes (docs/protocol.md):
``Bundle.netns_path``, ``Bundle.open`` and ``program_name``."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import load_backend


@pytest.fixture
def k(_expedited_rcu):
    module = load_backend("kernel")
    yield module
    module.assert_nothing_left()


def test_a_second_bundle_on_the_same_chain(k):
    b = k.Bundle()
    p, q = k.Program(name="p"), k.Program(name="q")
    try:
        b.attach(p)
        assert b.netns_path == f"/proc/{os.getpid()}/fd/{b.netns}"
        other = k.Bundle.open(b.netns_path)
        assert other.ifindex == b.ifindex and other.netns_inode == b.netns_inode
        assert other.query() == b.query()
        other.attach(q, k.Flag.BEFORE, relative=p, expected_revision=b.revision)
        assert b.query().prog_ids == (q.id, p.id)
        other.close()                       # lets go of its handle only
        other.close()
        assert b.query().prog_ids == (q.id, p.id)
        with pytest.raises(ValueError):
            other.query()
    finally:
        b.close()
        p.close()
        q.close()


def test_open_from_another_process(k):
    """A process that never held the namespace opens it by path and changes the chain."""
    b = k.Bundle()
    p = k.Program(name="p")
    try:
        b.attach(p)
        code = ("import sys, mprog.kernel as k\n"
                "o = k.Bundle.open(sys.argv[1])\n"
                "q = k.Program(name='q_from_child')\n"
                "o.attach(q, expected_revision=o.revision)\n"
                "print(k.program_name(o.query().prog_ids[0]))\n"
                "o.close()\n")
        out = subprocess.run([sys.executable, "-c", code, b.netns_path], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "p"
        ids = b.query().prog_ids
        assert ids[0] == p.id and len(ids) == 2
        assert k.program_name(ids[1]) == "q_from_child"    # held by the chain, not the child
    finally:
        b.close()
        p.close()


def test_program_name(k):
    p = k.Program(name="a name longer than fifteen")
    try:
        assert k.program_name(p.id) == "a_name_longer_t"   # the kernel keeps 15 characters
    finally:
        p.close()
    with pytest.raises(k.NotFound):
        k.program_name(0xFFFFFFF0)
