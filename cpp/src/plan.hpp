// What a rule set decides: the single change an operation makes, or why it makes none.
// The rule sets (upstream.cpp, v2.cpp) only read the chain; Bundle applies the plan.
#pragma once

#include <algorithm>
#include <cstddef>

#include "mprog/bundle.hpp"

namespace mprog {

// The chain as the rules read it: the bundle's active entry and slots, or a transaction's
// scratch copy of them.
struct ChainView {
  const Entry* entry;
  const Slot* slots;
  std::uint64_t rev;
  Dialect lang;
  const Entry& current() const { return *entry; }
  const Slot& slot(std::uint32_t i) const { return slots[i]; }
  std::uint64_t revision() const { return rev; }
  Dialect dialect() const { return lang; }
};

struct Plan {
  enum class Kind : std::uint8_t { insert, replace, remove } kind = Kind::insert;
  std::uint32_t index = 0;
  Program* prog = nullptr;  // insert/replace: the program that takes the slot
  Slot slot;                // insert/replace: its link and pins
};

// `prog` and `link` are the attaching (or, for detach, the detaching) pair: for a link
// operation both are set and request.prog is not looked at.
namespace upstream {
Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan);
}  // namespace upstream

namespace v2 {
Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan);
}  // namespace v2

Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan);

// Position of `prog` in the chain, or -1. Every attach asks it (kernel: bpf_mprog_exists)
// and the answer is nearly always "not there": a scan of the whole chain. So it compares a
// block of 8 slots without a branch per slot, then finds the exact slot only in a block that
// matched (programs[] has room for whole blocks; slots past `count` may hold stale pointers).
// A lookup that expects a hit (upstream's pos_exact) is better served by a plain early-exit
// loop: measured in benchmarks/native.cpp.
inline int find_program(const ChainView& b, const Program* prog) {
  constexpr std::size_t kBlock = 8;
  static_assert(kSlots % kBlock == 0, "blocks must not run past programs[]");
  const std::size_t count = b.current().count;
  const Program* const* programs = b.current().programs.data();
  for (std::size_t base = 0; base < count; base += kBlock) {
    bool hit = false;
    for (std::size_t j = 0; j < kBlock; ++j) hit |= programs[base + j] == prog;
    if (!hit) continue;
    for (std::size_t i = base; i < std::min(base + kBlock, count); ++i)
      if (programs[i] == prog) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace mprog
