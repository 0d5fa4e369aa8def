// The core fuzzer's world: a pool of programs, the links made so far, the bundle under test,
// an open transaction (if any) and its shadow. Each step applies one decoded operation
// through the public C++ API and checks what must hold after it:
//
// - every state: state.hpp's invariants (count, duplicates, pins, fast path = control path);
// - a failed operation changed nothing: chain, revision and every link as before;
// - a success that changes the chain steps the revision by exactly one (an emptied chain
//   starts again at 1); one that changes nothing keeps it;
// - a success put the program where the request said (right before/after its relative, at
//   the head or tail, in the replaced slot), removed the entry it named, and passed the
//   checks any success must have passed (expected revision, lookups, flags);
// - the dry run (check_attach/check_detach) agrees with the operation that follows it;
// - links agree with the chain (attached exactly when their id is in it, with their program);
// - a transaction decides each staged operation as a shadow bundle, rebuilt from the chain
//   when it began, decides it applied directly; its commit installs the shadow's chain in one
//   step, or fails with -ESTALE (changing nothing) when the bundle changed since it began.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "decode.hpp"
#include "mprog/mprog.hpp"
#include "state.hpp"

namespace mprog_fuzz {

class World {
 public:
  explicit World(mprog::Dialect dialect, bool trace);
  ~World();
  void step(const Op& op);

  static constexpr std::uint32_t kPrograms = 80;  // 63 in the chain and some to spare
  static constexpr std::size_t kMaxLinks = 160;   // link objects one input may create

 private:
  struct Outcome {
    State before, after;
    std::uint64_t generation = 0;  // counts committed changes; never starts again at 1
    std::vector<bool> attached_before;
    std::vector<mprog::Program*> prog_before;
  };

  // ---- resolving an operation's fields against the current state ----
  mprog::Program* program(const Handle& h, const State& s);
  mprog::Ref<mprog::Program> prog_ref(const Handle& h, const State& s, bool may_be_none);
  mprog::Link* link_object(const Handle& h, const State& s);
  mprog::Relative relative(const RelSpec& r, const State& s);
  std::uint64_t flags(std::uint8_t raw, std::uint8_t arg) const;
  mprog::Request request(const Op& op, const State& s, std::uint64_t current_revision);

  // ---- the operations ----
  void by_program(const Op& op, bool attaching);
  void link(const Op& op);
  void link_detach(const Op& op);
  void update(const Op& op);
  void query(const Op& op);
  void fill(const Op& op);
  void reset();
  void tx_stage(const Op& op, bool is_attach);
  void tx_end(const Op& op);

  // ---- checks around an operation ----
  Outcome begin() const;
  void settle(Outcome& o, const mprog::Result& r, bool changes_on_success);
  void check_links(const State& s) const;
  void check_success_common(const mprog::Request& q, const State& before, bool link_create) const;
  // Both return the index the operation acted at, for comparing with the dry run.
  std::uint32_t check_attached(const mprog::Request& q, const Outcome& o, std::uint32_t prog_id,
                               const mprog::Link* link) const;
  std::uint32_t check_detached(const mprog::Request& q, const Outcome& o,
                               const mprog::Link* link) const;

  // ---- the transaction's shadow ----
  void rebuild_shadow(const State& s);
  mprog::Request shadow_request(const mprog::Request& q);
  mprog::Link* shadow_link(const mprog::Link* a);

  bool v2() const { return dialect_ == mprog::Dialect::v2; }
  void note(const Op& op, const mprog::Result& r) const;

  mprog::Dialect dialect_;
  bool trace_;
  std::uint64_t step_ = 0;
  std::vector<mprog::Program> programs_;
  // Links outlive the bundles that point at them (a bundle's destructor detaches its links).
  std::vector<std::unique_ptr<mprog::Link>> links_;
  std::vector<std::unique_ptr<mprog::Link>> shadow_links_;
  std::unique_ptr<mprog::Bundle> bundle_;
  std::unique_ptr<mprog::Bundle> shadow_;
  std::optional<mprog::Transaction> tx_;
  std::uint64_t tx_base_revision_ = 0;
  bool changed_since_tx_ = false;
};

}  // namespace mprog_fuzz
