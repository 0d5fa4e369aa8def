// What the fuzzer observes of a bundle, through the API an embedder has: query() for the
// control path, a ReadSection walk and run() for the fast path. The invariants that hold
// for every state, whatever operation led to it, are checked here.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "mprog/mprog.hpp"

namespace mprog_fuzz {

[[noreturn]] void fail(const char* what, long long a = 0, long long b = 0);

// Every program of the fuzzer runs this: it appends its id to the std::vector<uint32_t> that
// run() was given, so a run shows the order the fast path called the programs in.
int record_run(const mprog::Program& self, void* ctx);

struct State {
  std::uint64_t revision = 1;
  std::uint32_t count = 0;
  std::array<mprog::QueryEntry, mprog::kSlots> entries{};

  const mprog::QueryEntry& operator[](std::uint32_t i) const { return entries[i]; }
  int index_of(std::uint32_t prog_id) const;  // -1 if absent
  int index_of_link(std::uint32_t link_id) const;
};

bool same_chain(const State& a, const State& b);  // entries equal; the revision is not compared
bool same(const State& a, const State& b);        // entries and revision

// query() with room for every slot; checks the answer's own shape.
State observe(const mprog::Bundle& bundle);

// The invariants of one state: at most 63 entries, no program or link twice, ids that are
// the fuzzer's, pins only where the dialect has them and only at the ends, an empty chain
// at revision 1, and the fast path (active entry, run) showing exactly the control path's
// programs in order. `max_prog_id` bounds the ids the fuzzer handed out.
void check_state(const mprog::Bundle& bundle, const State& s, std::uint32_t max_prog_id);

// A short query: -ENOSPC with the first `capacity` entries when the chain is longer, the
// head alone for capacity 0; never a write past `capacity`.
void check_short_query(const mprog::Bundle& bundle, const State& s, std::uint32_t capacity);

}  // namespace mprog_fuzz
