// The v2 rules (the June 2023 proposal): sticky FIRST/LAST pins. See docs/v2.md for the
// rule each errno comes from and the choices made where docs/v2-rules.md is silent.
//
// Under REPLACE the relative *is* the program to replace (the v2 ABI shared one field), so
// the binding passes `replace=` as request.relative and request.replace is not read here.
#include "plan.hpp"

namespace mprog::v2 {
namespace {

using namespace v2flag;

bool holds(const ChainView& b, std::uint32_t i, std::uint64_t pin) { return b.slot(i).pins() & pin; }

// Index of the relative's slot (program, and link if one was named), or -1.
int relative_index(const ChainView& b, const Relative& rel) {
  const Entry& e = b.current();
  for (std::uint32_t i = 0; i < b.count(); ++i)
    if (e.programs[i] == rel.prog && (!rel.link || rel.link == b.slot(i).link()))
      return static_cast<int>(i);
  return -1;
}

// Steps 1 and 2 shared by attach and detach: the stale check and the relative's lookup.
Result common_checks(const ChainView& b, const Request& r) {
  if (r.expected_revision && r.expected_revision != b.revision()) return {-ESTALE, Why::stale};
  if (!(r.flags & (replace | before | after))) {
    if (r.relative.prog || r.relative.error || (r.flags & (id | link)))
      return {-EINVAL, Why::no_directive};
    return {};
  }
  if (r.relative.error) return {r.relative.error, Why::relative_lookup};
  return {};
}

// Where an append lands: just before a LAST holder (EBUSY if it is also the FIRST holder).
Result append_index(const ChainView& b, int& index) {
  const std::uint32_t n = b.count();
  if (n && holds(b, n - 1, last)) {
    if (holds(b, n - 1, first)) return {-EBUSY, Why::pinned};
    index = static_cast<int>(n - 1);
  } else {
    index = static_cast<int>(n);
  }
  return {};
}

Result plan_replace(const ChainView& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  if (r.flags & (before | after | v2flag::link)) return {-EINVAL, Why::position};
  const int at = find_program(b, r.relative.prog);
  const int mine = find_program(b, prog);
  if (mine >= 0 && mine != at) return {-EEXIST, Why::exists};
  if (!r.relative.prog || at < 0) return {-ENOENT, Why::replace_absent};
  const auto i = static_cast<std::uint32_t>(at);
  if (b.slot(i).link() != link) return {-EBUSY, Why::slot_owned, static_cast<std::uint8_t>(i)};
  const std::uint64_t pins = r.flags & v2flag::pins;
  if ((pins & first) && i != 0) return {-EACCES, Why::pin_position, static_cast<std::uint8_t>(i)};
  if ((pins & last) && i + 1 != b.count())
    return {-EACCES, Why::pin_position, static_cast<std::uint8_t>(i)};
  plan = Plan{Plan::Kind::replace, i, prog, Slot{link, pins}};
  return {};
}

// The pin path's "X must be the entry at i": on an empty chain only "no relative" matches,
// on a non-empty one only a relative naming that entry does (the v2 code compared tuples).
bool is_at(const ChainView& b, int i, const Relative& rel) {
  if (b.count() == 0) return !rel.prog;
  return rel.prog && relative_index(b, rel) == i;
}

Result plan_pin(const ChainView& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  const std::uint32_t n = b.count();
  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};
  if (r.flags & first) {
    if (r.flags & after) return {-EINVAL, Why::position};
    if (n && holds(b, 0, first)) return {-EBUSY, Why::pinned};
    if (r.flags & last) {
      if (r.flags & before) return {-EINVAL, Why::position};
      if (n) return {-EBUSY, Why::pinned};
      plan = Plan{Plan::Kind::insert, 0, prog, Slot{link, first | last}};
      return {};
    }
    if ((r.flags & before) && !is_at(b, 0, r.relative)) return {-EBUSY, Why::pinned};
    if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};
    plan = Plan{Plan::Kind::insert, 0, prog, Slot{link, first}};
    return {};
  }
  if (r.flags & before) return {-EINVAL, Why::position};
  if (n) {
    if (holds(b, n - 1, last)) return {-EBUSY, Why::pinned};
    if ((r.flags & after) && !is_at(b, static_cast<int>(n - 1), r.relative))
      return {-EBUSY, Why::pinned};
    if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};
  } else if (r.flags & after) {
    return {-EBUSY, Why::pinned};
  }
  plan = Plan{Plan::Kind::insert, n, prog, Slot{link, last}};
  return {};
}

// The first entry that does not hold FIRST, and the last entry before any LAST holder: where
// BEFORE and AFTER without a relative act, inside the pins. -1 if there is none.
int first_regular(const ChainView& b) {
  const std::uint32_t n = b.count();
  for (std::uint32_t i = 0; i < n; ++i)
    if (!holds(b, i, first)) return static_cast<int>(i);
  return -1;
}

int last_regular(const ChainView& b) {
  const std::uint32_t n = b.count();
  int found = -1;
  for (std::uint32_t i = 0; i < n && !holds(b, i, last); ++i) found = static_cast<int>(i);
  return found;
}

Result plan_insert(const ChainView& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  const std::uint32_t n = b.count();
  if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};
  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};
  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};
  std::uint64_t direction = r.flags & (before | after);
  int at = -1;
  if (direction && !r.relative.prog) {
    at = (direction & before) ? first_regular(b) : last_regular(b);
    if (at < 0) direction = 0;  // nothing inside the pins: a plain append
  } else if (direction) {
    at = relative_index(b, r.relative);
  }
  int index = -1;
  if (direction && at >= 0) {
    if ((direction & before) && holds(b, at, first)) return {-EBUSY, Why::pinned};
    if ((direction & after) && holds(b, at, last)) return {-EBUSY, Why::pinned};
    index = (direction & before) ? at : at + 1;
  } else {
    // The v2 code reaches its append step also when the relative was not found, and that
    // step can refuse (EBUSY) before the missing relative is noticed (ENOENT).
    if (Result a = append_index(b, index); !a) return a;
    if (direction) return {-ENOENT, Why::relative_absent};
  }
  plan = Plan{Plan::Kind::insert, static_cast<std::uint32_t>(index), prog, Slot{link, 0}};
  return {};
}

// The detach target: the named program, narrowed by FIRST/LAST (the end entries) and by
// BEFORE/AFTER (inside the pins, or the relative's neighbour). -1: no target.
Result detach_target(const ChainView& b, const Request& r, const Program* named, int& target) {
  const int n = static_cast<int>(b.count());
  target = named ? find_program(b, named) : -1;
  const bool have = named != nullptr;  // a target chosen, even one not in the chain
  bool chosen = have;
  for (auto [pin, end] : {std::pair{first, 0}, std::pair{last, n - 1}}) {
    if (!(r.flags & pin)) continue;
    if (chosen && target != end) return {-ENOENT, Why::prog_absent};
    target = end;
    chosen = true;
  }
  const std::uint64_t direction = r.flags & (before | after);
  if (direction && !r.relative.prog) {
    if (chosen) return {-EINVAL, Why::position};
    // With both, AFTER's choice wins: the v2 code set one after the other.
    target = (direction & after) ? last_regular(b) : first_regular(b);
    chosen = target >= 0;
  } else if (direction) {
    const int at = relative_index(b, r.relative);
    if (at < 0) return {-ENOENT, Why::relative_absent};
    int neighbour = -1;
    if (direction & before) {
      if (at == 0) return {-ENOENT, Why::prog_absent};
      neighbour = at - 1;
    } else if (at + 1 < n) {
      neighbour = at + 1;
    }
    if (chosen && target != neighbour) return {-ENOENT, Why::prog_absent};
    target = neighbour;
    chosen = target >= 0;
  }
  if (!chosen || target < 0) return {-ENOENT, Why::prog_absent};
  return {};
}

}  // namespace

Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan) {
  if (r.flags & ~known) {
    // The v2 series masked flags only in BPF_PROG_ATTACH/DETACH; its link_create handed the
    // u32 flags to tcx_link_attach -> bpf_mprog_attach, which never tests a bit it does not
    // know (and the link keeps only FIRST|LAST). So a link drops them; what no u32 holds
    // cannot reach that kernel and stays EINVAL first.
    if (!link || (r.flags >> 32)) return {-EINVAL, Why::unknown_flags};
    Request known_only = r;
    known_only.flags &= known;
    return v2::plan_attach(b, known_only, link, plan);
  }
  Program* prog = link ? link->prog : r.prog.object;
  if (const int error = lookup_error(r.prog, prog)) return {error, Why::bad_handle};
  if (Result c = common_checks(b, r); !c) return c;
  if (r.flags & replace) return plan_replace(b, r, prog, link, plan);
  if (r.flags & pins) return plan_pin(b, r, prog, link, plan);
  return plan_insert(b, r, prog, link, plan);
}

Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan) {
  if (r.flags & ~known) return {-EINVAL, Why::unknown_flags};
  const Program* named = link ? link->prog : r.prog.object;
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  if (b.count() == 0) return {-ENOENT, Why::empty};  // tcx: no entry at all
  if (Result c = common_checks(b, r); !c) return c;
  if (r.flags & replace) return {-EINVAL, Why::update_flags};
  int target = -1;
  if (Result t = detach_target(b, r, named, target); !t) return t;
  // Detaching a pinned program by program is allowed (the owner may leave); a link's slot
  // is left only through the link.
  if (b.slot(static_cast<std::uint32_t>(target)).link() != link)
    return {-EBUSY, Why::link_owned_detach, static_cast<std::uint8_t>(target)};
  plan.kind = Plan::Kind::remove;
  plan.index = static_cast<std::uint32_t>(target);
  return {};
}

}  // namespace mprog::v2
