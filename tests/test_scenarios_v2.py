"""Scenario tests for the v2 dialect (docs/v2-rules.md): one test per rule, on the backends that implement
v2 (core, model and the v2 oracle, via ``v2_rules_backend``). Flags come from ``V2Flag``; the
upstream dialect of core and model must not see any of it.

Chains are written as strings: ``build(env, "F a b L")`` attaches, in that order, ``F`` holding
FIRST, ``a`` and ``b`` plainly and ``L`` holding LAST (``FL`` holds both); a leading ``~`` makes
the entry link-held (``~F``: a link holding FIRST). ``ids(b)`` checks the pin invariants
(FIRST holder at index 0, LAST holder last, pins reported in the array of how the slot was
attached) every time it is called.
"""
from __future__ import annotations

from errno import (EACCES, EBADF, EBUSY, EEXIST, EINVAL, ENOENT, ENOLINK, ENOSPC, EPERM,
                   ESTALE)

import pytest

from mprog.flags import Flag
from mprog.flags import V2Flag as V
from test_scenarios import MAX, MISSING_ID, NEXT, Env, assert_fails, ids, snapshot, stale

FIRST, LAST = int(V.FIRST), int(V.LAST)
PINS = {"F": FIRST, "L": LAST, "FL": FIRST | LAST}


@pytest.fixture
def env(v2_rules_backend):
    e = Env(v2_rules_backend, dialect="v2")
    yield e
    e.close()


def build(env, spec: str):
    """A v2 bundle holding ``spec`` (see the module doc); (bundle, {name: prog}, {name: link})."""
    b = env.bundle()
    progs, links = {}, {}
    for token in spec.split():
        name = token.lstrip("~")
        p = progs[name] = env.prog(name)
        flags = PINS.get(name, 0)
        if token.startswith("~"):
            links[name] = env.link(b, p, flags)
        else:
            b.attach(p, flags)
    assert ids(b) == [progs[t.lstrip("~")].id for t in spec.split()]
    return b, progs, links


def order(progs, spec: str):
    return [progs[name].id for name in spec.split()]


def pins(b):
    """Per entry, the pin flags the query reports (from whichever array holds them)."""
    q = b.query()
    return [pf | lf for pf, lf in zip(q.prog_attach_flags, q.link_attach_flags)]


# --------------------------------------------------------------------------------------------
# flags and dialects


def test_v2_bundle_knows_its_dialect(env):
    assert env.bundle().dialect == "v2"


def test_bit_5_is_FIRST_and_bit_7_is_ID_in_v2(env):
    b, p, _ = build(env, "a b")
    q, r = env.prog("q"), env.prog("r")
    b.attach(q, 1 << 5)
    b.attach(r, (1 << 3) | (1 << 7), relative=p["b"].id)  # BEFORE|ID
    assert ids(b) == [q.id, p["a"].id, r.id, p["b"].id]
    assert pins(b) == [FIRST, 0, 0, 0]


UNKNOWN_V2_BITS = [1 << 0, 1 << 1, 1 << 8, 1 << 12, 1 << 14, 1 << 31, 1 << 32, -1]
#: Unknown bits a u32 can carry: the v2 series' link_create passed them on unmasked.
U32_UNKNOWN_V2_BITS = [1 << 0, 1 << 1, 1 << 8, 1 << 12, 1 << 14, 1 << 31]


@pytest.mark.parametrize("bit", UNKNOWN_V2_BITS, ids=hex)
@pytest.mark.parametrize("op", ["attach", "detach"])
def test_unknown_bits_are_EINVAL(env, op, bit):
    # BPF_PROG_ATTACH/DETACH mask the flags before tcx or bpf_mprog runs
    b, p, _ = build(env, "a b")
    target = p["b"] if op == "detach" else env.prog("q")
    assert_fails(b, EINVAL, getattr(b, op), target, flags=bit)
    assert_fails(b, EINVAL, getattr(b, op), target, flags=FIRST | bit)


@pytest.mark.parametrize("bit", [1 << 32, 1 << 63, -1], ids=hex)
def test_link_flags_beyond_u32_are_EINVAL_first(env, bit):
    b, p, _ = build(env, "a")
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags=bit)
    assert_fails(b, EINVAL, b.link, env.closed_prog(), flags=FIRST | bit)
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags=bit, expected_revision=stale(b))


# The v2 series masked flags in BPF_PROG_ATTACH and BPF_PROG_DETACH only. Its link_create
# checked the attach type and handed the u32 flags to tcx_link_attach -> bpf_mprog_attach,
# which never tests a bit it does not know; the link kept only FIRST|LAST of them. So on link
# create an unknown bit is ignored, whatever else the request says (docs/v2.md, choice 11).


def test_link_ignores_an_unknown_bit_and_appends(env):
    b = env.bundle()
    p = env.prog("p")
    link = env.link(b, p, 1 << 8)
    assert ids(b) == [p.id]
    assert b.query().link_ids == (link.id,) and pins(b) == [0]


def test_link_with_an_unknown_bit_is_still_ESTALE(env):
    b = env.bundle()
    assert_fails(b, ESTALE, b.link, env.prog("p"), 1 << 12, expected_revision=5)


def test_link_FIRST_with_an_unknown_bit_is_EBUSY_when_FIRST_is_held(env):
    b = env.bundle()
    p, q = env.prog("p"), env.prog("q")
    b.attach(p, V.FIRST)
    assert_fails(b, EBUSY, b.link, q, V.FIRST | (1 << 8))


def test_link_LAST_with_an_unknown_bit_is_a_LAST_pinned_link(env):
    b = env.bundle()
    p = env.prog("p")
    link = env.link(b, p, V.LAST | (1 << 0))
    q = b.query()
    assert q.link_ids == (link.id,)
    # only the pin is kept: the ignored bit is not reported as the link's attach flags
    assert q.link_attach_flags == (LAST,) and q.prog_attach_flags == (0,)
    assert_fails(b, EBUSY, b.attach, env.prog("r"), V.LAST)


def test_link_unknown_bits_keep_every_other_errno(env):
    b, p, links = build(env, "F a ~b")
    q = env.prog("q")
    bit = 1 << 14
    assert_fails(b, EBADF, b.link, env.closed_prog(), flags=bit)
    assert_fails(b, EEXIST, b.link, p["a"], flags=bit)
    assert_fails(b, EINVAL, b.link, q, flags=bit, relative=p["a"])  # relative, no directive
    assert_fails(b, EINVAL, b.link, q, flags=int(V.BEFORE | V.AFTER) | bit)
    assert_fails(b, EBUSY, b.link, q, flags=int(V.BEFORE) | bit, relative=p["F"])
    assert_fails(b, ENOENT, b.link, q, flags=int(V.REPLACE) | bit)


def _outcome(b, names, call):
    """What ``call()`` did to ``b``: its errno, or the chain it left (ids as names)."""
    try:
        link = call()
    except OSError as e:
        return ("errno", e.errno)
    q = b.query()
    progs = tuple(names.get(i, "new") for i in q.prog_ids)
    links = tuple("new" if i == link.id else bool(i) for i in q.link_ids)
    link.close()
    return ("ok", q.revision, progs, links, q.prog_attach_flags, q.link_attach_flags)


@pytest.mark.parametrize("pin", [0, FIRST, LAST, FIRST | LAST], ids=["none", "F", "L", "FL"])
def test_an_ignored_link_bit_is_not_kept_by_the_link(env, pin):
    """The link keeps only its pins (tcx_link_attach: flags & (FIRST|LAST)), so its update and
    its detach behave as for a link created without the bit."""
    runs = []
    for extra in (0, 1 << 8 | 1 << 31):
        b = env.bundle()
        a, q, r = env.prog("a"), env.prog("q"), env.prog("r")
        names = {a.id: "a", q.id: "q", r.id: "r"}
        link = env.link(b, q, pin | extra)
        seen = [snapshot_named(b, names, link)]
        if pin != FIRST | LAST:
            b.attach(a)
        link.update(r)
        seen.append(snapshot_named(b, names, link))
        link.detach()
        seen.append(snapshot_named(b, names, link))
        runs.append(seen)
    assert runs[0] == runs[1]


def snapshot_named(b, names, link):
    q = b.query()
    return (q.revision, [names[i] for i in q.prog_ids],
            ["new" if i == link.id else i for i in q.link_ids],
            q.prog_attach_flags, q.link_attach_flags)


@pytest.mark.parametrize("bit", U32_UNKNOWN_V2_BITS, ids=hex)
@pytest.mark.parametrize("spec", ["", "a", "F a", "a L", "FL", "~F a ~L"])
def test_an_ignored_link_bit_changes_nothing_at_all(env, spec, bit):
    """``link(p, f | bit)`` does exactly what ``link(p, f)`` does, for every combination of
    known flags (with and without a relative): same errno, or the same chain, pins and
    revision; the bit shows up nowhere."""
    for f in range(1 << 5):
        flags = f << 2  # every subset of REPLACE, BEFORE, AFTER, FIRST, LAST
        for relative in (None, "a"):
            outcomes = []
            for extra in (0, bit):
                b, p, _ = build(env, spec)
                names = {prog.id: name for name, prog in p.items()}
                rel = p.get(relative) if relative else None
                outcomes.append(_outcome(b, names, lambda: b.link(env.prog("q"), flags | extra,
                                                                  relative=rel)))
                b.close()
            assert outcomes[0] == outcomes[1], (hex(flags), relative)


@pytest.mark.parametrize("bit", [1 << 6, 1 << 7], ids=["LAST", "v2-ID"])
def test_upstream_dialect_of_a_v2_backend_rejects_v2_bits(v2_backend, bit):
    e = Env(v2_backend)  # core and model: the oracle offers v2 only
    try:
        b, (a,) = e.chain(1)
        assert b.dialect == "upstream"
        assert_fails(b, EINVAL, b.attach, e.prog("q"), bit)
        assert_fails(b, EINVAL, b.detach, a, bit)
        # and bit 5 is ID there, not FIRST: no pin is ever reported
        q = e.prog("q")
        b.attach(q, Flag.BEFORE | (1 << 5), relative=a.id)
        assert ids(b) == [q.id, a.id]
    finally:
        e.close()


# --------------------------------------------------------------------------------------------
# revision


def test_revision_starts_at_1_and_rises_by_1(env):
    b = env.bundle()
    assert (b.revision, b.query().count) == (1, 0)
    f, a, z = env.progs(3)
    b.attach(f, V.FIRST)
    assert b.revision == 2
    link = env.link(b, a)
    assert b.revision == 3
    b.attach(z, V.LAST)
    assert b.revision == 4
    link.update(env.prog("u"))
    assert b.revision == 5
    b.detach(z)
    assert b.revision == 6


@pytest.mark.parametrize("how", ["detach", "link detach", "link close"])
def test_a_chain_emptied_starts_again_at_revision_1(env, how):
    b, p, links = build(env, "F ~a")
    b.detach(p["F"])
    if how == "detach":
        links["a"].detach()
        b.attach(p["F"], V.FIRST)
        b.detach(p["F"])
    elif how == "link detach":
        links["a"].detach()
    else:
        links["a"].close()
    assert b.revision == 1 and ids(b) == []


@pytest.mark.parametrize("how", ["never used", "emptied"])
def test_query_of_a_chain_with_no_entry_is_revision_1_count_0(env, how):
    # docs/v2.md, choice 12: the v2 series' tcx_prog_query said ENOENT where the device had no
    # entry; the protocol answers revision 1, count 0 in every dialect, and that revision is
    # the one the first attach must expect (bpf_mprog_create starts at 1).
    b = env.bundle()
    if how == "emptied":
        p = env.prog("p")
        b.attach(p, V.FIRST | V.LAST)
        b.detach(p)
    for count in (None, 0, 5):
        q = b.query(count)
        assert (q.revision, q.count, q.prog_ids, q.link_ids) == (1, 0, (), ())
        assert q.prog_attach_flags == q.link_attach_flags == ()
    q2 = env.prog("q")
    assert_fails(b, ESTALE, b.attach, q2, expected_revision=2)
    b.attach(q2, expected_revision=b.query().revision)
    assert b.revision == 2


@pytest.mark.parametrize("op", ["attach", "link", "detach"])
def test_expected_revision_beyond_u32_is_ESTALE(env, op):
    # docs/v2.md, choice 13: the v2 ABI's field was a u32; the whole value is compared
    b, p, _ = build(env, "a")
    target = p["a"] if op == "detach" else env.prog("q")
    for rev in (2**32, 2**32 + b.revision, 2**64 - 1):
        assert_fails(b, ESTALE, getattr(b, op), target, expected_revision=rev)


# --------------------------------------------------------------------------------------------
# every attach and detach begins the same way: ESTALE, then the relative


def test_ESTALE_comes_before_everything_else(env):
    b, p, links = build(env, "F a ~b L")
    q = env.prog("q")
    s = stale(b)
    assert_fails(b, ESTALE, b.attach, p["a"], expected_revision=s)                  # EEXIST
    assert_fails(b, ESTALE, b.attach, q, V.FIRST, expected_revision=s)              # EBUSY
    assert_fails(b, ESTALE, b.attach, q, V.BEFORE, relative=env.closed_prog(),
                 expected_revision=s)                                               # EBADF
    assert_fails(b, ESTALE, b.attach, q, 0, relative=p["a"], expected_revision=s)   # EINVAL
    assert_fails(b, ESTALE, b.attach, q, V.REPLACE | V.BEFORE, replace=p["a"],
                 expected_revision=s)                                               # EINVAL
    assert_fails(b, ESTALE, b.link, q, V.LAST, expected_revision=s)                 # EBUSY
    assert_fails(b, ESTALE, b.detach, p["a"], V.REPLACE, expected_revision=s)       # EINVAL
    assert_fails(b, ESTALE, b.detach, p["b"], expected_revision=s)                  # EBUSY
    assert_fails(b, ESTALE, b.detach, q, expected_revision=s)                       # ENOENT


def test_ESTALE_comes_before_a_full_chain(env):
    b, ps = env.chain(MAX)
    assert_fails(b, ESTALE, b.attach, env.prog("q"), expected_revision=stale(b))


def test_closed_program_is_EBADF_before_ESTALE(env):
    # the protocol checks the operand right after the flags, in every dialect
    b, p, _ = build(env, "a")
    assert_fails(b, EBADF, b.attach, env.closed_prog(), expected_revision=stale(b))


@pytest.mark.parametrize("flags,relative", [
    (0, "prog"), (V.ID, "id"), (V.ID, "none"), (V.LINK, "link"), (V.LINK | V.ID, "link id"),
    (V.FIRST, "prog"), (V.LAST, "prog"), (V.LAST | V.ID, "id"), (V.FIRST | V.LINK, "link"),
], ids=["prog", "ID", "ID-None", "LINK", "LINK|ID", "FIRST+prog", "LAST+prog", "LAST|ID",
        "FIRST|LINK"])
def test_relative_ID_or_LINK_without_REPLACE_BEFORE_AFTER_is_EINVAL(env, flags, relative):
    b, p, links = build(env, "a ~b")
    rel = {"prog": p["a"], "id": p["a"].id, "none": None, "link": links["b"],
           "link id": links["b"].id}[relative]
    assert_fails(b, EINVAL, b.attach, env.prog("q"), flags, relative=rel)
    assert_fails(b, EINVAL, b.link, env.prog("q"), flags, relative=rel)
    assert_fails(b, EINVAL, b.detach, p["a"], flags, relative=rel)


def test_relative_without_directive_is_EINVAL_before_the_path_checks(env):
    b, p, _ = build(env, "F a")
    assert_fails(b, EINVAL, b.attach, p["a"], 0, relative=p["F"])         # not EEXIST
    assert_fails(b, EINVAL, b.attach, env.prog("q"), V.FIRST, relative=p["a"])  # not EBUSY
    full, ps = env.chain(MAX)
    assert_fails(full, EINVAL, full.attach, env.prog("q"), 0, relative=ps[0])  # not ENOSPC


@pytest.mark.parametrize("case,flags,err", [
    ("closed link", V.LINK, EBADF),
    ("missing link id", V.LINK | V.ID, ENOENT),
    ("closed link's id", V.LINK | V.ID, ENOENT),
    ("program handle with LINK", V.LINK, EINVAL),
    ("closed program", 0, EBADF),
    ("missing program id", V.ID, ENOENT),
    ("link handle without LINK", 0, EINVAL),
])
@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_relative_lookup_errors_pass_through(env, case, flags, err, directive):
    b, p, links = build(env, "a ~b")
    rel = {"closed link": lambda: env.closed_link(), "missing link id": lambda: MISSING_ID,
           "closed link's id": lambda: env.closed_link().id,
           "program handle with LINK": lambda: p["a"], "closed program": env.closed_prog,
           "missing program id": lambda: MISSING_ID,
           "link handle without LINK": lambda: links["b"]}[case]()
    f = V[directive] | flags
    assert_fails(b, err, b.attach, env.prog("q"), f, relative=rel)
    assert_fails(b, err, b.attach, p["a"], f, relative=rel)  # before EEXIST
    assert_fails(b, err, b.link, env.prog("q"), f, relative=rel)
    assert_fails(b, err, b.detach, None, f, relative=rel)


def test_lookup_errors_come_before_pin_and_full_checks(env):
    b, p, _ = build(env, "F a")
    assert_fails(b, EBADF, b.attach, env.prog("q"), V.FIRST | V.BEFORE,
                 relative=env.closed_prog())  # first already holds FIRST: would be EBUSY
    full, ps = env.chain(MAX)
    assert_fails(full, ENOENT, full.attach, env.prog("q"), V.BEFORE | V.ID,
                 relative=MISSING_ID)  # full: would be ENOSPC


def test_no_relative_means_none(env):
    b, p, _ = build(env, "a b")
    q = env.prog("q")
    b.attach(q, V.BEFORE, relative=None)
    assert ids(b) == [q.id, p["a"].id, p["b"].id]


def test_relative_by_id_and_by_link(env):
    b, p, links = build(env, "a ~b c")
    q, r, s = env.progs(3, "n")
    b.attach(q, V.AFTER | V.ID, relative=p["a"].id)
    b.attach(r, V.BEFORE | V.LINK, relative=links["b"])
    env.link(b, s, V.AFTER | V.LINK | V.ID, relative=links["b"].id)
    assert ids(b) == [p["a"].id, q.id, r.id, p["b"].id, s.id, p["c"].id]


# --------------------------------------------------------------------------------------------
# REPLACE


def test_replace_rewrites_the_slot_in_place(env):
    b, p, _ = build(env, "a b c")
    q = env.prog("q")
    rev = b.revision
    b.attach(q, V.REPLACE, replace=p["b"])
    assert ids(b) == [p["a"].id, q.id, p["c"].id]
    assert b.revision == rev + 1


@pytest.mark.parametrize("flags", [V.BEFORE, V.AFTER, V.LINK, V.BEFORE | V.AFTER],
                         ids=["BEFORE", "AFTER", "LINK", "BEFORE|AFTER"])
def test_replace_with_BEFORE_AFTER_or_LINK_is_EINVAL(env, flags):
    b, p, links = build(env, "a b ~c")
    q = env.prog("q")
    rel = links["c"] if flags & V.LINK else None
    assert_fails(b, EINVAL, b.attach, q, V.REPLACE | flags, relative=rel, replace=p["b"])
    # before EEXIST and ENOENT
    assert_fails(b, EINVAL, b.attach, p["a"], V.REPLACE | flags, relative=rel, replace=p["b"])
    assert_fails(b, EINVAL, b.attach, q, V.REPLACE | flags, relative=rel,
                 replace=env.prog("notin"))


def test_replace_by_a_program_already_in_the_chain_is_EEXIST(env):
    b, p, links = build(env, "a b ~c")
    assert_fails(b, EEXIST, b.attach, p["a"], V.REPLACE, replace=p["b"])
    assert_fails(b, EEXIST, b.attach, p["c"], V.REPLACE, replace=p["b"])
    # before ENOENT and EBUSY
    assert_fails(b, EEXIST, b.attach, p["a"], V.REPLACE, replace=env.prog("notin"))
    assert_fails(b, EEXIST, b.attach, p["a"], V.REPLACE, replace=p["c"])


def test_replace_of_a_program_not_in_the_chain_is_ENOENT(env):
    b, p, _ = build(env, "a")
    assert_fails(b, ENOENT, b.attach, env.prog("q"), V.REPLACE, replace=env.prog("notin"))
    assert_fails(b, ENOENT, b.attach, env.prog("q"), V.REPLACE | V.FIRST,
                 replace=env.prog("notin"))


def test_replace_by_program_of_a_link_held_slot_is_EBUSY(env):
    b, p, links = build(env, "~a b")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.REPLACE, replace=p["a"])
    assert_fails(b, EBUSY, b.attach, q, V.REPLACE | V.LAST, replace=p["a"])  # before EACCES


def test_replace_without_FIRST_drops_the_FIRST_pin(env):
    b, p, _ = build(env, "F a")
    q, r = env.progs(2, "n")
    b.attach(q, V.REPLACE, replace=p["F"])  # the admin override
    assert ids(b) == [q.id, p["a"].id]
    assert pins(b) == [0, 0]
    b.attach(r, V.FIRST)  # the pin is free again
    assert ids(b) == [r.id, q.id, p["a"].id]
    assert pins(b) == [FIRST, 0, 0]


def test_replace_without_LAST_drops_the_LAST_pin(env):
    b, p, _ = build(env, "a L")
    q, r = env.progs(2, "n")
    b.attach(q, V.REPLACE, replace=p["L"])
    assert pins(b) == [0, 0]
    b.attach(r)  # nothing pins the end any more: a plain append lands last
    assert ids(b) == [p["a"].id, q.id, r.id]


@pytest.mark.parametrize("pin", ["FIRST", "LAST"])
def test_replace_keeping_the_pin(env, pin):
    spec = "F a" if pin == "FIRST" else "a L"
    b, p, _ = build(env, spec)
    held = "F" if pin == "FIRST" else "L"
    q = env.prog("q")
    b.attach(q, V.REPLACE | V[pin], replace=p[held])
    expected = [q.id, p["a"].id] if pin == "FIRST" else [p["a"].id, q.id]
    assert ids(b) == expected
    assert pins(b) == ([FIRST, 0] if pin == "FIRST" else [0, LAST])


def test_replace_can_give_the_end_slots_a_pin(env):
    b, p, _ = build(env, "a b c")
    q, r = env.progs(2, "n")
    b.attach(q, V.REPLACE | V.FIRST, replace=p["a"])
    b.attach(r, V.REPLACE | V.LAST, replace=p["c"])
    assert ids(b) == [q.id, p["b"].id, r.id]
    assert pins(b) == [FIRST, 0, LAST]


def test_replace_with_a_pin_away_from_its_end_is_EACCES(env):
    b, p, _ = build(env, "a b c")
    q = env.prog("q")
    assert_fails(b, EACCES, b.attach, q, V.REPLACE | V.FIRST, replace=p["b"])
    assert_fails(b, EACCES, b.attach, q, V.REPLACE | V.FIRST, replace=p["c"])
    assert_fails(b, EACCES, b.attach, q, V.REPLACE | V.LAST, replace=p["a"])
    assert_fails(b, EACCES, b.attach, q, V.REPLACE | V.LAST, replace=p["b"])
    assert_fails(b, EACCES, b.attach, q, V.REPLACE | V.FIRST | V.LAST, replace=p["a"])


def test_replace_with_FIRST_and_LAST_on_the_sole_program(env):
    b, p, _ = build(env, "a")
    q = env.prog("q")
    b.attach(q, V.REPLACE | V.FIRST | V.LAST, replace=p["a"])
    assert ids(b) == [q.id] and pins(b) == [FIRST | LAST]
    assert_fails(b, EBUSY, b.attach, env.prog("r"))


def test_replace_works_on_a_full_chain(env):
    b, ps = env.chain(MAX)
    q = env.prog("q")
    b.attach(q, V.REPLACE | V.LAST, replace=ps[-1])
    assert ids(b)[-1] == q.id and pins(b)[-1] == LAST


# --------------------------------------------------------------------------------------------
# pin: FIRST


@pytest.mark.parametrize("via", ["attach", "link"])
def test_FIRST_inserts_at_index_0_holding_the_pin(env, via):
    b, p, _ = build(env, "a b")
    q = env.prog("q")
    if via == "attach":
        b.attach(q, V.FIRST)
    else:
        env.link(b, q, V.FIRST)
    assert ids(b) == [q.id, p["a"].id, p["b"].id]
    assert pins(b) == [FIRST, 0, 0]
    qr = b.query()
    if via == "attach":
        assert list(qr.prog_attach_flags) == [FIRST, 0, 0]
        assert list(qr.link_attach_flags) == [0, 0, 0]
    else:
        assert list(qr.prog_attach_flags) == [0, 0, 0]
        assert list(qr.link_attach_flags) == [FIRST, 0, 0]


def test_FIRST_on_an_empty_chain(env):
    b = env.bundle()
    q = env.prog("q")
    b.attach(q, V.FIRST)
    assert ids(b) == [q.id] and pins(b) == [FIRST]


def test_pin_of_a_program_already_in_the_chain_is_EEXIST_first(env):
    b, p, _ = build(env, "F a L")
    for flags in (V.FIRST, V.LAST, V.FIRST | V.AFTER, V.LAST | V.BEFORE, V.FIRST | V.LAST):
        assert_fails(b, EEXIST, b.attach, p["a"], flags)


def test_FIRST_with_AFTER_is_EINVAL(env):
    b, p, _ = build(env, "F a")
    q = env.prog("q")
    # before "the first entry already holds FIRST"
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.AFTER)
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.AFTER, relative=p["a"])
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.LAST | V.AFTER)
    empty = env.bundle()
    assert_fails(empty, EINVAL, empty.attach, q, V.FIRST | V.AFTER)


def test_FIRST_when_the_first_entry_holds_FIRST_is_EBUSY(env):
    b, p, links = build(env, "~F a")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.FIRST)
    assert_fails(b, EBUSY, b.link, q, V.FIRST)
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.BEFORE, relative=p["F"])
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.LAST)
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.LAST | V.BEFORE)  # before its EINVAL


def test_FIRST_and_LAST_together(env):
    b = env.bundle()
    q = env.prog("q")
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.LAST | V.BEFORE)
    b.attach(q, V.FIRST | V.LAST)
    assert ids(b) == [q.id] and pins(b) == [FIRST | LAST]
    r = env.prog("r")
    # nothing else fits: not first, not last, not in between
    for flags in (0, V.BEFORE, V.AFTER, V.FIRST, V.LAST, V.FIRST | V.LAST):
        assert_fails(b, EBUSY, b.attach, r, flags)
    assert_fails(b, EBUSY, b.attach, r, V.BEFORE, relative=q)
    assert_fails(b, EBUSY, b.attach, r, V.AFTER, relative=q)


def test_FIRST_and_LAST_on_a_non_empty_chain(env):
    b, p, _ = build(env, "a")
    q = env.prog("q")
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.LAST | V.BEFORE)  # before "not empty"
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.LAST)
    assert_fails(b, EBUSY, b.link, q, V.FIRST | V.LAST)


def test_FIRST_and_LAST_through_a_link(env):
    b = env.bundle()
    q = env.prog("q")
    link = env.link(b, q, V.FIRST | V.LAST)
    assert list(b.query().link_attach_flags) == [FIRST | LAST]
    assert list(b.query().link_ids) == [link.id]


def test_FIRST_BEFORE_X_requires_X_to_be_the_first_entry(env):
    b, p, _ = build(env, "a b")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.BEFORE, relative=p["b"])
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.BEFORE, relative=env.prog("notin"))
    b.attach(q, V.FIRST | V.BEFORE, relative=p["a"])
    assert ids(b) == [q.id, p["a"].id, p["b"].id] and pins(b) == [FIRST, 0, 0]


def test_FIRST_BEFORE_X_on_an_empty_chain_is_EBUSY(env):
    b = env.bundle()
    assert_fails(b, EBUSY, b.attach, env.prog("q"), V.FIRST | V.BEFORE,
                 relative=env.prog("x"))


def test_FIRST_BEFORE_a_link_held_first_entry(env):
    b, p, links = build(env, "~a b")
    q, r = env.progs(2, "n")
    other = env.link(env.bundle(), env.prog("elsewhere"))
    # naming a link that is not the first entry's link: EBUSY
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.BEFORE | V.LINK, relative=other)
    b.attach(q, V.FIRST | V.BEFORE | V.LINK, relative=links["a"])
    assert ids(b) == [q.id, p["a"].id, p["b"].id]
    b.detach(q)
    # a program relative matches the first entry whatever holds it
    b.attach(r, V.FIRST | V.BEFORE, relative=p["a"])
    assert ids(b) == [r.id, p["a"].id, p["b"].id]


def test_FIRST_on_a_full_chain_is_ENOSPC_after_the_pin_checks(env):
    b, ps = env.chain(MAX)
    q = env.prog("q")
    assert_fails(b, ENOSPC, b.attach, q, V.FIRST)
    assert_fails(b, ENOSPC, b.attach, q, V.FIRST | V.BEFORE, relative=ps[0])
    assert_fails(b, ENOSPC, b.link, q, V.FIRST)
    assert_fails(b, EBUSY, b.attach, q, V.FIRST | V.BEFORE, relative=ps[1])
    assert_fails(b, EINVAL, b.attach, q, V.FIRST | V.AFTER)
    assert_fails(b, EEXIST, b.attach, ps[5], V.FIRST)
    b.attach(q, V.REPLACE | V.FIRST, replace=ps[0])
    assert_fails(b, EBUSY, b.attach, env.prog("r"), V.FIRST)


# --------------------------------------------------------------------------------------------
# pin: LAST


@pytest.mark.parametrize("via", ["attach", "link"])
def test_LAST_appends_holding_the_pin(env, via):
    b, p, _ = build(env, "a b")
    q = env.prog("q")
    if via == "attach":
        b.attach(q, V.LAST)
    else:
        env.link(b, q, V.LAST)
    assert ids(b) == [p["a"].id, p["b"].id, q.id]
    assert pins(b) == [0, 0, LAST]


def test_LAST_on_an_empty_chain(env):
    b = env.bundle()
    q = env.prog("q")
    b.attach(q, V.LAST)
    assert ids(b) == [q.id] and pins(b) == [LAST]


def test_LAST_with_BEFORE_is_EINVAL(env):
    b, p, _ = build(env, "a L")
    q = env.prog("q")
    assert_fails(b, EINVAL, b.attach, q, V.LAST | V.BEFORE)  # before "last holds LAST"
    assert_fails(b, EINVAL, b.attach, q, V.LAST | V.BEFORE, relative=p["a"])
    empty = env.bundle()
    assert_fails(empty, EINVAL, empty.attach, q, V.LAST | V.BEFORE)


def test_LAST_when_the_last_entry_holds_LAST_is_EBUSY(env):
    b, p, _ = build(env, "a ~L")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.LAST)
    assert_fails(b, EBUSY, b.link, q, V.LAST)
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER, relative=p["L"])


def test_LAST_AFTER_X_requires_X_to_be_the_last_entry(env):
    b, p, _ = build(env, "a b")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER, relative=p["a"])
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER, relative=env.prog("notin"))
    b.attach(q, V.LAST | V.AFTER, relative=p["b"])
    assert ids(b) == [p["a"].id, p["b"].id, q.id] and pins(b) == [0, 0, LAST]


def test_LAST_AFTER_on_an_empty_chain_is_EBUSY(env):
    b = env.bundle()
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER)
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER, relative=env.prog("x"))


def test_LAST_on_a_full_chain_is_ENOSPC_after_the_pin_checks(env):
    b, ps = env.chain(MAX)
    q = env.prog("q")
    assert_fails(b, ENOSPC, b.attach, q, V.LAST)
    assert_fails(b, ENOSPC, b.attach, q, V.LAST | V.AFTER, relative=ps[-1])
    assert_fails(b, EBUSY, b.attach, q, V.LAST | V.AFTER, relative=ps[0])
    assert_fails(b, EINVAL, b.attach, q, V.LAST | V.BEFORE)
    b.attach(q, V.REPLACE | V.LAST, replace=ps[-1])
    assert_fails(b, EBUSY, b.attach, env.prog("r"), V.LAST)


# --------------------------------------------------------------------------------------------
# plain insert


def test_plain_insert_order_of_checks_full_then_both_directives_then_exists(env):
    b, ps = env.chain(MAX)
    q = env.prog("q")
    assert_fails(b, ENOSPC, b.attach, q)
    assert_fails(b, ENOSPC, b.link, q)
    assert_fails(b, ENOSPC, b.attach, q, V.BEFORE | V.AFTER)      # before EINVAL
    assert_fails(b, ENOSPC, b.attach, ps[3])                      # before EEXIST
    assert_fails(b, ENOSPC, b.attach, q, V.BEFORE, relative=env.prog("notin"))  # before ENOENT
    small, p, _ = build(env, "a b")
    assert_fails(small, EINVAL, small.attach, p["a"], V.BEFORE | V.AFTER)  # before EEXIST
    assert_fails(small, EINVAL, small.attach, q, V.BEFORE | V.AFTER, relative=p["a"])
    assert_fails(small, EEXIST, small.attach, p["a"])
    assert_fails(small, EEXIST, small.attach, p["a"], V.BEFORE, relative=env.prog("notin"))


@pytest.mark.parametrize("flags", ["none", "BEFORE", "AFTER"])
@pytest.mark.parametrize("via", ["attach", "link"])
def test_plain_insert_on_an_empty_chain(env, flags, via):
    b = env.bundle()
    q = env.prog("q")
    f = 0 if flags == "none" else V[flags]
    if via == "attach":
        b.attach(q, f)
    else:
        env.link(b, q, f)
    assert ids(b) == [q.id] and pins(b) == [0]


@pytest.mark.parametrize("spec,expected", [
    ("a b", "q a b"),
    ("F a b", "F q a b"),
    ("F", "F q"),
    ("F L", "F q L"),
    ("a L", "q a L"),
    ("L", "q L"),
    ("F a L", "F q a L"),
])
def test_BEFORE_without_relative_goes_before_the_first_unpinned_entry(env, spec, expected):
    b, p, _ = build(env, spec)
    p["q"] = env.prog("q")
    b.attach(p["q"], V.BEFORE)
    assert ids(b) == order(p, expected)


@pytest.mark.parametrize("spec,expected", [
    ("a b", "a b q"),
    ("a b L", "a b q L"),
    ("L", "q L"),
    ("F L", "F q L"),
    ("F", "F q"),
    ("F a", "F a q"),
    ("F a L", "F a q L"),
])
def test_AFTER_without_relative_goes_after_the_last_entry_before_LAST(env, spec, expected):
    b, p, _ = build(env, spec)
    p["q"] = env.prog("q")
    b.attach(p["q"], V.AFTER)
    assert ids(b) == order(p, expected)


@pytest.mark.parametrize("spec,expected", [
    ("a b", "a b q"), ("a L", "a q L"), ("L", "q L"), ("F", "F q"), ("F a L", "F a q L"),
])
@pytest.mark.parametrize("via", ["attach", "link"])
def test_append_lands_before_a_LAST_holder(env, spec, expected, via):
    b, p, _ = build(env, spec)
    p["q"] = env.prog("q")
    if via == "attach":
        b.attach(p["q"])
    else:
        env.link(b, p["q"])
    assert ids(b) == order(p, expected)


@pytest.mark.parametrize("flags", ["none", "BEFORE", "AFTER"])
def test_append_next_to_a_sole_FIRST_and_LAST_holder_is_EBUSY(env, flags):
    b, p, _ = build(env, "FL")
    f = 0 if flags == "none" else V[flags]
    assert_fails(b, EBUSY, b.attach, env.prog("q"), f)
    assert_fails(b, EBUSY, b.link, env.prog("q"), f)


@pytest.mark.parametrize("directive,x,expected", [
    ("BEFORE", "a", "F q a b L"), ("BEFORE", "b", "F a q b L"), ("BEFORE", "L", "F a b q L"),
    ("AFTER", "F", "F q a b L"), ("AFTER", "a", "F a q b L"), ("AFTER", "b", "F a b q L"),
])
def test_BEFORE_or_AFTER_X_lands_next_to_X(env, directive, x, expected):
    b, p, _ = build(env, "F a b L")
    p["q"] = env.prog("q")
    b.attach(p["q"], V[directive], relative=p[x])
    assert ids(b) == order(p, expected)


@pytest.mark.parametrize("spec", ["F a", "~F a"])
def test_BEFORE_a_FIRST_holder_is_EBUSY(env, spec):
    b, p, links = build(env, spec)
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.BEFORE, relative=p["F"])
    assert_fails(b, EBUSY, b.link, q, V.BEFORE | V.ID, relative=p["F"].id)
    if links:
        assert_fails(b, EBUSY, b.attach, q, V.BEFORE | V.LINK, relative=links["F"])


@pytest.mark.parametrize("spec", ["a L", "a ~L"])
def test_AFTER_a_LAST_holder_is_EBUSY(env, spec):
    b, p, links = build(env, spec)
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.AFTER, relative=p["L"])
    assert_fails(b, EBUSY, b.link, q, V.AFTER | V.ID, relative=p["L"].id)
    if links:
        assert_fails(b, EBUSY, b.attach, q, V.AFTER | V.LINK, relative=links["L"])


@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_plain_insert_next_to_a_relative_not_in_the_chain_is_ENOENT(env, directive):
    b, p, _ = build(env, "F a L")
    q = env.prog("q")
    assert_fails(b, ENOENT, b.attach, q, V[directive], relative=env.prog("notin"))
    assert_fails(b, ENOENT, b.link, q, V[directive], relative=env.prog("notin"))


# --------------------------------------------------------------------------------------------
# detach


def test_detach_with_REPLACE_is_EINVAL(env):
    b, p, _ = build(env, "a b")
    assert_fails(b, EINVAL, b.detach, p["a"], V.REPLACE)
    assert_fails(b, EINVAL, b.detach, None, V.REPLACE)


def test_detach_a_program(env):
    b, p, _ = build(env, "a b c")
    rev = b.revision
    b.detach(p["b"])
    assert ids(b) == order(p, "a c") and b.revision == rev + 1
    assert_fails(b, ENOENT, b.detach, p["b"])


def test_detach_on_an_empty_chain_is_ENOENT(env):
    b = env.bundle()
    q = env.prog("q")
    assert_fails(b, ENOENT, b.detach, q)
    assert_fails(b, ENOENT, b.detach, None, V.FIRST)


@pytest.mark.parametrize("spec", ["F a", "a L", "FL"])
def test_a_pin_holder_may_leave_by_program(env, spec):
    b, p, _ = build(env, spec)
    holder = [n for n in p if n.isupper()][0]
    b.detach(p[holder])
    rest = [n for n in spec.split() if n != holder]
    assert ids(b) == order(p, " ".join(rest))
    assert pins(b) == [0] * len(rest)


@pytest.mark.parametrize("spec,pin,target", [
    ("F a b", "FIRST", "F"), ("a b", "FIRST", "a"), ("a b L", "LAST", "L"), ("a b", "LAST", "b"),
])
def test_detach_FIRST_or_LAST_targets_the_end_entry(env, spec, pin, target):
    b, p, _ = build(env, spec)
    b.detach(None, V[pin])
    assert ids(b) == order(p, " ".join(n for n in spec.split() if n != target))


def test_detach_FIRST_or_LAST_naming_another_program_is_ENOENT(env):
    b, p, _ = build(env, "F a L")
    assert_fails(b, ENOENT, b.detach, p["a"], V.FIRST)
    assert_fails(b, ENOENT, b.detach, p["L"], V.FIRST)
    assert_fails(b, ENOENT, b.detach, p["a"], V.LAST)
    b.detach(p["F"], V.FIRST)
    b.detach(p["L"], V.LAST)
    assert ids(b) == order(p, "a")


@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_detach_BEFORE_or_AFTER_without_relative_naming_a_program_is_EINVAL(env, directive):
    b, p, _ = build(env, "a b")
    assert_fails(b, EINVAL, b.detach, p["a"], V[directive])
    assert_fails(b, EINVAL, b.detach, p["b"], V[directive])


@pytest.mark.parametrize("spec,directive,removed", [
    ("a b", "BEFORE", "a"), ("F a b", "BEFORE", "a"), ("F a L", "BEFORE", "a"),
    ("F L", "BEFORE", "L"),
    ("a b", "AFTER", "b"), ("a b L", "AFTER", "b"), ("F a L", "AFTER", "a"),
    ("F L", "AFTER", "F"),
])
def test_detach_BEFORE_or_AFTER_without_relative_skips_the_pins(env, spec, directive, removed):
    b, p, _ = build(env, spec)
    b.detach(None, V[directive])
    assert ids(b) == order(p, " ".join(n for n in spec.split() if n != removed))


@pytest.mark.parametrize("spec,directive", [("F", "BEFORE"), ("L", "AFTER"), ("FL", "BEFORE"),
                                            ("FL", "AFTER")])
def test_detach_BEFORE_or_AFTER_without_a_target_is_ENOENT(env, spec, directive):
    b, p, _ = build(env, spec)
    assert_fails(b, ENOENT, b.detach, None, V[directive])


@pytest.mark.parametrize("directive,x,removed", [
    ("BEFORE", "b", "a"), ("BEFORE", "c", "b"), ("AFTER", "a", "b"), ("AFTER", "b", "c"),
])
def test_detach_next_to_a_relative(env, directive, x, removed):
    b, p, _ = build(env, "a b c")
    b.detach(None, V[directive], relative=p[x])
    assert ids(b) == order(p, " ".join(n for n in "a b c".split() if n != removed))


def test_detach_next_to_a_relative_naming_the_program(env):
    b, p, _ = build(env, "a b c")
    assert_fails(b, ENOENT, b.detach, p["a"], V.BEFORE, relative=p["c"])  # not that entry
    assert_fails(b, ENOENT, b.detach, p["c"], V.AFTER, relative=p["c"])
    b.detach(p["b"], V.BEFORE, relative=p["c"])
    b.detach(p["c"], V.AFTER | V.ID, relative=p["a"].id)
    assert ids(b) == order(p, "a")


def test_detach_before_the_first_or_after_the_last_is_ENOENT(env):
    b, p, _ = build(env, "a b")
    assert_fails(b, ENOENT, b.detach, None, V.BEFORE, relative=p["a"])
    assert_fails(b, ENOENT, b.detach, None, V.AFTER, relative=p["b"])


@pytest.mark.parametrize("directive", ["BEFORE", "AFTER"])
def test_detach_next_to_a_relative_not_in_the_chain_is_ENOENT(env, directive):
    b, p, _ = build(env, "a b")
    assert_fails(b, ENOENT, b.detach, None, V[directive], relative=env.prog("notin"))
    assert_fails(b, ENOENT, b.detach, p["a"], V[directive], relative=env.prog("notin"))


def test_detach_of_a_program_not_in_the_chain_is_ENOENT(env):
    b, p, _ = build(env, "a")
    assert_fails(b, ENOENT, b.detach, env.prog("notin"))


@pytest.mark.parametrize("spec,named,flags,relative", [
    ("a ~b", "b", 0, None),
    ("~F a", "F", "FIRST", None), ("~F a", None, "FIRST", None),
    ("a ~L", "L", "LAST", None), ("a ~L", None, "LAST", None),
    ("~a b", None, "BEFORE", None), ("a ~b", None, "AFTER", None),
    ("~a b", "a", "BEFORE", "b"), ("~a b", None, "BEFORE", "b"),
    ("a ~b", "b", "AFTER", "a"), ("a ~b", None, "AFTER", "a"),
])
def test_detach_of_a_link_held_entry_by_program_is_EBUSY(env, spec, named, flags, relative):
    b, p, links = build(env, spec)
    assert_fails(b, EBUSY, b.detach, p[named] if named else None, V[flags] if flags else 0,
                 relative=p[relative] if relative else None)


# --------------------------------------------------------------------------------------------
# query


def test_query_reports_pins_in_the_array_of_the_attachment(env):
    b, p, links = build(env, "~F a L")
    q = b.query()
    assert list(q.prog_ids) == order(p, "F a L")
    assert list(q.link_ids) == [links["F"].id, 0, 0]
    assert list(q.prog_attach_flags) == [0, 0, LAST]
    assert list(q.link_attach_flags) == [FIRST, 0, 0]


def test_query_too_small_is_ENOSPC_with_the_total_and_a_partial(env):
    b, p, links = build(env, "F ~a b L")
    full = b.query()
    e = assert_fails(b, ENOSPC, b.query, count=2)
    assert e.count == 4
    assert e.partial.count == 4 and e.partial.revision == full.revision
    assert e.partial.prog_ids == full.prog_ids[:2]
    assert e.partial.link_ids == full.link_ids[:2]
    assert e.partial.prog_attach_flags == full.prog_attach_flags[:2] == (FIRST, 0)
    assert e.partial.link_attach_flags == full.link_attach_flags[:2]
    assert b.query(count=0).prog_ids == () and b.query(count=0).count == 4


# --------------------------------------------------------------------------------------------
# links and their pins


@pytest.mark.parametrize("how", ["detach", "close"])
def test_a_links_FIRST_pin_ends_when_it_detaches(env, how):
    b, p, links = build(env, "~F a")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.attach, q, V.FIRST)
    getattr(links["F"], how)()
    assert ids(b) == order(p, "a") and pins(b) == [0]
    b.attach(q, V.FIRST)
    assert ids(b) == [q.id, p["a"].id] and pins(b) == [FIRST, 0]


@pytest.mark.parametrize("how", ["detach", "close"])
def test_a_links_LAST_pin_ends_when_it_detaches(env, how):
    b, p, links = build(env, "a ~L")
    q = env.prog("q")
    getattr(links["L"], how)()
    b.attach(q)
    b.attach(env.prog("r"), V.LAST)
    assert pins(b) == [0, 0, LAST]
    assert ids(b)[:2] == [p["a"].id, q.id]


@pytest.mark.parametrize("spec,name,expected_pins", [
    ("~F a", "F", [FIRST, 0]), ("a ~L", "L", [0, LAST]), ("~FL", "FL", [FIRST | LAST]),
    ("F ~a L", "a", [FIRST, 0, LAST]),
])
def test_link_update_keeps_the_slot_and_its_pins(env, spec, name, expected_pins):
    b, p, links = build(env, spec)
    q = env.prog("q")
    rev = b.revision
    links[name].update(q)
    expected = [q.id if n.lstrip("~") == name else p[n.lstrip("~")].id for n in spec.split()]
    assert ids(b) == expected
    assert pins(b) == expected_pins
    assert b.revision == rev + 1
    assert list(b.query().link_ids) == [links[n.lstrip("~")].id if n.startswith("~") else 0
                                        for n in spec.split()]


def test_link_update_rules_hold_in_v2(env):
    b, p, links = build(env, "~F a")
    q = env.prog("q")
    assert_fails(b, EINVAL, links["F"].update, q, V.FIRST)
    assert_fails(b, EPERM, links["F"].update, q, V.REPLACE, old_prog=p["a"])
    assert_fails(b, EEXIST, links["F"].update, p["a"])
    before = snapshot(b)
    links["F"].update(p["F"])
    assert snapshot(b) == before
    links["F"].detach()
    assert_fails(b, ENOLINK, links["F"].update, q)


# --------------------------------------------------------------------------------------------
# invariants over a longer story, and the fast path


def test_pins_hold_through_a_mixed_sequence(env):
    b = env.bundle()
    f, l, a, c, d, e, g = env.progs(7)
    steps = [
        lambda: b.attach(a),
        lambda: b.attach(f, V.FIRST),
        lambda: env.link(b, l, V.LAST),
        lambda: b.attach(c, V.BEFORE),
        lambda: b.attach(d, V.AFTER),
        lambda: b.attach(e),
        lambda: b.attach(g, V.AFTER, relative=f),
        lambda: b.detach(None, V.BEFORE),
        lambda: b.detach(None, V.AFTER),
    ]
    for step in steps:
        step()
        ids(b)  # checks the pins after every step
    assert ids(b) == [f.id, c.id, a.id, d.id, l.id]
    assert pins(b) == [FIRST, 0, 0, 0, LAST]


def test_run_follows_the_pinned_order(env):
    calls = []

    def make(name):
        def fn(ctx):
            calls.append(name)
            return NEXT
        return env.prog(name, fn=fn)

    b = env.bundle()
    z, a, f = make("z"), make("a"), make("f")
    b.attach(z, V.LAST)
    b.attach(a)
    b.attach(f, V.FIRST)
    assert b.run(None) == NEXT
    assert calls == ["f", "a", "z"]


def test_replace_anchor_names_the_program_on_link_too(env):
    # docs/v2.md, choice 10: Replace(p) fills the one v2 field, so link() names p as attach does
    Replace = env.backend.Replace
    b, p, links = build(env, "a ~b")
    q = env.prog("q")
    assert_fails(b, EBUSY, b.link, q, Replace(p["a"]))  # a new link never owns a's slot
    assert_fails(b, EBUSY, b.link, q, Replace(p["b"]))  # nor another link's
    assert_fails(b, ENOENT, b.link, q, Replace(env.prog("absent")))
    assert_fails(b, EEXIST, b.link, p["a"], Replace(p["b"]))
    assert_fails(b, EINVAL, b.detach, None, Replace(p["a"]))
    b.attach(q, Replace(p["a"], first=True))
    assert ids(b) == order({**p, "q": q}, "q b") and pins(b) == [FIRST, 0]
