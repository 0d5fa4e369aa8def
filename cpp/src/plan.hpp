// What a rule set decides: the single change an operation makes, or why it makes none.
// The rule sets (upstream.cpp, v2.cpp) only read the chain; Bundle applies the plan.
#pragma once

#include "mprog/bundle.hpp"

namespace mprog {

struct Plan {
  enum class Kind : std::uint8_t { insert, replace, remove } kind = Kind::insert;
  std::uint32_t index = 0;
  Program* prog = nullptr;  // insert/replace: the program that takes the slot
  Slot slot;                // insert/replace: its link and pins
};

// `prog` and `link` are the attaching (or, for detach, the detaching) pair: for a link
// operation both are set and request.prog is not looked at.
namespace upstream {
Result plan_attach(const Bundle& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const Bundle& b, const Request& r, Link* link, Plan& plan);
}  // namespace upstream

namespace v2 {
Result plan_attach(const Bundle& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const Bundle& b, const Request& r, Link* link, Plan& plan);
}  // namespace v2

// Position of `prog` in the chain, or -1.
int find_program(const Bundle& b, const Program* prog);

}  // namespace mprog
