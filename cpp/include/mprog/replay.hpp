// Trace replay: many operations applied to one Bundle in a single call, so that a caller in
// another language pays its per-call cost once per trace instead of once per operation.
//
// A trace is an array of 16-byte Ops that name programs and links by index into a Session's
// pre-created handles. The Session keeps the handle state the Python protocol has (closed
// handles, programs alive while something holds them, links created by a `link` op), so a
// trace gives, op by op, the errnos and the final chain that the same calls through the
// Python `Bundle` give (docs/protocol.md; tests/test_batch.py holds the two side by side).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mprog/bundle.hpp"

namespace mprog::replay {

enum class Opcode : std::uint8_t {
  attach,         // bundle.attach(prog, flags, relative, replace, expected_revision)
  detach,         // bundle.detach(prog or None, flags, relative, expected_revision)
  link,           // links[link] = bundle.link(prog, flags, relative, expected_revision)
  update,         // links[link].update(prog, flags, other or None)
  link_detach,    // links[link].detach()
  close_program,  // programs[prog].close()
  close_link,     // links[link].close()
  new_program,    // programs[prog] = a new program (a Session makes its programs up front:
                  // there it only checks the index; the Python executor makes it)
};

// How Op::relative names the relative.
enum class Arg : std::uint8_t {
  none,     // None
  program,  // the handle programs[relative] (with ID: its id)
  link,     // the handle links[relative] (with ID: its id)
  value,    // the int `relative`: an id with ID, else an fd that is no bpf object (0: none)
  program_id,  // the id of programs[relative], as an int
  link_id,     // the id of links[relative], as an int
  no_id,       // the int kNoId, an id no object has (`relative` unused)
};

// The id the operation vocabulary gives a relative that must name nothing
// (mprog.ops.vocabulary.NO_SUCH_ID): no backend hands it out.
constexpr std::uint32_t kNoId = 0xFFFFFFF0u;

// What expected_revision is.
enum class Expect : std::uint8_t {
  any,      // 0: no check
  current,  // the bundle's revision when the op runs
  stale,    // the bundle's revision + 1 when the op runs (the vocabulary's "future")
  previous, // one the bundle had before: revision - 1, or revision + 7 at revision 1 (the
            // vocabulary's "stale")
};

// Expect::previous for a bundle at `revision` (shared with the Python executor).
inline std::uint64_t previous_revision(std::uint64_t revision) {
  return revision > 1 ? revision - 1 : revision + 7;
}

constexpr std::uint16_t kNone = 0xffff;  // Op::prog / Op::other: None

// One operation. Index fields name a Session's handles: program i has id i + 1 and link j has
// id j + 1 (so Arg::value with ID names them by id).
struct Op {
  Opcode code = Opcode::attach;
  Arg relative_kind = Arg::none;
  Expect expect = Expect::any;
  std::uint8_t reserved = 0;
  std::uint32_t flags = 0;
  std::uint16_t prog = kNone;   // attach/link/detach: the program; update: new_prog; close_program
  std::uint16_t other = kNone;  // attach: replace; update: old_prog
  std::uint16_t link = 0;       // link: the new link (created by this op); update, link_detach,
                                // close_link: the link
  std::uint16_t relative = 0;   // see relative_kind
};
static_assert(sizeof(Op) == 16, "the trace encoding is 16 bytes per op");

// Results per errno: by_errno[0] counts successes, by_errno[e] failures with errno e.
struct Counts {
  std::uint64_t ops = 0;
  std::array<std::uint64_t, 256> by_errno{};
};

// One slot of the final chain: program and link indices (link kNone: attached by program).
struct ChainSlot {
  std::uint16_t prog = kNone;
  std::uint16_t link = kNone;
};

// A bundle with `programs` pre-created programs and room for `links` links, all unnamed by
// anything but this session. Not thread-safe: one caller at a time, like any writer.
class Session {
 public:
  // At most 65534 programs and 65534 links (an index is 16 bits, kNone excluded): more
  // throws std::invalid_argument before anything is allocated.
  Session(Dialect dialect, std::uint32_t programs, std::uint32_t links);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Applies one op: 0 or a negative errno. A malformed op (an index out of range, a link
  // named before it was created or created twice, a missing program) throws
  // std::invalid_argument and changes nothing.
  int apply(const Op& op);

  // Applies ops[0..n), counting results; errnos (if not null) gets each op's errno (0: ok).
  // `done`, if given, holds the index of the op being applied (n once all are).
  Counts apply(const Op* ops, std::size_t n, std::int32_t* errnos = nullptr,
               std::size_t* done = nullptr);

  const Bundle& bundle() const { return *bundle_; }
  std::vector<ChainSlot> chain() const;

 private:
  struct ProgramHandle {
    Program core;
    bool closed = false;
    std::uint32_t holders = 0;  // chains holding it by program + open links holding it
    bool alive() const { return !closed || holders > 0; }
  };
  enum class LinkState : std::uint8_t { unused, open, closed };
  struct LinkHandle {
    Link core;
    LinkState state = LinkState::unused;
  };

  Relative resolve_relative(Arg kind, std::uint16_t index, std::uint32_t flags) const;
  Ref<Program> program_ref(std::uint16_t index) const;
  Request request(const Op& op, bool replace_is_relative) const;
  std::uint64_t expected(Expect e) const;
  ProgramHandle& program_at(std::uint16_t index);
  LinkHandle& link_at(std::uint16_t index);
  ProgramHandle& owner(const Program* p) { return programs_[p->id - 1]; }
  void take_released();

  int attach(const Op& op);
  int link(const Op& op);
  int detach(const Op& op);
  int update(const Op& op);
  int link_detach(const Op& op);
  int close_link(const Op& op);

  // Declared before the bundle, so the bundle (which points at them) goes first.
  std::vector<ProgramHandle> programs_;
  std::vector<LinkHandle> links_;
  std::unique_ptr<Bundle> bundle_;
  std::uint64_t id_bit_, link_bit_;
};

}  // namespace mprog::replay
