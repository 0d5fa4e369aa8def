#include "state.hpp"

#include <cstdio>
#include <cstdlib>

namespace mprog_fuzz {

void fail(const char* what, long long a, long long b) {
  std::fprintf(stderr, "core_ops_fuzzer: invariant broken: %s (%lld, %lld)\n", what, a, b);
  std::fflush(stderr);
  std::abort();
}

int State::index_of(std::uint32_t prog_id) const {
  for (std::uint32_t i = 0; i < count; ++i)
    if (entries[i].prog_id == prog_id) return static_cast<int>(i);
  return -1;
}

int State::index_of_link(std::uint32_t link_id) const {
  for (std::uint32_t i = 0; link_id && i < count; ++i)
    if (entries[i].link_id == link_id) return static_cast<int>(i);
  return -1;
}

namespace {
bool same_entry(const mprog::QueryEntry& a, const mprog::QueryEntry& b) {
  return a.prog_id == b.prog_id && a.link_id == b.link_id && a.prog_flags == b.prog_flags &&
         a.link_flags == b.link_flags;
}
}  // namespace

int record_run(const mprog::Program& self, void* ctx) {
  auto& seen = *static_cast<std::vector<std::uint32_t>*>(ctx);
  if (seen.size() >= mprog::kMaxPrograms) fail("run called more than 63 programs");
  seen.push_back(self.id);
  return mprog::kNext;
}

bool same_chain(const State& a, const State& b) {
  if (a.count != b.count) return false;
  for (std::uint32_t i = 0; i < a.count; ++i)
    if (!same_entry(a[i], b[i])) return false;
  return true;
}

bool same(const State& a, const State& b) { return a.revision == b.revision && same_chain(a, b); }

State observe(const mprog::Bundle& bundle) {
  State s;
  mprog::QueryHead head;
  const mprog::Result r = bundle.query(head, s.entries.data(), mprog::kSlots);
  if (!r) fail("a query with room for every slot failed", r.error);
  if (head.count > mprog::kMaxPrograms) fail("more than 63 programs", head.count);
  if (head.count != bundle.size()) fail("query count differs from size()", head.count, bundle.size());
  if (head.revision != bundle.revision()) fail("query revision differs from revision()");
  s.revision = head.revision;
  s.count = head.count;
  return s;
}

void check_state(const mprog::Bundle& bundle, const State& s, std::uint32_t max_prog_id) {
  const bool v2 = bundle.dialect() == mprog::Dialect::v2;
  if (s.revision == 0) fail("revision 0");
  if (s.count == 0 && s.revision != 1) fail("an empty chain is not at revision 1", s.revision);
  bool seen_prog[256] = {};
  for (std::uint32_t i = 0; i < s.count; ++i) {
    const mprog::QueryEntry& e = s[i];
    if (e.prog_id == 0 || e.prog_id > max_prog_id) fail("an id the fuzzer never gave", e.prog_id);
    if (seen_prog[e.prog_id]) fail("a program is in the chain twice", e.prog_id);
    seen_prog[e.prog_id] = true;
    if (e.link_id && s.index_of_link(e.link_id) != static_cast<int>(i))
      fail("a link owns two slots", e.link_id);
    if (e.link_id ? e.prog_flags != 0 : e.link_flags != 0)
      fail("flags reported on the wrong side of the entry", i);
    const std::uint32_t pins = e.prog_flags | e.link_flags;
    if (!v2 && pins) fail("upstream entry with flags", i, pins);
    if (pins & ~mprog::v2flag::pins) fail("entry flags other than FIRST/LAST", i, pins);
    if ((pins & mprog::v2flag::first) && i != 0) fail("FIRST held away from the head", i);
    if ((pins & mprog::v2flag::last) && i + 1 != s.count) fail("LAST held away from the tail", i);
  }

  // The fast path must show exactly what the control path reports, terminated.
  {
    mprog::ReadSection section;
    const mprog::Entry& e = bundle.active();
    if (e.count != s.count) fail("active entry count differs from the query", e.count, s.count);
    for (std::uint32_t i = 0; i < s.count; ++i) {
      if (!e.programs[i]) fail("active entry ends early", i);
      if (e.programs[i]->id != s[i].prog_id) fail("active entry differs from the query", i);
    }
    if (e.programs[s.count] != nullptr) fail("active entry not terminated", s.count);
  }
  std::vector<std::uint32_t> ran;
  ran.reserve(mprog::kMaxPrograms);
  if (bundle.run(&ran) != mprog::kNext) fail("run: a verdict from programs that all continue");
  if (ran.size() != s.count) fail("run called a different number of programs", ran.size(), s.count);
  for (std::uint32_t i = 0; i < s.count; ++i)
    if (ran[i] != s[i].prog_id) fail("run called programs out of order", i);
}

void check_short_query(const mprog::Bundle& bundle, const State& s, std::uint32_t capacity) {
  // One slot past `capacity` carries a canary: a write there is a query writing too much.
  std::array<mprog::QueryEntry, mprog::kSlots + 2> out{};
  constexpr std::uint32_t kCanary = 0xa5a5a5a5u;
  out[capacity].prog_id = kCanary;
  mprog::QueryHead head;
  const mprog::Result r = bundle.query(head, out.data(), capacity);
  if (head.count != s.count || head.revision != s.revision) fail("query head differs", capacity);
  const bool short_answer = capacity != 0 && capacity < s.count;
  if (short_answer ? r.error != -ENOSPC : r.error != 0) fail("short query result", capacity, r.error);
  const std::uint32_t written = capacity < s.count ? capacity : s.count;
  for (std::uint32_t i = 0; i < written; ++i)
    if (!same_entry(out[i], s[i])) fail("short query entries differ", i);
  if (out[capacity].prog_id != kCanary) fail("query wrote past its capacity", capacity);
}

}  // namespace mprog_fuzz
