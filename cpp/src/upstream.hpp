// The upstream rules: kernel/bpf/mprog.c of Linux 6.6+, as tcx drives it.
//
// Positions follow the kernel's convention: "before X" is X's index - 1 (so -1 is "before
// the first") and "after X" is X's index + 1 (so the count is "after the last"). Two
// directives must name the same position. The first failing check decides the errno.
//
// Inline: these checks are a few instructions each, and a change pays for them on every
// attach and detach. Out of line (a call, its saved registers, the plan passed through
// memory, the chain loaded again by the bundle) they cost more than the checks themselves:
// as one body with Bundle's copy and swap they stay in registers (measured in
// benchmarks/native.cpp). What only BEFORE/AFTER and REPLACE need is out of line in
// upstream.cpp: a plain attach or detach never calls it.
#pragma once

#include "plan.hpp"

namespace mprog::upstream {

constexpr int kUnset = -ERANGE;  // kernel: idx starts as -ERANGE, "no position chosen yet"

// Applies BEFORE/AFTER on top of `index` (kUnset or a slot already chosen). Kernel:
// each directive is evaluated on its own; a missing relative wins over a disagreement.
// Their callers below hand them copies of the view and the index, made where they are
// called: the address of a copy is taken on that path only, so the inline path keeps the
// view and the index in registers (as rules.hpp does for v2).
Result directives(const ChainView& b, const Request& r, int& index);

// REPLACE's slot: where `old` sits, owned by `link` (the attach's own, nullptr by program).
Result replace_index(const ChainView& b, const Program* old, const Link* link, int& index);

inline bool has_directive(const Request& r) { return r.flags & (flag::before | flag::after); }

// The slot `prog` (and, for a link, that link) sits in, like bpf_mprog_pos_exact.
inline Result pos_exact(const ChainView& b, const Program* prog, const Link* link, int& index) {
  const int i = find_program(b, prog);
  if (i < 0) return {-ENOENT, Why::prog_absent};
  if (b.slot(static_cast<std::uint32_t>(i)).link() != link)
    return {-EBUSY, Why::link_owned, static_cast<std::uint8_t>(i)};
  index = i;
  return {};
}

// `prog` and `link` are the attaching (or, for detach, the detaching) pair: for a link
// operation both are set and request.prog is not looked at.
inline Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan) {
  // BPF_PROG_ATTACH masks unknown bits up front; BPF_LINK_CREATE does not (Linux 6.6-6.18):
  // there they only count at the last check below. Bits above 31 cannot reach the kernel.
  if ((r.flags & ~flag::upstream_known) && (!link || (r.flags >> 32)))
    return {-EINVAL, Why::unknown_flags};
  Program* prog = link ? link->prog : r.prog.object;
  if (const int error = lookup_error(r.prog, prog)) return {error, Why::bad_handle};
  const Program* old = nullptr;
  if (!link && (r.flags & flag::replace)) {
    if (r.replace.error) return {r.replace.error, Why::bad_handle};
    if (!r.replace.object) return {-EINVAL, Why::replace_missing};
    old = r.replace.object;
  }
  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};
  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};
  if (r.relative.error) return {r.relative.error, Why::relative_lookup};

  const int total = static_cast<int>(b.count());
  int index = kUnset;
  if (r.flags & flag::replace) {
    const ChainView chain = b;
    int at = index;
    if (Result found = replace_index(chain, old, link, at); !found) return found;
    index = at;
  } else if (total == static_cast<int>(kMaxPrograms)) {
    return {-ERANGE, Why::chain_full};
  }
  if (has_directive(r)) {
    const ChainView chain = b;
    int at = index;
    if (Result d = directives(chain, r, at); !d) return d;
    index = at;
  }
  std::uint64_t flags = r.flags;
  if (index < -1) {
    if (r.relative.prog || flags) return {-EINVAL, Why::no_directive};
    index = total;
    flags = flag::after;
  }
  if (index >= static_cast<int>(kMaxPrograms)) return {-ERANGE, Why::position};
  plan.prog = prog;
  plan.slot = Slot{link, 0};
  if (flags & flag::replace) {
    plan.kind = Plan::Kind::replace;
    plan.index = static_cast<std::uint32_t>(index);
  } else {
    // "before X" names X's index - 1; the new program takes X's own index.
    plan.kind = Plan::Kind::insert;
    plan.index = static_cast<std::uint32_t>(index == total || !(flags & flag::before) ? index : index + 1);
  }
  return {};
}

inline Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan) {
  if (r.flags & ~flag::upstream_known) return {-EINVAL, Why::unknown_flags};
  const Program* prog = link ? link->prog : r.prog.object;
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  const int total = static_cast<int>(b.count());
  if (total == 0) return {-ENOENT, Why::empty};  // tcx: no entry at all
  if (r.flags & flag::replace) return {-EINVAL, Why::update_flags};
  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};
  if (r.relative.error) return {r.relative.error, Why::relative_lookup};

  int index = kUnset;
  if (prog) {
    if (Result found = pos_exact(b, prog, link, index); !found) return found;
  }
  if (has_directive(r)) {
    const ChainView chain = b;
    int at = index;
    if (Result d = directives(chain, r, at); !d) return d;
    index = at;
  }
  if (index < -1) {
    if (r.relative.prog || r.flags) return {-EINVAL, Why::no_directive};
    index = total;
  }
  // Kernel: "after the last" of a full chain is slot 63, past bpf_mprog_max(), before any
  // clamping: so detaching the last entry of a full chain that way is ERANGE.
  if (index >= static_cast<int>(kMaxPrograms)) return {-ERANGE, Why::position};
  // bpf_mprog_fetch: "before the first" and "after the last" clamp to the ends.
  if (index == -1) index = 0;
  if (index == total) index = total - 1;
  const Program* there = b.current().programs[index];
  const Link* owner = b.slot(index).link();
  if (prog && prog != there) return {-ENOENT, Why::prog_absent};
  if (link && link != owner) return {-ENOENT, Why::prog_absent};
  if (!link && owner) return {-EBUSY, Why::link_owned_detach, static_cast<std::uint8_t>(index)};
  plan.kind = Plan::Kind::remove;
  plan.index = static_cast<std::uint32_t>(index);
  return {};
}

}  // namespace mprog::upstream
