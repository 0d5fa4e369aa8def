// Stress test of the read side (mprog/rcu.hpp): several reader threads walk the active entry
// and run the chain without locks while one writer applies random updates through the public
// API. Readers check that every entry they see is one the writer committed, whole:
//
// - the walk ends at the nullptr terminator within 63 programs, and agrees with Entry::count;
// - no program appears twice;
// - no program is poisoned: after each update returns (its grace period is over), the writer
//   poisons every program that left the chain and later recycles it under a new id, so a
//   reader holding a pointer past the grace period sees poison or a wrong id;
// - the sequence of program ids hashes to the hash of a state the writer committed, one of
//   those committed between just before the section and just after it.
//
// Under -fsanitize=thread the writer's plain writes (refilling the peer, poisoning) and the
// readers' plain reads also prove the happens-before edges of the protocol.
//
// Usage: mprog_stress [updates] [readers]   (defaults: 1000000, 3)
// Env:   MPROG_STRESS_OPS, MPROG_STRESS_READERS, MPROG_STRESS_SEED, MPROG_STRESS_DIALECT (v2)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mprog/mprog.hpp"

namespace {

using mprog::Program;

constexpr std::uint32_t kPoison = 0xdeadbeefu;
constexpr std::size_t kPool = 512;  // programs; at most 63 in the chain at any time
constexpr std::size_t kLinks = 128;

[[noreturn]] void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  std::fprintf(stderr, "mprog_stress: FAIL: %s (%" PRIu64 ", %" PRIu64 ")\n", what, a, b);
  std::fflush(stderr);
  std::abort();
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

// The hash of a chain state: its program ids in order, and their number.
std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}
std::uint64_t state_hash(const std::uint32_t* ids, std::uint32_t n) {
  std::uint64_t h = 0x6a09e667f3bcc908ull;
  for (std::uint32_t i = 0; i < n; ++i) h = mix(h, ids[i]);
  return mix(h, n);
}

// What a reader saw: ids in order.
struct Snapshot {
  std::uint32_t ids[mprog::kSlots];
  std::uint32_t n = 0;
};

int record_run(const Program& self, void* ctx) {
  auto& s = *static_cast<Snapshot*>(ctx);
  if (s.n >= mprog::kMaxPrograms) fail("run: more than 63 programs called", s.n);
  s.ids[s.n++] = self.id;
  return mprog::kNext;
}

int poisoned_run(const Program& self, void*) { fail("run called a released program", self.id); }

// The committed states, in order: the writer appends, readers look up.
class History {
 public:
  explicit History(std::size_t capacity) : hashes_(capacity + 1) {
    record(state_hash(nullptr, 0));  // state 0: the empty chain, before any reader starts
  }

  void record(std::uint64_t hash) {  // writer only
    const std::uint64_t k = count_.load(std::memory_order_relaxed);
    if (k >= hashes_.size()) fail("history full", k);
    hashes_[k] = hash;
    count_.store(k + 1, std::memory_order_release);
  }
  std::uint64_t count() const { return count_.load(std::memory_order_acquire); }
  void finish() { done_.store(true, std::memory_order_release); }

  // Was `hash` committed as one of states [lo, hi]? Waits for state hi to be recorded
  // (the update that published it records it once its grace period is over).
  bool committed_between(std::uint64_t hash, std::uint64_t lo, std::uint64_t hi) const {
    std::uint64_t have = count();
    for (std::uint64_t k = std::min(hi + 1, have); k-- > lo;)  // newest first: the likely one
      if (hashes_[k] == hash) return true;
    if (have > hi) return false;
    while (count() <= hi && !done_.load(std::memory_order_acquire)) std::this_thread::yield();
    return count() > hi && hashes_[hi] == hash;
  }

 private:
  std::vector<std::uint64_t> hashes_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<bool> done_{false};
};

struct Shared {
  mprog::Bundle bundle;
  History history;
  std::atomic<bool> stop{false};
  Shared(mprog::Dialect d, std::size_t ops) : bundle(d), history(ops + 2) {}
};

struct ReaderStats {
  std::uint64_t walks = 0, runs = 0, programs = 0, max_window = 0;
};

void check_snapshot(const Shared& s, const Snapshot& snap, std::uint64_t before, const char* how) {
  std::uint32_t sorted[mprog::kSlots];
  std::copy(snap.ids, snap.ids + snap.n, sorted);
  std::sort(sorted, sorted + snap.n);
  for (std::uint32_t i = 0; i < snap.n; ++i) {
    if (sorted[i] == kPoison) fail("reader saw a poisoned (released) program", i);
    if (sorted[i] == 0) fail("reader saw a program with id 0 (never filled)", i);
    if (i && sorted[i] == sorted[i - 1]) fail("reader saw a program twice", sorted[i]);
  }
  // The entry the section loaded was published no earlier than state before - 1 and no later
  // than the state recorded once the section is over (docs/read-side.md, "The stress test").
  const std::uint64_t after = s.history.count();
  if (!s.history.committed_between(state_hash(snap.ids, snap.n), before - 1, after)) {
    std::fprintf(stderr, "%s snapshot of %u programs matches no committed state in [%" PRIu64
                 ", %" PRIu64 "]\n", how, snap.n, before - 1, after);
    fail("reader saw a state that was never committed");
  }
}

void reader(Shared& s, ReaderStats& stats) {
  Snapshot snap;
  for (std::uint64_t i = 0; !s.stop.load(std::memory_order_relaxed); ++i) {
    const std::uint64_t before = s.history.count();
    if (i % 4 == 3) {
      // The fast path proper: Bundle::run, whose programs record themselves.
      snap.n = 0;
      if (s.bundle.run(&snap) != mprog::kNext) fail("run: wrong verdict");
      ++stats.runs;
    } else {
      std::uint32_t count;
      {
        mprog::ReadSection section;
        const mprog::Entry& e = s.bundle.active();
        std::uint32_t n = 0;
        for (; n < mprog::kSlots && e.programs[n]; ++n) {
          const Program& p = *e.programs[n];
          if (p.run == poisoned_run) fail("reader saw a poisoned run function", p.id);
          snap.ids[n] = p.id;
        }
        if (n == mprog::kSlots) fail("entry has no nullptr terminator");
        snap.n = n;
        count = e.count;
      }
      if (count != snap.n) fail("Entry::count disagrees with the terminator", count, snap.n);
      ++stats.walks;
    }
    stats.programs += snap.n;
    stats.max_window = std::max(stats.max_window, s.history.count() - before);
    check_snapshot(s, snap, before, i % 4 == 3 ? "run" : "walk");
  }
}

// ---- the writer ----

class Writer {
 public:
  Writer(Shared& s, std::uint64_t seed)
      : s_(s), v2_(s.bundle.dialect() == mprog::Dialect::v2), rng_(seed), programs_(kPool),
        links_(kLinks) {
    for (auto& p : programs_) {
      p.id = kPoison;
      p.run = poisoned_run;
      free_programs_.push_back(&p);
    }
    for (auto& l : links_) free_links_.push_back(&l);
    in_chain_.assign(kPool, 0);
  }

  void run(std::uint64_t ops) {
    std::uint32_t target = 32;
    for (std::uint64_t op = 0; op < ops; ++op) {
      if (op % 4096 == 0) target = pick(mprog::kMaxPrograms + 1);
      step(target);
    }
  }

  std::uint64_t changes = 0, failures = 0, max_size = 0, empties = 0;

 private:
  std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  bool chance(std::uint32_t percent) { return pick(100) < percent; }

  Program* fresh_program() {
    if (free_programs_.empty()) fail("program pool exhausted");
    Program* p = free_programs_.front();  // oldest released first: poison stays visible longest
    free_programs_.pop_front();
    p->id = ++last_id_;
    p->run = record_run;
    pending_.push_back(p);
    return p;
  }

  // The writer's own view: it is the only writer, so the active entry cannot change under it.
  const mprog::Entry& chain() const { return s_.bundle.active(); }
  Program* chain_program() {
    const auto& e = chain();
    return e.count ? e.programs[pick(e.count)] : nullptr;
  }
  mprog::Link* chain_link() {
    mprog::Link* links[mprog::kSlots];
    std::uint32_t n = 0;
    s_.bundle.for_each_tuple([&](mprog::Program*, mprog::Link* l) {
      if (l) links[n++] = l;
    });
    return n ? links[pick(n)] : nullptr;
  }

  // BEFORE/AFTER (rarely both, which the rules refuse) and usually a relative in the chain.
  void place(mprog::Request& r) {
    const std::uint32_t dir = pick(20);
    if (dir < 6 || dir == 19) r.flags |= mprog::flag::before;
    if ((dir >= 6 && dir < 12) || dir == 19) r.flags |= mprog::flag::after;
    const bool directive = r.flags & (mprog::flag::before | mprog::flag::after);
    const std::uint32_t which = pick(20);
    if (directive ? which < 12 : which == 0) {
      if (Program* p = chain_program()) r.relative = mprog::Relative::of(p);
    } else if (directive && which < 16) {
      if (mprog::Link* l = chain_link()) {
        r.relative = mprog::Relative::of(l);
        r.flags |= mprog::flag::link;
      }
    }
    if (v2_ && chance(5)) r.flags |= chance(50) ? mprog::v2flag::first : mprog::v2flag::last;
    if (chance(3)) r.expected_revision = s_.bundle.revision() + pick(2);  // sometimes stale
  }

  void step(std::uint32_t target) {
    const std::uint64_t revision = s_.bundle.revision();
    const std::uint64_t generation = s_.bundle.generation();
    const std::uint32_t size = chain().count;
    const bool grow = size < target ? chance(75) : chance(25);
    mprog::Result r;
    const std::uint32_t kind = pick(100);
    if (kind < 1 && size > 0 && chance(10)) {
      s_.bundle.reset();  // device gone: everything leaves at once
    } else if (kind < 4) {
      r = transaction(grow);
    } else if (grow) {
      Program* fresh = fresh_program();
      mprog::Request q;
      q.prog = fresh;
      place(q);
      if (kind < 40) {
        r = s_.bundle.attach(q);
      } else if (kind < 55) {
        q.flags |= mprog::flag::replace;  // take another program's slot
        Program* old = chain_program();
        if (v2_) {
          q.relative = mprog::Relative::of(old);  // v2 names the replaced program here
          q.flags &= ~(mprog::flag::before | mprog::flag::after | mprog::flag::link);
        } else {
          q.replace = old ? old : fresh;
        }
        r = s_.bundle.attach(q);
      } else if (kind < 85) {
        if (free_links_.empty()) {
          r = {-ENOSPC};
        } else {
          mprog::Link* l = free_links_.back();
          *l = mprog::Link{};
          l->id = ++last_link_id_;
          l->prog = fresh;
          r = s_.bundle.attach(*l, q);
          if (r)
            free_links_.pop_back();
          else
            *l = mprog::Link{};
        }
      } else {
        mprog::Link* l = chain_link();
        r = l ? mprog::update(l, fresh, chance(50) ? mprog::flag::replace : 0,
                              chance(50) ? mprog::Ref<Program>(l->prog) : mprog::Ref<Program>())
              : mprog::Result{-ENOENT};
      }
    } else {
      mprog::Request q;
      place(q);
      if (kind < 50) {
        q.prog = chain_program();
        r = s_.bundle.detach(q);
      } else if (kind < 70) {
        r = s_.bundle.detach(q);  // no program: first, last or next to the relative
      } else {
        mprog::Link* l = chain_link();
        r = l ? mprog::detach(l) : mprog::Result{-ENOENT};
      }
    }
    settle(revision, generation, r);
  }

  // Several operations as one change: readers must never see the states in between.
  mprog::Result transaction(bool grow) {
    mprog::Transaction t(s_.bundle);
    const std::uint32_t n = 2 + pick(4);
    for (std::uint32_t i = 0; i < n; ++i) {
      mprog::Request q;
      if (grow || t.size() == 0) {
        Program* p = fresh_program();
        q.prog = p;
        q.flags = chance(50) ? mprog::flag::before : 0;
        t.attach(q);
      } else {
        q.flags = chance(50) ? mprog::flag::before : 0;
        t.detach(q);
      }
    }
    return t.commit();
  }

  // After an operation: check the control path, record the state, retire what left.
  void settle(std::uint64_t revision_before, std::uint64_t generation_before, mprog::Result r) {
    const auto& e = chain();
    ++epoch_;
    for (std::uint32_t i = 0; i < e.count; ++i) in_chain_[index(e.programs[i])] = epoch_;
    // Programs taken for this step that are not in the chain never reached a reader (a
    // refused operation, or added and removed inside one transaction): straight back.
    for (Program* p : pending_) {
      if (in_chain_[index(p)] == epoch_) continue;
      p->id = kPoison;
      p->run = poisoned_run;
      free_programs_.push_front(p);
    }
    pending_.clear();
    if (!r) {
      ++failures;
      if (s_.bundle.revision() != revision_before) fail("a failed operation changed the revision");
      if (e.count != previous_.size() || !std::equal(previous_.begin(), previous_.end(), e.programs.begin()))
        fail("a failed operation changed the chain");
      return;
    }
    const std::uint64_t rev = s_.bundle.revision();
    const std::uint64_t steps = s_.bundle.generation() - generation_before;
    if (steps > 1) fail("one operation committed more than one change", steps);
    if (steps == 0) {  // a success that changes nothing (an empty transaction, a no-op update)
      if (rev != revision_before) fail("a success without a change moved the revision");
      if (e.count != previous_.size() || !std::equal(previous_.begin(), previous_.end(), e.programs.begin()))
        fail("a success without a change changed the chain");
    } else {
      ++changes;
      if (e.count == 0 ? rev != 1 : rev != revision_before + 1)
        fail("revision did not step by one", revision_before, rev);
    }
    if (e.programs[e.count] != nullptr) fail("writer: entry not terminated", e.count);
    max_size = std::max<std::uint64_t>(max_size, e.count);
    empties += e.count == 0;

    std::uint32_t ids[mprog::kSlots];
    for (std::uint32_t i = 0; i < e.count; ++i) ids[i] = e.programs[i]->id;
    // The update has returned, so its grace period is over: what left may be recycled.
    for (Program* p : previous_) {
      if (in_chain_[index(p)] == epoch_) continue;
      p->id = kPoison;
      p->run = poisoned_run;
      free_programs_.push_back(p);
    }
    for (auto& l : links_)
      if (l.id && !l.attached() && !l.bundle && l.prog) {
        l.prog = nullptr;  // detached (by detach, reset or an anchorless detach): reusable
        free_links_.push_back(&l);
      }
    previous_.assign(e.programs.begin(), e.programs.begin() + e.count);
    s_.history.record(state_hash(ids, e.count));
  }

  std::size_t index(const Program* p) const { return static_cast<std::size_t>(p - programs_.data()); }

  Shared& s_;
  const bool v2_;
  std::mt19937_64 rng_;
  std::vector<Program> programs_;
  std::vector<mprog::Link> links_;
  std::deque<Program*> free_programs_;
  std::vector<mprog::Link*> free_links_;
  std::vector<std::uint64_t> in_chain_;
  std::vector<Program*> previous_;
  std::vector<Program*> pending_;  // taken from the pool during the current step
  std::uint64_t epoch_ = 0;
  std::uint32_t last_id_ = 0, last_link_id_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t ops = argc > 1 ? std::strtoull(argv[1], nullptr, 0)
                                     : env_or("MPROG_STRESS_OPS", 1000000);
  const std::uint64_t readers = argc > 2 ? std::strtoull(argv[2], nullptr, 0)
                                         : env_or("MPROG_STRESS_READERS", 3);
  const std::uint64_t seed = env_or("MPROG_STRESS_SEED", 20230607);
  const char* dialect_name = std::getenv("MPROG_STRESS_DIALECT");
  const bool v2 = dialect_name && std::strcmp(dialect_name, "v2") == 0;

  auto shared = std::make_unique<Shared>(v2 ? mprog::Dialect::v2 : mprog::Dialect::upstream, ops);
  std::vector<ReaderStats> stats(readers);
  std::vector<std::thread> threads;
  for (std::uint64_t i = 0; i < readers; ++i)
    threads.emplace_back(reader, std::ref(*shared), std::ref(stats[i]));

  const auto start = std::chrono::steady_clock::now();
  Writer writer(*shared, seed);
  writer.run(ops);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  shared->history.finish();
  shared->stop.store(true);
  for (auto& t : threads) t.join();
  shared->bundle.reset();  // links and programs are the writer's: detach them before they go

  ReaderStats total;
  for (const auto& s : stats) {
    total.walks += s.walks;
    total.runs += s.runs;
    total.programs += s.programs;
    total.max_window = std::max(total.max_window, s.max_window);
  }
  std::printf("mprog_stress: %s, %" PRIu64 " updates (%" PRIu64 " changes, %" PRIu64
              " refused) in %.2f s (%.0f/s), seed %" PRIu64 "; chain up to %" PRIu64
              ", emptied %" PRIu64 " times\n",
              v2 ? "v2" : "upstream", ops, writer.changes, writer.failures, seconds,
              static_cast<double>(ops) / seconds, seed, writer.max_size, writer.empties);
  std::printf("mprog_stress: %" PRIu64 " readers checked %" PRIu64 " walks and %" PRIu64
              " runs (%" PRIu64 " programs); widest window %" PRIu64 " states: OK\n",
              readers, total.walks, total.runs, total.programs, total.max_window);
  if (writer.changes < ops / 4) fail("too few updates changed the chain", writer.changes);
  if (total.walks + total.runs == 0 && readers) fail("readers checked nothing");
  return 0;
}
