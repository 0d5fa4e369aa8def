#include "mprog/transaction.hpp"

#include <algorithm>

#include "rules.hpp"

namespace mprog {
namespace {

// In-place edits of the scratch copy (no readers can see it, so no peer is needed).
void apply(Entry& e, Slot* slots, const Plan& plan) {
  const std::uint32_t n = e.count;
  auto* progs = e.programs.data();
  switch (plan.kind) {
    case Plan::Kind::insert:
      std::copy_backward(progs + plan.index, progs + n, progs + n + 1);
      std::copy_backward(slots + plan.index, slots + n, slots + n + 1);
      progs[plan.index] = plan.prog;
      slots[plan.index] = plan.slot;
      e.count = n + 1;
      break;
    case Plan::Kind::replace:
      progs[plan.index] = plan.prog;
      slots[plan.index] = plan.slot;
      break;
    case Plan::Kind::remove:
      std::copy(progs + plan.index + 1, progs + n, progs + plan.index);
      std::copy(slots + plan.index + 1, slots + n, slots + plan.index);
      slots[n - 1] = Slot{};
      e.count = n - 1;
      break;
  }
  progs[e.count] = nullptr;
}

}  // namespace

Transaction::Transaction(Bundle& bundle)
    : bundle_(&bundle), entry_(bundle.active_entry()), base_revision_(bundle.revision()),
      base_generation_(bundle.generation()), dialect_(bundle.dialect()) {
  std::copy(bundle.slots_, bundle.slots_ + kSlots, slots_);
}

Result Transaction::attach(const Request& request) { return stage(plan_attach, request); }

Result Transaction::detach(const Request& request) { return stage(plan_detach, request); }

// Plans against the scratch chain (the rules see it as the bundle would), then edits it.
Result Transaction::stage(Planner planner, const Request& request) {
  Plan plan;
  const ChainView view{&entry_, slots_, base_revision_, dialect_, entry_.count};
  if (Result r = planner(view, request, nullptr, plan); !r) return r;
  apply(entry_, slots_, plan);
  ++operations_;
  return {};
}

Result Transaction::commit(std::uint64_t expected_revision) {
  Bundle& bundle = *bundle_;
  if (expected_revision && expected_revision != base_revision_) return {-ESTALE, Why::stale};
  // Not the revision: it starts again at 1 when a chain is freed, so emptied-and-refilled
  // would look unchanged.
  if (bundle.generation() != base_generation_) return {-ESTALE, Why::stale};
  if (operations_ == 0) return {};
  bundle.install(entry_, slots_);
  return {};
}

}  // namespace mprog
