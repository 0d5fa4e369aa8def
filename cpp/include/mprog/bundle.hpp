// A chain of programs at one hook: the kernel's bpf_mprog_bundle.
//
// Control path (attach, detach, update, query): one writer at a time; the caller serializes
// writers, as tcx does with rtnl. Every change fills the inactive entry, publishes it with
// one atomic store, waits for a grace period, and raises the revision by one (a chain left
// empty is freed, as tcx frees it: its revision starts again at 1). Every failed operation
// returns before anything is written, so it changes nothing.
//
// Fast path (run, read): lock-free, inside a ReadSection, touching only Entry::programs.
//
// The embedder's surface, as the kernel's mprog.c exports attach, detach and query: the
// control-path entry points below, the link entry points update()/detach() at the end, the
// read side (run, active), and Transaction (mprog/transaction.hpp). Lifetimes: the core
// owns no Program or Link, it points at them (docs/lifetimes.md).
#pragma once

#include <atomic>
#include <cstdint>

#include "mprog/entry.hpp"
#include "mprog/rcu.hpp"
#include "mprog/types.hpp"

namespace mprog {

struct ChainView;  // private (src/plan.hpp): the read-only chain the rule sets plan against
class Transaction;

// The outcome of an operation: 0 or a negative errno, and why (for messages: the texts live
// in one table, python/mprog/messages.py, shared with the reference model).
struct Result {
  static constexpr std::uint8_t kNoSlot = 0xff;
  int error = 0;
  Why why = Why::none;
  std::uint8_t slot = kNoSlot;  // the slot the failure is about (link_owned*), if any
  explicit operator bool() const { return error == 0; }
};

// Where a dry run says an operation would act.
struct Placement {
  enum class Kind : std::uint8_t { insert, replace, remove } kind = Kind::insert;
  std::uint32_t index = 0;
};

struct QueryEntry {
  std::uint32_t prog_id = 0;
  std::uint32_t link_id = 0;
  std::uint32_t prog_flags = 0;
  std::uint32_t link_flags = 0;
};

struct QueryHead {
  std::uint64_t revision = 1;
  std::uint32_t count = 0;  // the chain's total
};

class Bundle {
 public:
  explicit Bundle(Dialect dialect = Dialect::upstream);
  ~Bundle();  // links still attached become detached
  Bundle(const Bundle&) = delete;
  Bundle& operator=(const Bundle&) = delete;

  Dialect dialect() const { return dialect_; }

  void* user = nullptr;  // the embedder's own pointer (the Python binding keeps its object here)

  // ---- control path ----
  Result attach(const Request& request);              // BPF_PROG_ATTACH
  Result attach(Link& link, const Request& request);  // BPF_LINK_CREATE (request.prog unused)
  Result detach(const Request& request);              // BPF_PROG_DETACH
  // Writes min(count, capacity) entries; capacity 0 asks only for the head. A capacity
  // smaller than the chain gives -ENOSPC with the first `capacity` entries written.
  Result query(QueryHead& head, QueryEntry* entries, std::uint32_t capacity) const;

  // Empties the chain without the rules (tcx on device removal): links become detached and
  // the revision starts again at 1. Programs attached by program are the caller's to release
  // (for_each_tuple, before, names them).
  void reset();

  // Dry run: would this operation succeed, and where would it land? Changes nothing.
  Result check_attach(const Request& request, Placement* where) const;
  Result check_detach(const Request& request, Placement* where) const;

  std::uint64_t revision() const { return revision_; }
  // Counts every committed change and, unlike the revision, never starts again at 1 when the
  // chain is freed: "has anything changed since" (Transaction::commit) without ABA.
  std::uint64_t generation() const { return generation_; }
  std::uint32_t size() const { return count_; }
  // The program the last successful change let go of (a detached or replaced program that
  // was attached by program), once no reader can see it any more; nullptr if none.
  Program* released() const { return released_; }

  // The writer's walk of the chain (kernel: bpf_mprog_foreach_tuple): f(program, link) for
  // each entry in order, link nullptr for a program attached by program. For the writer
  // (where writers are serialized), not for readers: they use active().
  template <class F>
  void for_each_tuple(F&& f) const {
    const Entry& e = active_entry();
    for (std::uint32_t i = 0; i < count_; ++i) f(e.programs[i], slots_[i].link());
  }

  // ---- fast path ----
  // Calls the programs in order until one returns something other than kNext.
  int run(void* ctx) const;
  // The active entry (R2 of mprog/rcu.hpp); valid only inside a ReadSection. Walk
  // programs[] up to the nullptr terminator. seq_cst: it must not be reordered before the
  // section's opening store (rcu.hpp, argument (b)).
  const Entry& active() const { return *active_.load(std::memory_order_seq_cst); }

 private:
  // The link operations and transactions change the chain from outside these entry points.
  friend Result update(Ref<Link>, Ref<Program>, std::uint64_t, Ref<Program>);
  friend Result detach(Ref<Link>);
  friend class Transaction;

  Result update_link(Link& link, Program& new_prog);
  Result detach_link(Link& link);
  // Makes `entry` and `slots` the chain in one change (Transaction::commit): no rule is
  // checked here, the transaction checked each of its operations.
  void install(const Entry& entry, const Slot* slots);

  // The chain as the writer sees it (`cur`: the active entry), for the rule sets
  // (upstream.hpp, v2.cpp). The writer is the only one that stores active_, so its own loads
  // need no ordering.
  ChainView view(const Entry& cur) const;
  const Entry& active_entry() const { return *active_.load(std::memory_order_relaxed); }
  Entry& peer_of(const Entry& cur);  // the other entry: what the next change fills

  // Each fills the peer of `cur` (the active entry) and publishes it.
  void insert_at(const Entry& cur, std::uint32_t index, Program* prog, Slot slot);
  void replace_at(std::uint32_t index, Program* prog, Slot slot);
  void delete_at(const Entry& cur, std::uint32_t index);
  void publish(Entry& next, std::uint32_t count);

  // What every change reads or writes besides the entries, on one cache line.
  std::atomic<Entry*> active_;
  std::uint64_t revision_ = 1;
  std::uint64_t generation_ = 0;
  Program* released_ = nullptr;
  std::uint32_t count_ = 0;  // the active entry's count, kept here beside the revision
  Dialect dialect_;
  alignas(64) Entry entries_[2];
  // Writer-only, like the kernel's cp_items, one copy for both entries. Slots past the count
  // may hold stale values, as programs[] past its terminator does: nothing reads them (an
  // insert writes the slot it fills), so a delete does not clear the one it leaves behind.
  Slot slots_[kSlots];
};

// Link operations that must work on a link whose chain is gone (BPF_LINK_UPDATE and
// BPF_LINK_DETACH name the link, not the chain). `flags` is the link update's flags.
Result update(Ref<Link> link, Ref<Program> new_prog, std::uint64_t flags, Ref<Program> old_prog);
Result detach(Ref<Link> link);

}  // namespace mprog
