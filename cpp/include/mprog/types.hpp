// The vocabulary of the core: programs, links, flags and the request of one operation.
// Programs and links are owned by the caller; the core only points at them.
#pragma once

#include "mprog/errno.hpp"
#include <cstddef>
#include <cstdint>

namespace mprog {

// 64 slots, one kept empty as the end marker of the fast-path array (kernel: bpf_mprog_max()).
constexpr std::size_t kSlots = 64;
constexpr std::size_t kMaxPrograms = kSlots - 1;

// tcx's TCX_NEXT: a program returning it hands the packet to the next one.
constexpr int kNext = -1;

enum class Dialect : std::uint8_t { upstream, v2 };

// Flag bits as the uapi spells them. FIRST/LAST exist only in v2, which also moved ID.
namespace flag {
constexpr std::uint64_t replace = 1u << 2;
constexpr std::uint64_t before = 1u << 3;
constexpr std::uint64_t after = 1u << 4;
constexpr std::uint64_t id = 1u << 5;
constexpr std::uint64_t link = 1u << 13;
constexpr std::uint64_t upstream_known = replace | before | after | id | link;
}  // namespace flag

namespace v2flag {
constexpr std::uint64_t replace = 1u << 2;
constexpr std::uint64_t before = 1u << 3;
constexpr std::uint64_t after = 1u << 4;
constexpr std::uint64_t first = 1u << 5;
constexpr std::uint64_t last = 1u << 6;
constexpr std::uint64_t id = 1u << 7;
constexpr std::uint64_t link = 1u << 13;
constexpr std::uint64_t pins = first | last;
constexpr std::uint64_t known = replace | before | after | first | last | id | link;
}  // namespace v2flag

// What kind of program it is, as the kernel's program type: a tcx (SCHED_CLS) program serves
// the upstream and v2 dialects, a cgroup (CGROUP_SKB) program the cgroup one.
enum class ProgramKind : std::uint8_t { tcx, cgroup };

struct Program;
using RunFn = int (*)(const Program& self, void* ctx);

// A program: what the fast path calls. `id` is reported by query; `user` is the caller's.
struct Program {
  std::uint32_t id = 0;
  RunFn run = nullptr;
  void* user = nullptr;
  ProgramKind kind = ProgramKind::tcx;  // last: {id, run, user} initializers keep working
};

class Bundle;
class Cgroup;  // private (src/cgroup.hpp): the cgroup dialect's list in its hierarchy

// A link owns the slot it was attached to. The core sets `bundle` while it is attached.
struct Link {
  std::uint32_t id = 0;
  Program* prog = nullptr;
  Bundle* bundle = nullptr;
  Cgroup* cgroup = nullptr;  // ... or the cgroup it is attached to (the cgroup dialect)
  void* user = nullptr;  // the caller's, like Program::user
  bool attached() const { return bundle != nullptr || cgroup != nullptr; }
};

// A handle the caller looked up, or the errno its lookup gave (a closed fd: -EBADF, ...).
// The core reports `error` at the point of its order of checks where the kernel would.
// A Ref with neither (a default Ref) names nothing: EINVAL where a program or link is
// required, as the kernel answers an fd that is no bpf object.
template <class T>
struct Ref {
  T* object = nullptr;
  int error = 0;
  Ref() = default;
  Ref(T* o) : object(o) {}  // NOLINT: a plain pointer is a successful lookup
  static Ref failed(int err) {
    Ref r;
    r.error = err;
    return r;
  }
};

// What relative_fd/relative_id named: a program, a link (and its program), nothing, or the
// lookup's error (wrong kind, closed, no such id).
struct Relative {
  const Program* prog = nullptr;
  const Link* link = nullptr;
  int error = 0;
  static Relative none() { return {}; }
  static Relative of(const Program* p) { return {p, nullptr, 0}; }
  static Relative of(const Link* l) { return {l->prog, l, 0}; }
  static Relative failed(int err) { return {nullptr, nullptr, err}; }
};

// One attach or detach, shaped like the kernel's bpf_attr.
struct Request {
  Ref<Program> prog;
  std::uint64_t flags = 0;
  Relative relative;
  Ref<Program> replace;  // attach with REPLACE only
  std::uint64_t expected_revision = 0;
};

// Why an operation failed, beside its errno: for messages, never for control flow.
enum class Why : std::uint8_t {
  none,
  unknown_flags,
  bad_handle,        // prog/replace/link lookup failed (its errno says how)
  replace_missing,   // REPLACE without a program to replace
  stale,
  exists,            // the program is already in the chain
  relative_lookup,   // the relative could not be looked up
  chain_full,
  replace_absent,    // the program to replace is not in the chain
  link_owned,        // a program named by program sits in a link's slot
  link_owned_detach, // the entry a detach picked by position is a link's
  slot_owned,        // v2 REPLACE: the slot belongs to another link (or to a program attach)
  link_attached,     // a link already attached is attached again (C++ only)
  relative_absent,   // the relative is not in the chain
  position,          // directives disagree or name no such position
  no_directive,      // a relative without BEFORE/AFTER
  empty,             // the chain is empty
  prog_absent,       // the program to detach is not in the chain
  link_detached,
  wrong_old_prog,
  update_flags,
  pinned,            // v2: a pin holder is in the way
  pin_position,      // v2: a pin away from its end
  query_short,
  // The cgroup dialect's own rules (docs/cgroup.md).
  wrong_kind,        // not a cgroup program
  bad_mode,          // ALLOW_OVERRIDE with ALLOW_MULTI, or REPLACE without ALLOW_MULTI
  replace_position,  // REPLACE with BEFORE/AFTER
  hierarchy,         // an ancestor holds one program without ALLOW_OVERRIDE
  mode_mismatch,     // the list has another mode
  preorder,          // the relative and the new entry differ in PREORDER
  detach_args,       // cgroup detach takes no flags and no relative
  unnamed,           // ALLOW_MULTI detach without a program
};

}  // namespace mprog
