"""Planted bugs: small, realistic rule and mechanics bugs in the core and in the model.

Each mutant replaces one exact snippet of one file (``old`` must occur exactly once) in a
temporary copy of the tree; ``fuzz/strength/run.py`` builds the copy and measures how long
each engine takes to notice. ``dialect`` is the one the engines drive for it (the file's).

Written by hand rather than by a mutation tool (cosmic-ray, mutmut): those produce hundreds of
syntactic mutants per file, many of them equivalent, and run a test command; here each mutant
is a bug someone could plausibly write in a rule (wrong errno, wrong check order, off by one,
a missed check) and the question is which fuzzing engine finds it, and how fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    what: str
    dialect: str = "upstream"

    @property
    def native(self) -> bool:
        return self.file.startswith("cpp/")


UP = "cpp/src/upstream.hpp"
V2 = "cpp/src/v2.cpp"
BUNDLE = "cpp/src/bundle.cpp"
TX = "cpp/src/transaction.cpp"
MUP = "python/mprog/model/upstream.py"
MV2 = "python/mprog/model/v2.py"

MUTANTS: List[Mutant] = [
    # ---- the core, upstream rules
    Mutant("core-up-eexist-errno", UP,
           "if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};",
           "if (find_program(b, prog) >= 0) return {-EBUSY, Why::exists};",
           "attach of a program already in the chain: EBUSY instead of EEXIST"),
    Mutant("core-up-stale-after-exists", UP,
           "  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};\n"
           "  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};\n",
           "  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};\n"
           "  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};\n",
           "attach checks EEXIST before ESTALE (wrong check order)"),
    Mutant("core-up-before-off-by-one", UP,
           "index == total || !(flags & flag::before) ? index : index + 1",
           "index == total || !(flags & flag::before) ? index : index",
           "BEFORE X inserts one slot too early (position off by one)"),
    Mutant("core-up-full-at-62", UP,
           "} else if (total == static_cast<int>(kMaxPrograms)) {",
           "} else if (total == static_cast<int>(kMaxPrograms) - 1) {",
           "the chain counts as full one program early (off by one)"),
    Mutant("core-up-detach-link-slot", UP,
           "  if (!link && owner) return {-EBUSY, Why::link_owned_detach, static_cast<std::uint8_t>(index)};\n", "",
           "detach by position removes a link's slot (missed EBUSY check)"),
    Mutant("core-up-detach-no-stale", UP,
           "  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};\n"
           "  if (r.relative.error) return {r.relative.error, Why::relative_lookup};\n\n"
           "  int index = kUnset;\n  if (prog) {",
           "  if (r.relative.error) return {r.relative.error, Why::relative_lookup};\n\n"
           "  int index = kUnset;\n  if (prog) {",
           "detach ignores the expected revision (missed ESTALE check)"),
    # ---- the core, v2 rules
    Mutant("core-v2-append-after-last", V2,
           "    index = static_cast<int>(n - 1);", "    index = static_cast<int>(n);",
           "an append lands after the LAST holder instead of before it (off by one)", "v2"),
    Mutant("core-v2-first-taken-errno", V2,
           "    if (n && holds(b, 0, first)) return {-EBUSY, Why::pinned};",
           "    if (n && holds(b, 0, first)) return {-EACCES, Why::pinned};",
           "FIRST when another holds FIRST: EACCES instead of EBUSY", "v2"),
    Mutant("core-v2-insert-no-duplicate-check", V2,
           "  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};\n"
           "  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};\n",
           "  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};\n",
           "a plain insert misses the duplicate check", "v2"),
    Mutant("core-v2-insert-order", V2,
           "  if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};\n"
           "  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};\n",
           "  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};\n"
           "  if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};\n",
           "a plain insert checks BEFORE|AFTER before the full chain (wrong check order)", "v2"),
    Mutant("core-v2-detach-both-before-wins", V2,
           "    target = (direction & after) ? last_regular(b) : first_regular(b);",
           "    target = (direction & before) ? first_regular(b) : last_regular(b);",
           "detach BEFORE|AFTER without a relative takes BEFORE's choice", "v2"),
    # ---- the core's mechanics
    Mutant("core-revision-not-reset", BUNDLE,
           "revision_ = count == 0 ? 1 : revision_ + 1;", "revision_ = revision_ + 1;",
           "an emptied chain keeps counting instead of starting again at revision 1"),
    Mutant("core-update-no-duplicate-check", BUNDLE,
           "  if (find_program(view(e), &new_prog) >= 0) return {-EEXIST, Why::exists};\n", "",
           "a link update to a program already in the chain is not refused"),
    Mutant("core-commit-ignores-expected", TX,
           "  if (expected_revision && expected_revision != base_revision_) return {-ESTALE, Why::stale};\n",
           "", "a transaction commit ignores its expected revision"),
    # ---- the model, upstream
    Mutant("model-up-eexist-errno", MUP,
           "        raise error(E.EEXIST, op, M.text(\"exists\", program=describe(prog)))",
           "        raise error(E.EBUSY, op, M.text(\"exists\", program=describe(prog)))",
           "model: attach of a program already in the chain gives EBUSY"),
    Mutant("model-up-stale-after-exists", MUP,
           "    if expected_revision:  # (0: not checked; most operations give none)\n"
           "        check_fresh(revision, expected_revision, op)\n"
           "    if find_prog(slots, prog) is not None:\n"
           "        raise error(E.EEXIST, op, M.text(\"exists\", program=describe(prog)))\n",
           "    if find_prog(slots, prog) is not None:\n"
           "        raise error(E.EEXIST, op, M.text(\"exists\", program=describe(prog)))\n"
           "    if expected_revision:  # (0: not checked; most operations give none)\n"
           "        check_fresh(revision, expected_revision, op)\n",
           "model: attach checks EEXIST before ESTALE"),
    Mutant("model-up-before-off-by-one", MUP,
           "return inserted(slots, idx + 1 if flags & F.BEFORE else idx, new)",
           "return inserted(slots, idx if flags & F.BEFORE else idx, new)",
           "model: BEFORE X inserts one slot too early"),
    Mutant("model-up-detach-clamp", MUP,
           "    if idx < 0:\n        idx = 0\n    elif idx >= len(slots):\n        idx = len(slots) - 1\n",
           "    idx = min(max(idx, 0), len(slots) - 2) if len(slots) > 1 else 0\n",
           "model: \"after the last\" removes the one before the last (off by one)"),
    Mutant("model-revision-not-bumped", "python/mprog/model/bundle.py",
           "self._revision = self._revision + 1 if new else 1",
           "self._revision = self._revision if new else 1",
           "model: a change that leaves programs in the chain keeps the revision"),
    # ---- the model, v2
    Mutant("model-v2-last-taken-errno", MV2,
           "            raise error(E.EBUSY, op, f\"{describe(slots[-1].prog)} already holds LAST\")",
           "            raise error(E.EACCES, op, f\"{describe(slots[-1].prog)} already holds LAST\")",
           "model: LAST when another holds LAST gives EACCES", "v2"),
    Mutant("model-v2-beside-first", MV2,
           "        if slots[idx].pins & F.FIRST:\n"
           "            raise error(E.EBUSY, op, f\"nothing goes before {describe(slots[idx].prog)} (FIRST)\")\n",
           "", "model: BEFORE the FIRST holder is let through (missed check)", "v2"),
    Mutant("model-v2-neighbour-after", MV2,
           "        neighbour = slots[idx + 1].prog if idx + 1 < len(slots) else None",
           "        neighbour = slots[idx].prog if idx + 1 < len(slots) else None",
           "model: detach AFTER X removes X itself (off by one)", "v2"),
]
