// The cgroup dialect's rules, check for check in docs/cgroup.md's order (kernel/bpf/cgroup.c:
// __cgroup_bpf_attach, find_attach_entry, get_prog_list, __cgroup_bpf_detach,
// compute_effective_progs, hierarchy_allows_attach), and the hierarchy's effective arrays.
#include "cgroup.hpp"

#include <algorithm>

namespace mprog {
namespace {

bool is_cgroup(const Program* p) { return p && p->kind == ProgramKind::cgroup; }

// A relative was named: by flag (LINK, ID) or by a handle that is not "none" (its lookup
// may have failed: that is reported where the relative is looked at).
bool named(std::uint64_t flags, const Relative& r) {
  return (flags & (cgflag::link | cgflag::id)) || r.prog || r.link || r.error;
}

}  // namespace

Cgroup::Cgroup(Cgroup* parent) : parent_(parent), active_(&arrays_[0]) {
  if (parent_) {
    parent_->children_.push_back(this);
    parent_->compute_effective(arrays_[0].programs);  // an empty cgroup runs what is above
  }
}

Cgroup::~Cgroup() {
  close();
  for (Cgroup* c : children_) c->parent_ = nullptr;
  if (parent_) {
    auto& siblings = parent_->children_;
    siblings.erase(std::find(siblings.begin(), siblings.end(), this));
  }
}

// ---- attach ----------------------------------------------------------------------------

Result Cgroup::attach(const Request& r) {
  // bpf_prog_attach(): the flag mask, then the program; cgroup_bpf_prog_attach(): the
  // program to replace, fetched only under ALLOW_MULTI|REPLACE.
  if (r.flags & ~cgflag::attach_known) return {-EINVAL, Why::unknown_flags};
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  if (!is_cgroup(r.prog.object)) return {-EINVAL, Why::wrong_kind};
  Program* replacing = nullptr;
  if ((r.flags & cgflag::allow_multi) && (r.flags & cgflag::replace)) {
    if (r.replace.error) return {r.replace.error, Why::bad_handle};
    if (!r.replace.object) return {-EINVAL, Why::replace_missing};
    if (!is_cgroup(r.replace.object)) return {-EINVAL, Why::wrong_kind};
    replacing = r.replace.object;
  }
  return attach_entry(r.prog.object, nullptr, r.flags, r.relative, replacing,
                      r.expected_revision);
}

Result Cgroup::attach(Link& link, const Request& r) {
  // link_create(): bits a u32 cannot carry first, the program, then cgroup_bpf_link_attach's
  // flag mask. A link is always ALLOW_MULTI.
  if (r.flags >> 32) return {-EINVAL, Why::unknown_flags};
  if (r.prog.error) return {r.prog.error, Why::bad_handle};
  if (!is_cgroup(r.prog.object)) return {-EINVAL, Why::wrong_kind};
  if (r.flags & ~cgflag::link_known) return {-EINVAL, Why::unknown_flags};
  if (link.attached()) return {-EBUSY, Why::link_attached};  // a link owns one entry, once
  return attach_entry(nullptr, &link, r.flags | cgflag::allow_multi, r.relative, nullptr,
                      r.expected_revision);
}

Result Cgroup::attach_entry(Program* prog, Link* link, std::uint64_t flags,
                            const Relative& relative, Program* replacing,
                            std::uint64_t expected_revision) {
  const auto mode = static_cast<std::uint32_t>(flags & cgflag::modes);
  if (mode == cgflag::modes || ((flags & cgflag::replace) && !(flags & cgflag::allow_multi)))
    return {-EINVAL, Why::bad_mode};
  if ((flags & cgflag::replace) && (flags & (cgflag::before | cgflag::after)))
    return {-EINVAL, Why::replace_position};
  if (expected_revision && expected_revision != revision_) return {-ESTALE, Why::stale};
  if (!hierarchy_allows_attach()) return {-EPERM, Why::hierarchy};
  if (!entries_.empty() && mode_ != mode) return {-EPERM, Why::mode_mismatch};
  if (entries_.size() >= kCgroupMaxPrograms) return {-E2BIG, Why::chain_full};
  const CgroupEntry entry{prog, link, (flags & cgflag::preorder) != 0};

  // find_attach_entry(): the entry an attach takes over, if any. Without ALLOW_MULTI that is
  // the one program, whatever the relative says; with it, REPLACE names an entry attached by
  // program, and the program must not be in the list by program already (through a link it
  // may be).
  std::size_t slot = entries_.size();  // none
  if (!(mode & cgflag::allow_multi)) {
    if (!entries_.empty()) slot = 0;
  } else {
    for (const CgroupEntry& e : entries_)
      if (prog && !e.link && e.prog == prog && prog != replacing) return {-EINVAL, Why::exists};
    if (replacing) {
      auto it = std::find_if(entries_.begin(), entries_.end(), [&](const CgroupEntry& e) {
        return !e.link && e.prog == replacing;
      });
      if (it == entries_.end()) return {-ENOENT, Why::replace_absent};
      slot = static_cast<std::size_t>(it - entries_.begin());
    }
  }
  std::vector<CgroupEntry> next = entries_;
  Program* released = nullptr;
  if (slot < entries_.size()) {
    released = entries_[slot].link ? nullptr : entries_[slot].prog;
    next[slot] = entry;
  } else {
    std::size_t at = 0;
    if (const Result res = insert_position(link, flags, relative, &at); !res) return res;
    next.insert(next.begin() + static_cast<std::ptrdiff_t>(at), entry);
  }
  if (link) link->cgroup = this;
  commit(std::move(next), mode);
  released_ = released;
  return {};
}

// get_prog_list() and insert_pl_to_hlist(): where a new entry goes.
Result Cgroup::insert_position(Link* link, std::uint64_t flags, const Relative& relative,
                               std::size_t* at) const {
  const bool by_link = flags & cgflag::link;
  const bool before = flags & cgflag::before, after = flags & cgflag::after;
  if (!named(flags, relative)) {
    // PREORDER does not matter here: first or last of the whole list.
    if (!entries_.empty() && before && after) return {-EINVAL, Why::position};
    *at = before ? 0 : entries_.size();
    return {};
  }
  if (before == after) return {-EINVAL, Why::no_directive};
  if (by_link != (link != nullptr)) return {-EINVAL, Why::position};
  if (relative.error) return {relative.error, Why::relative_lookup};
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const CgroupEntry& e) {
    return by_link ? e.link == relative.link : (!e.link && e.prog == relative.prog);
  });
  if (it == entries_.end()) return {-ENOENT, Why::relative_absent};
  if (it->preorder != ((flags & cgflag::preorder) != 0)) return {-EINVAL, Why::preorder};
  const auto idx = static_cast<std::size_t>(it - entries_.begin());
  *at = before ? idx : idx + 1;
  return {};
}

// The nearest ancestor that holds anything decides: ALLOW_MULTI allows; one program allows
// only with ALLOW_OVERRIDE. Empty ancestors are passed over.
bool Cgroup::hierarchy_allows_attach() const {
  for (const Cgroup* level = parent_; level; level = level->parent_) {
    if (level->mode_ & cgflag::allow_multi) return true;
    if (level->entries_.size() == 1) return (level->mode_ & cgflag::allow_override) != 0;
  }
  return true;
}

// ---- detach, links, close --------------------------------------------------------------

Result Cgroup::detach(const Request& r) {
  // bpf_prog_detach() for cgroup types: no flags and no relative at all. A handle that is
  // no open cgroup program names no program (never EBADF).
  if (r.flags || named(0, r.relative)) return {-EINVAL, Why::detach_args};
  const Program* prog = is_cgroup(r.prog.object) && !r.prog.error ? r.prog.object : nullptr;
  if (r.expected_revision && r.expected_revision != revision_) return {-ESTALE, Why::stale};
  std::size_t idx = 0;
  if (mode_ & cgflag::allow_multi) {
    if (!prog) return {-EINVAL, Why::unnamed};
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const CgroupEntry& e) {
      return !e.link && e.prog == prog;
    });
    if (it == entries_.end()) return {-ENOENT, Why::prog_absent};
    idx = static_cast<std::size_t>(it - entries_.begin());
  } else if (entries_.empty()) {
    return {-ENOENT, Why::empty};  // without ALLOW_MULTI the one program goes, whatever named
  }
  remove_at(idx);
  return {};
}

Result Cgroup::update_link(Link& link, Program& new_prog) {
  // cgroup_bpf_replace(): no duplicate check, and the link's own program again is a change.
  if (!is_cgroup(&new_prog)) return {-EINVAL, Why::wrong_kind};
  link.prog = &new_prog;
  commit(entries_, mode_);
  released_ = nullptr;
  return {};
}

Result Cgroup::detach_link(Link& link) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const CgroupEntry& e) { return e.link == &link; });
  if (it == entries_.end()) return {-ENOENT, Why::prog_absent};  // unreachable: link.cgroup == this
  remove_at(static_cast<std::size_t>(it - entries_.begin()));
  return {};
}

void Cgroup::remove_at(std::size_t index) {
  const CgroupEntry gone = entries_[index];
  std::vector<CgroupEntry> next = entries_;
  next.erase(next.begin() + static_cast<std::ptrdiff_t>(index));
  if (gone.link) gone.link->cgroup = nullptr;
  const std::uint32_t mode = next.empty() ? 0 : mode_;  // an empty list has no mode
  commit(std::move(next), mode);
  released_ = gone.link ? nullptr : gone.prog;
}

std::vector<Program*> Cgroup::close() {
  std::vector<Program*> held;
  if (closed_) return held;
  for (const CgroupEntry& e : entries_) {
    if (e.link) e.link->cgroup = nullptr;
    else held.push_back(e.prog);
  }
  entries_.clear();
  mode_ = 0;
  closed_ = true;
  released_ = nullptr;
  republish();  // the cgroups below no longer run this one's programs
  return held;
}

void Cgroup::commit(std::vector<CgroupEntry> entries, std::uint32_t mode) {
  entries_ = std::move(entries);
  mode_ = mode;
  ++revision_;
  republish();
}

// ---- effective arrays ------------------------------------------------------------------

// compute_effective_progs(): from this cgroup upward, a level counts if nothing counted
// below it yet or its mode is ALLOW_MULTI. PREORDER programs run first, the root-most
// level's first (each level's in list order); then the others, this cgroup's first.
void Cgroup::compute_effective(std::vector<Program*>& out) const {
  std::vector<const Cgroup*> counted;
  std::size_t n = 0;
  for (const Cgroup* level = this; level; level = level->parent_) {
    if (n && !(level->mode_ & cgflag::allow_multi)) continue;
    counted.push_back(level);
    n += level->entries_.size();
  }
  out.clear();
  for (auto it = counted.rbegin(); it != counted.rend(); ++it)
    for (const CgroupEntry& e : (*it)->entries_)
      if (e.preorder) out.push_back(e.runs());
  for (const Cgroup* level : counted)
    for (const CgroupEntry& e : level->entries_)
      if (!e.preorder) out.push_back(e.runs());
  out.push_back(nullptr);
}

void Cgroup::publish_subtree() {
  EffectiveArray& peer = active_entry_ptr() == &arrays_[0] ? arrays_[1] : arrays_[0];
  compute_effective(peer.programs);  // W1: nobody reads the peer (the last grace period)
  active_.store(&peer, std::memory_order_seq_cst);  // W2
  for (Cgroup* c : children_) c->publish_subtree();
}

void Cgroup::republish() {
  publish_subtree();
  synchronize();  // W3: one grace period for the whole subtree
}

int Cgroup::run(void* ctx) const {
  ReadSection section;
  int verdict = kAllow;
  for (Program* const* p = active().programs.data(); *p; ++p)
    if ((*p)->run && !((*p)->run(**p, ctx) & 1)) verdict = kDeny;
  return verdict;
}

}  // namespace mprog
