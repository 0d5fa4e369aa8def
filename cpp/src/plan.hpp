// What a rule set decides: the single change an operation makes, or why it makes none.
// The rule sets (upstream.cpp, v2.cpp) only read the chain; Bundle applies the plan.
#pragma once

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

// Position of `prog` in the chain, or -1.
int find_program(const ChainView& b, const Program* prog);

}  // namespace mprog
