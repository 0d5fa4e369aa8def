// The v2 rules (the June 2023 proposal): sticky FIRST/LAST pins. See docs/v2.md for the
// rule each errno comes from and the choices made where V2.md is silent.
//
// Under REPLACE the relative *is* the program to replace (the v2 ABI shared one field), so
// the binding passes `replace=` as request.relative and request.replace is not read here.
#include "plan.hpp"

namespace mprog::v2 {
namespace {

using namespace v2flag;

bool holds(const Bundle& b, std::uint32_t i, std::uint64_t pin) { return b.slot(i).pins & pin; }

// Index of the relative's slot (program, and link if one was named), or -1.
int relative_index(const Bundle& b, const Relative& rel) {
  const Entry& e = b.current();
  for (std::uint32_t i = 0; i < e.count; ++i)
    if (e.programs[i] == rel.prog && (!rel.link || rel.link == b.slot(i).link))
      return static_cast<int>(i);
  return -1;
}

// Steps 1 and 2 shared by attach and detach: the stale check and the relative's lookup.
Result common_checks(const Bundle& b, const Request& r) {
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
Result append_index(const Bundle& b, int& index) {
  const std::uint32_t n = b.current().count;
  if (n && holds(b, n - 1, last)) {
    if (holds(b, n - 1, first)) return {-EBUSY, Why::pinned};
    index = static_cast<int>(n - 1);
  } else {
    index = static_cast<int>(n);
  }
  return {};
}

Result plan_replace(const Bundle& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  if (r.flags & (before | after | v2flag::link)) return {-EINVAL, Why::position};
  const int at = find_program(b, r.relative.prog);
  const int mine = find_program(b, prog);
  if (mine >= 0 && mine != at) return {-EEXIST, Why::exists};
  if (!r.relative.prog || at < 0) return {-ENOENT, Why::replace_absent};
  const auto i = static_cast<std::uint32_t>(at);
  if (b.slot(i).link != link) return {-EBUSY, Why::link_owned};
  const std::uint32_t pins = static_cast<std::uint32_t>(r.flags & v2flag::pins);
  if ((pins & first) && i != 0) return {-EACCES, Why::pin_position};
  if ((pins & last) && i + 1 != b.current().count) return {-EACCES, Why::pin_position};
  plan = Plan{Plan::Kind::replace, i, prog, Slot{link, pins}};
  return {};
}

Result plan_pin(const Bundle& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  const std::uint32_t n = b.current().count;
  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};
  const bool full = n == kMaxPrograms;
  if (r.flags & first) {
    if (r.flags & after) return {-EINVAL, Why::position};
    if (n && holds(b, 0, first)) return {-EBUSY, Why::pinned};
    if (r.flags & last) {
      if (r.flags & before) return {-EINVAL, Why::position};
      if (n) return {-EBUSY, Why::pinned};
      plan = Plan{Plan::Kind::insert, 0, prog, Slot{link, first | last}};
      return {};
    }
    if ((r.flags & before) && r.relative.prog && relative_index(b, r.relative) != 0)
      return {-EBUSY, Why::pinned};
    if (full) return {-ENOSPC, Why::chain_full};
    plan = Plan{Plan::Kind::insert, 0, prog, Slot{link, first}};
    return {};
  }
  if (r.flags & before) return {-EINVAL, Why::position};
  if (n) {
    if (holds(b, n - 1, last)) return {-EBUSY, Why::pinned};
    if ((r.flags & after) && r.relative.prog &&
        relative_index(b, r.relative) != static_cast<int>(n - 1))
      return {-EBUSY, Why::pinned};
    if (full) return {-ENOSPC, Why::chain_full};
  } else if (r.flags & after) {
    return {-EBUSY, Why::pinned};
  }
  plan = Plan{Plan::Kind::insert, n, prog, Slot{link, last}};
  return {};
}

Result plan_insert(const Bundle& b, const Request& r, Program* prog, Link* link, Plan& plan) {
  const std::uint32_t n = b.current().count;
  if (n == kMaxPrograms) return {-ENOSPC, Why::chain_full};
  if ((r.flags & before) && (r.flags & after)) return {-EINVAL, Why::position};
  if (find_program(b, prog) >= 0) return {-EEXIST, Why::exists};
  int index = -1;
  if ((r.flags & (before | after)) && !r.relative.prog) {
    // Inside the pins: before the first entry without FIRST, after the last before LAST.
    const int bound = (n && holds(b, n - 1, last)) ? static_cast<int>(n - 1) : static_cast<int>(n);
    if (r.flags & before) {
      for (std::uint32_t i = 0; i < n && index < 0; ++i)
        if (!holds(b, i, first)) index = static_cast<int>(i);
    } else if (bound > 0) {
      index = bound;
    }
    if (index < 0 || index > bound) {
      if (Result a = append_index(b, index); !a) return a;
    }
  } else if (r.flags & (before | after)) {
    const int at = relative_index(b, r.relative);
    if (at >= 0 && (r.flags & before) && holds(b, at, first)) return {-EBUSY, Why::pinned};
    if (at >= 0 && (r.flags & after) && holds(b, at, last)) return {-EBUSY, Why::pinned};
    if (at < 0) return {-ENOENT, Why::relative_absent};
    index = (r.flags & before) ? at : at + 1;
  } else {
    if (Result a = append_index(b, index); !a) return a;
  }
  plan = Plan{Plan::Kind::insert, static_cast<std::uint32_t>(index), prog, Slot{link, 0}};
  return {};
}

// The detach target chosen by FIRST/LAST/BEFORE/AFTER; -1 means no directive chose one.
// Directives that pick different entries find no target (ENOENT).
Result detach_target(const Bundle& b, const Request& r, const Program* named, int& target) {
  const int n = static_cast<int>(b.current().count);
  auto pick = [&target](int i) -> Result {
    if (i < 0 || (target >= 0 && target != i)) return {-ENOENT, Why::prog_absent};
    target = i;
    return {};
  };
  if (r.flags & first)
    if (Result p = pick(n ? 0 : -1); !p) return p;
  if (r.flags & last)
    if (Result p = pick(n - 1); !p) return p;
  if (r.flags & (before | after)) {
    if (!r.relative.prog) {
      if (named) return {-EINVAL, Why::position};
      int i = -1;
      if (r.flags & before) {
        for (int k = 0; k < n && i < 0; ++k)
          if (!holds(b, k, first)) i = k;
      } else {
        i = (n && holds(b, n - 1, last)) ? n - 2 : n - 1;
      }
      if (Result p = pick(i); !p) return p;
    } else {
      const int at = relative_index(b, r.relative);
      if (at < 0) return {-ENOENT, Why::relative_absent};
      const int i = (r.flags & before) ? at - 1 : (at + 1 < n ? at + 1 : -1);
      if (Result p = pick(i); !p) return p;
    }
  }
  return {};
}

}  // namespace

Result plan_attach(const Bundle& b, const Request& r, Link* link, Plan& plan) {
  if (r.flags & ~known) return {-EINVAL, Why::unknown_flags};
  Program* prog = link ? link->prog : r.prog.object;
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  if (Result c = common_checks(b, r); !c) return c;
  if (r.flags & replace) return plan_replace(b, r, prog, link, plan);
  if (r.flags & pins) return plan_pin(b, r, prog, link, plan);
  return plan_insert(b, r, prog, link, plan);
}

Result plan_detach(const Bundle& b, const Request& r, Link* link, Plan& plan) {
  if (r.flags & ~known) return {-EINVAL, Why::unknown_flags};
  const Program* named = link ? link->prog : r.prog.object;
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  if (Result c = common_checks(b, r); !c) return c;
  if (r.flags & replace) return {-EINVAL, Why::update_flags};
  int target = -1;
  if (Result t = detach_target(b, r, named, target); !t) return t;
  if (named) {
    const int at = find_program(b, named);
    if (at < 0 || (target >= 0 && target != at)) return {-ENOENT, Why::prog_absent};
    target = at;
  }
  if (target < 0) return {-ENOENT, Why::prog_absent};
  if (b.slot(static_cast<std::uint32_t>(target)).link != link) return {-EBUSY, Why::link_owned};
  plan.kind = Plan::Kind::remove;
  plan.index = static_cast<std::uint32_t>(target);
  return {};
}

}  // namespace mprog::v2
