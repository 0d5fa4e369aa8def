// Several attach/detach operations applied as one change: one swap, one revision step.
// Off the kernel's ABI (the kernel changes one thing per syscall); the upstream and v2
// rules still decide every operation, each one seeing the chain as the ones before it left
// it. Operations are checked as they are made; nothing reaches readers until commit().
//
// Lifetimes: a transaction is bound to the bundle it was made for and commits only there.
// It copies the chain's program and link pointers when it begins, so everything the chain
// held then, and every program staged since, must outlive the transaction (the Python
// binding holds a reference to each; docs/lifetimes.md).
#pragma once

#include <cstdint>

#include "mprog/bundle.hpp"

namespace mprog {

struct Plan;  // src/plan.hpp: what a rule set decides

class Transaction {
 public:
  explicit Transaction(Bundle& bundle);  // starts from the chain as it is now

  // By program only: links are created, updated and detached one at a time.
  Result attach(const Request& request);
  Result detach(const Request& request);

  // Installs the result in its bundle as one change. -ESTALE if the bundle changed since the
  // transaction began, or if expected_revision is not 0 and not the revision it began at.
  // A transaction that made no operation commits nothing and keeps the revision.
  Result commit(std::uint64_t expected_revision = 0);

  Bundle& bundle() const { return *bundle_; }

  std::uint32_t size() const { return entry_.count; }
  const Entry& entry() const { return entry_; }
  const Slot& slot(std::uint32_t i) const { return slots_[i]; }
  std::uint32_t operations() const { return operations_; }
  std::uint64_t base_revision() const { return base_revision_; }  // the revision it began at

 private:
  using Planner = Result (*)(ChainView, const Request&, Link*, Plan&);  // src/rules.hpp
  Result stage(Planner planner, const Request& request);

  Bundle* bundle_;
  Entry entry_;
  Slot slots_[kSlots];
  std::uint64_t base_revision_;
  std::uint64_t base_generation_;
  Dialect dialect_;
  std::uint32_t operations_ = 0;
};

}  // namespace mprog
