// Bundle mechanics: fill the peer entry, publish it, wait out the readers, count the revision.
// Which change to make is decided by the rule sets (upstream.cpp, v2.cpp); this file only
// carries out a plan that has already passed every check.
#include "mprog/bundle.hpp"

#include <algorithm>

#include "cgroup.hpp"
#include "rules.hpp"

namespace mprog {

Bundle::Bundle(Dialect dialect) : active_(&entries_[0]), dialect_(dialect) {}

Bundle::~Bundle() {
  for (std::uint32_t i = 0; i < count_; ++i)
    if (slots_[i].link()) slots_[i].link()->bundle = nullptr;
}

// ---- mechanics: each fills the peer entry, publishes it, and keeps the slots in step ----
// Slots and released_ are the writer's alone (readers walk only Entry::programs), so insert
// and delete change them after the publish: the publishing store (a locked instruction on
// x86) then waits for fewer stores to drain (measured in benchmarks/native.cpp). What they
// read (delete: the slot's link and the program leaving) is read before it, so the loads
// overlap the copy instead of waiting behind the locked store. replace_at changes the slot
// before, as it reads the old slot's link to know what it releases; it is not on the hot
// path. The old entry (`cur`) stays intact until the next change refills it.
// insert_at and delete_at take the entry the rules planned against (the active one) and
// are inline: with the rules (upstream.hpp) they make one body per entry point.

inline Entry& Bundle::peer_of(const Entry& cur) {
  return &cur == &entries_[0] ? entries_[1] : entries_[0];
}

inline void Bundle::insert_at(const Entry& cur, std::uint32_t index, Program* prog, Slot slot) {
  Entry& next = peer_of(cur);
  const std::uint32_t count = count_;
  const auto* src = cur.programs.data();
  auto* dst = next.programs.data();
  std::copy(src, src + index, dst);
  dst[index] = prog;
  std::copy(src + index, src + count, dst + index + 1);
  dst[count + 1] = nullptr;
  publish(next, count + 1);
  std::copy_backward(slots_ + index, slots_ + count, slots_ + count + 1);
  slots_[index] = slot;
  released_ = nullptr;
}

void Bundle::replace_at(std::uint32_t index, Program* prog, Slot slot) {
  const Entry& cur = active_entry();
  Entry& next = peer_of(cur);
  std::copy(cur.programs.data(), cur.programs.data() + count_ + 1, next.programs.data());
  Program* old = next.programs[index];
  next.programs[index] = prog;
  released_ = slots_[index].link() ? nullptr : old;
  slots_[index] = slot;
  publish(next, count_);
}

inline void Bundle::delete_at(const Entry& cur, std::uint32_t index) {
  Entry& next = peer_of(cur);
  const std::uint32_t count = count_;
  const auto* src = cur.programs.data();
  auto* dst = next.programs.data();
  Link* const owner = slots_[index].link();
  Program* const leaving = src[index];
  std::copy(src, src + index, dst);
  std::copy(src + index + 1, src + count, dst + index);
  dst[count - 1] = nullptr;
  publish(next, count - 1);
  released_ = owner ? nullptr : leaving;
  if (owner) owner->bundle = nullptr;
  std::copy(slots_ + index + 1, slots_ + count, slots_ + index);
}

// `count`: next's, as the caller has it in hand (after the locked store it would be a load).
// Stores it in the entry (for readers of Entry::count outside the hot path) and beside the
// revision (count_, what the writer reads: the header line every change loads anyway).
inline void Bundle::publish(Entry& next, std::uint32_t count) {
  next.count = count;
  // W2 of mprog/rcu.hpp: one seq_cst store makes the filled peer the active entry. seq_cst,
  // not just release: with the scan in synchronize() it forms the store-buffering pattern
  // that guarantees a reader still on the old entry is seen (rcu.hpp, argument (b)).
  active_.store(&next, std::memory_order_seq_cst);
  // W3, the grace period: after this no reader is in the old entry, so the next change may
  // refill it and a released program may be freed (kernel: bpf_mprog_commit's
  // synchronize_rcu). Costs one load per registered reader thread when none is inside.
  synchronize();
  // tcx frees a chain whose last program left; a new one starts again at revision 1.
  count_ = count;
  revision_ = count == 0 ? 1 : revision_ + 1;
  ++generation_;
}

void Bundle::reset() {
  const Entry& cur = active_entry();
  for (std::uint32_t i = 0; i < count_; ++i) {
    if (slots_[i].link()) slots_[i].link()->bundle = nullptr;
    slots_[i] = Slot{};
  }
  Entry& next = peer_of(cur);
  next.programs[0] = nullptr;
  released_ = nullptr;
  publish(next, 0);
}

// ---- control path entry points ----

inline ChainView Bundle::view(const Entry& cur) const { return {&cur, slots_, revision_, dialect_, count_}; }

Result Bundle::attach(const Request& request) {
  const Entry& cur = active_entry();
  Plan plan;
  if (Result r = plan_attach(view(cur), request, nullptr, plan); !r) return r;
  if (plan.kind == Plan::Kind::replace)
    replace_at(plan.index, plan.prog, plan.slot);
  else
    insert_at(cur, plan.index, plan.prog, plan.slot);
  return {};
}

Result Bundle::attach(Link& link, const Request& request) {
  if (link.attached()) return {-EBUSY, Why::link_attached};  // a link owns one slot, once
  const Entry& cur = active_entry();
  Plan plan;
  if (Result r = plan_attach(view(cur), request, &link, plan); !r) return r;
  insert_at(cur, plan.index, plan.prog, plan.slot);
  link.bundle = this;
  return {};
}

namespace {
Result placed(Result r, const Plan& plan, Placement* where) {
  if (r && where) *where = Placement{static_cast<Placement::Kind>(plan.kind), plan.index};
  return r;
}
}  // namespace

Result Bundle::check_attach(const Request& request, Placement* where) const {
  Plan plan;
  return placed(plan_attach(view(active_entry()), request, nullptr, plan), plan, where);
}

Result Bundle::check_detach(const Request& request, Placement* where) const {
  Plan plan;
  return placed(plan_detach(view(active_entry()), request, nullptr, plan), plan, where);
}

void Bundle::install(const Entry& entry, const Slot* slots) {
  const Entry& cur = active_entry();
  for (std::uint32_t i = 0; i < count_; ++i)
    if (slots_[i].link()) slots_[i].link()->bundle = nullptr;
  Entry& next = peer_of(cur);
  std::copy(entry.programs.data(), entry.programs.data() + entry.count + 1, next.programs.data());
  std::copy(slots, slots + kSlots, slots_);
  for (std::uint32_t i = 0; i < entry.count; ++i)
    if (slots_[i].link()) slots_[i].link()->bundle = this;
  released_ = nullptr;
  publish(next, entry.count);
}

Result Bundle::detach(const Request& request) {
  const Entry& cur = active_entry();
  Plan plan;
  if (Result r = plan_detach(view(cur), request, nullptr, plan); !r) return r;
  delete_at(cur, plan.index);
  return {};
}

Result Bundle::detach_link(Link& link) {
  const Entry& cur = active_entry();
  Plan plan;
  if (Result r = plan_detach(view(cur), Request{}, &link, plan); !r) return r;
  delete_at(cur, plan.index);
  return {};
}

Result Bundle::update_link(Link& link, Program& new_prog) {
  const Entry& e = active_entry();
  if (find_program(view(e), &new_prog) >= 0) return {-EEXIST, Why::exists};
  for (std::uint32_t i = 0; i < count_; ++i) {
    if (slots_[i].link() != &link) continue;
    replace_at(i, &new_prog, slots_[i]);  // the slot keeps its link and its pins
    link.prog = &new_prog;
    return {};
  }
  return {-ENOENT, Why::prog_absent};  // unreachable while link.bundle == this
}

Result Bundle::query(QueryHead& head, QueryEntry* entries, std::uint32_t capacity) const {
  const Entry& e = active_entry();
  head.revision = revision_;
  head.count = count_;
  const std::uint32_t n = std::min(capacity, count_);
  for (std::uint32_t i = 0; i < n; ++i) {
    const Slot& s = slots_[i];
    entries[i].prog_id = e.programs[i]->id;
    entries[i].link_id = s.link() ? s.link()->id : 0;
    const auto pins = static_cast<std::uint32_t>(s.pins());  // FIRST/LAST: low bits
    entries[i].prog_flags = s.link() ? 0 : pins;
    entries[i].link_flags = s.link() ? pins : 0;
  }
  if (capacity != 0 && capacity < count_) return {-ENOSPC, Why::query_short};
  return {};
}

// ---- fast path ----

// R1..R4 of mprog/rcu.hpp: lock-free, no allocation. The programs are called inside the
// section, so a program must not block or update a chain (the writer would wait for it).
int Bundle::run(void* ctx) const {
  ReadSection section;
  for (Program* const* p = active().programs.data(); *p; ++p) {
    const Program& prog = **p;
    const int verdict = prog.run ? prog.run(prog, ctx) : kNext;
    if (verdict != kNext) return verdict;
  }
  return kNext;
}

// ---- link entry points that do not need the chain ----

Result update(Ref<Link> link, Ref<Program> new_prog, std::uint64_t flags, Ref<Program> old_prog) {
  if (flags & ~flag::replace) return {-EINVAL, Why::update_flags};
  if (link.error) return {link.error, Why::bad_handle};
  if (!link.object) return {-EINVAL, Why::bad_handle};  // names nothing: as plan_attach
  if (new_prog.error) return {new_prog.error, Why::bad_handle};
  if (!new_prog.object) return {-EINVAL, Why::bad_handle};
  if (flags & flag::replace) {
    if (old_prog.error) return {old_prog.error, Why::bad_handle};
    if (!old_prog.object) return {-EINVAL, Why::replace_missing};
  } else if (old_prog.object || old_prog.error) {
    return {-EINVAL, Why::update_flags};  // kernel: old_prog_fd without BPF_F_REPLACE
  }
  Link& l = *link.object;
  if (!l.attached()) return {-ENOLINK, Why::link_detached};
  if (old_prog.object && old_prog.object != l.prog) return {-EPERM, Why::wrong_old_prog};
  if (l.cgroup) return l.cgroup->update_link(l, *new_prog.object);  // its own rules
  if (new_prog.object == l.prog) return {};  // tcx: same program, nothing to do
  return l.bundle->update_link(l, *new_prog.object);
}

Result detach(Ref<Link> link) {
  if (link.error) return {link.error, Why::bad_handle};
  if (!link.object) return {-EINVAL, Why::bad_handle};
  if (!link.object->attached()) return {};
  if (link.object->cgroup) return link.object->cgroup->detach_link(*link.object);
  return link.object->bundle->detach_link(*link.object);
}

}  // namespace mprog
