// The cgroup dialect (cgroup-bpf with the mprog API, Linux 6.17+): one cgroup's list of
// programs for one attach type, in a hierarchy of cgroups (docs/cgroup.md).
//
// Private to the core and its binding (not installed). The rules (cgroup.cpp) make the
// kernel's checks in the kernel's order (docs/cgroup.md, "Rules") against the list as it is
// and return before anything is written, so a failed operation changes nothing. A change
// recomputes the effective array of this cgroup and of every cgroup below it, publishes each
// through the read side of mprog/rcu.hpp (a/b arrays, one atomic store) and waits one grace
// period for all of them.
//
// Writers are serialized by the caller (the binding holds the GIL), as for Bundle. The core
// owns no Program or Link; a parent must outlive its children (the binding's child holds
// its parent).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "mprog/bundle.hpp"

namespace mprog {

namespace cgflag {
constexpr std::uint64_t allow_override = 1u << 0;
constexpr std::uint64_t allow_multi = 1u << 1;
constexpr std::uint64_t replace = 1u << 2;
constexpr std::uint64_t before = 1u << 3;
constexpr std::uint64_t after = 1u << 4;
constexpr std::uint64_t id = 1u << 5;
constexpr std::uint64_t preorder = 1u << 6;
constexpr std::uint64_t link = 1u << 13;
constexpr std::uint64_t modes = allow_override | allow_multi;
// BPF_PROG_ATTACH: BPF_F_ATTACH_MASK_BASE | BPF_F_ATTACH_MASK_MPROG.
constexpr std::uint64_t attach_known = modes | replace | preorder | before | after | id | link;
// BPF_LINK_CREATE for cgroups (a link is always ALLOW_MULTI).
constexpr std::uint64_t link_known = id | before | after | preorder | link;
}  // namespace cgflag

// BPF_CGROUP_MAX_PROGS.
constexpr std::size_t kCgroupMaxPrograms = 64;
// A cgroup program's verdicts (bit 0 of what it returns).
constexpr int kAllow = 1;
constexpr int kDeny = 0;

// One program in a list: attached by program (link nullptr) or through a link.
struct CgroupEntry {
  Program* prog = nullptr;  // attached by program; nullptr for a link's entry
  Link* link = nullptr;
  bool preorder = false;
  Program* runs() const { return link ? link->prog : prog; }
};

// The effective array a reader walks: nullptr after the last program.
struct EffectiveArray {
  std::vector<Program*> programs{nullptr};
};

class Cgroup {
 public:
  explicit Cgroup(Cgroup* parent = nullptr);
  ~Cgroup();  // close(), and leaves its parent
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  void* user = nullptr;  // the embedder's own pointer

  // ---- control path ----
  // BPF_PROG_ATTACH: request.prog, flags, relative, replace (read under ALLOW_MULTI|REPLACE).
  Result attach(const Request& request);
  // BPF_LINK_CREATE: request.prog is the link's program (link.prog must be it).
  Result attach(Link& link, const Request& request);
  // BPF_PROG_DETACH: request.prog names the program (a failed lookup names none).
  Result detach(const Request& request);
  Result update_link(Link& link, Program& new_prog);  // after update()'s common checks
  Result detach_link(Link& link);
  // Empties the list without the rules (the cgroup goes away): links become detached;
  // returns the programs attached by program, which are the caller's to release.
  std::vector<Program*> close();

  const std::vector<CgroupEntry>& entries() const { return entries_; }
  std::uint32_t mode() const { return mode_; }
  std::uint64_t revision() const { return revision_; }
  Cgroup* parent() const { return parent_; }
  bool closed() const { return closed_; }
  // The program the last successful change let go of (attached by program), once no reader
  // can see it any more; nullptr if none.
  Program* released() const { return released_; }
  // The effective array as the writer sees it (control path).
  const std::vector<Program*>& effective_entries() const { return active_entry().programs; }

  // ---- fast path ----
  // Every program of the effective array runs, whatever the others said: kAllow if each
  // returned an odd verdict (a program without `run` allows), else kDeny.
  int run(void* ctx) const;
  // The active effective array; valid only inside a ReadSection.
  const EffectiveArray& active() const { return *active_.load(std::memory_order_seq_cst); }

 private:
  Result attach_entry(Program* prog, Link* link, std::uint64_t flags, const Relative& relative,
                      Program* replacing, std::uint64_t expected_revision);
  bool hierarchy_allows_attach() const;
  Result insert_position(Link* link, std::uint64_t flags, const Relative& relative,
                         std::size_t* at) const;
  void remove_at(std::size_t index);
  void commit(std::vector<CgroupEntry> entries, std::uint32_t mode);
  void compute_effective(std::vector<Program*>& out) const;
  void republish();  // this cgroup and every one below it, then one grace period
  void publish_subtree();
  const EffectiveArray& active_entry() const { return *active_.load(std::memory_order_relaxed); }
  const EffectiveArray* active_entry_ptr() const { return active_.load(std::memory_order_relaxed); }

  Cgroup* parent_;
  std::vector<Cgroup*> children_;
  std::vector<CgroupEntry> entries_;
  std::uint32_t mode_ = 0;
  std::uint64_t revision_ = 1;  // never back to 1: the cgroup keeps its counter
  bool closed_ = false;
  Program* released_ = nullptr;
  EffectiveArray arrays_[2];
  std::atomic<EffectiveArray*> active_;
};

}  // namespace mprog
