// Read-side benchmark: what a reader pays to walk a chain, and what a writer pays to wait for
// readers (docs/read-side.md explains the protocol being measured).
//
// Every figure is the median of kRounds rounds; a round times a batch of back-to-back
// operations and divides by the batch size. Reader figures use the thread's CPU clock
// (CLOCK_THREAD_CPUTIME_ID), so on a machine with fewer cores than threads the time a reader
// spends descheduled is not counted as read-side cost; writer figures use the wall clock,
// because waiting for readers is exactly what they measure.
//
// With MPROG_BENCH_PIN=1 (Linux) the measured thread is pinned to the first CPU and the
// other threads to the others, round robin, so "another thread" surely means another core;
// off by default, because on a machine busy with other work a pinned thread cannot move
// away from a busy core.
//
// Prints one JSON object:
//   reader_floor_ns_32          walk 32 program pointers (load each, read its id), no section
//   reader_section_ns           enter + leave an empty read section
//   reader_ns_32                enter + load the active entry + walk 32 + leave
//   reader_ratio_to_floor       reader_ns_32 / reader_floor_ns_32
//   reader_ns_32_other_1/_2     reader_ns_32 while 1 / 2 other threads do it in a loop
//   reader_ns_32_with_writer    reader_ns_32 while a writer updates the chain in a loop
//   writer_updates_per_s_with_reader  updates that writer completed meanwhile
//   run_ns_32                   Bundle::run over 32 programs that return NEXT
//   synchronize_ns_idle         synchronize() alone, no reader inside a section
//   grace_ns_idle               publish (seq_cst store) + synchronize(), no reader inside
//   update_ns_idle              a whole Bundle update (link swap: checks, copy, publish, grace)
//   grace_ns_busy_reader        publish + synchronize() while one thread reads in a loop:
//                               median wall time of the calls that had to wait for it
//   grace_waited_fraction       the share of those calls that found the reader inside
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "mprog/mprog.hpp"

namespace {

constexpr int kRounds = 15;
constexpr int kPrograms = 32;

using Wall = std::chrono::steady_clock;

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double wall_ns() {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Wall::now().time_since_epoch()).count());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Keeps a value alive and stops the compiler from folding loop iterations together.
template <class T>
inline void escape(T& value) {
  asm volatile("" : "+r"(value) : : "memory");
}

int next_verdict(const mprog::Program&, void*) { return mprog::kNext; }

// Pins the calling thread to CPU `slot` modulo the CPUs this process may use (Linux only).
void pin(unsigned slot) {
#ifdef __linux__
  static const bool wanted = [] {
    const char* v = std::getenv("MPROG_BENCH_PIN");
    return v && *v == '1';
  }();
  if (!wanted) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  const int n = CPU_COUNT(&allowed);
  if (n < 2) return;
  int want = static_cast<int>(slot % static_cast<unsigned>(n));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || want-- != 0) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    return;
  }
#else
  (void)slot;
#endif
}

// A chain of kPrograms programs attached by program, plus one link whose program the writer
// swaps (each swap is one update: copy the entry, publish, grace period).
struct Chain {
  std::vector<mprog::Program> programs;
  mprog::Program spare_a, spare_b;
  mprog::Link link;
  mprog::Bundle bundle;

  Chain() : programs(kPrograms - 1) {
    std::uint32_t id = 1;
    for (auto& p : programs) {
      p.id = id++;
      p.run = next_verdict;
      mprog::Request r;
      r.prog = &p;
      if (bundle.attach(r).error) std::abort();
    }
    spare_a = {id++, next_verdict, nullptr};
    spare_b = {id++, next_verdict, nullptr};
    link.id = 1;
    link.prog = &spare_a;
    if (bundle.attach(link, mprog::Request{}).error) std::abort();
    if (bundle.size() != kPrograms) std::abort();
  }

  // One update: swap the link's program.
  void update() {
    mprog::Program* next = link.prog == &spare_a ? &spare_b : &spare_a;
    if (mprog::update(&link, next, 0, {}).error) std::abort();
  }
};

// The reader's unit of work: one read section around a walk of the active entry.
inline std::uint64_t read_walk(const mprog::Bundle& b) {
  mprog::ReadSection section;
  std::uint64_t sum = 0;
  for (mprog::Program* const* p = b.active().programs.data(); *p; ++p) sum += (*p)->id;
  return sum;
}

// The floor: the same walk over a plain array, no section, no atomic load.
inline std::uint64_t plain_walk(mprog::Program* const* programs) {
  std::uint64_t sum = 0;
  for (mprog::Program* const* p = programs; *p; ++p) sum += (*p)->id;
  return sum;
}

// Median ns per call of `op` over kRounds rounds of `batch` calls, on the given clock.
template <class Clock, class Op>
double per_op(Clock clock, int batch, Op op) {
  std::vector<double> samples;
  op();  // warm up (and register this thread as a reader)
  for (int round = 0; round < kRounds; ++round) {
    const double start = clock();
    for (int i = 0; i < batch; ++i) op();
    samples.push_back((clock() - start) / batch);
  }
  return median(samples);
}

// Runs `body` on `n` threads until stopped.
class Background {
 public:
  template <class Body>
  Background(int n, Body body) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this, body, i] {
        pin(1 + static_cast<unsigned>(i));
        ready_.fetch_add(1);
        while (!stop_.load(std::memory_order_relaxed)) body();
      });
    while (ready_.load() < n) std::this_thread::yield();
  }
  ~Background() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ready_{0};
  std::vector<std::thread> threads_;
};

std::atomic<std::uint64_t> sink{0};

}  // namespace

int main() {
  pin(0);
  Chain chain;
  const mprog::Bundle& b = chain.bundle;
  constexpr int kReadBatch = 200000;
  std::vector<std::pair<std::string, double>> out;

  // Floor: the same 32 pointers, in an array of its own (same layout as an Entry).
  mprog::Entry plain = b.active();
  mprog::Program* const* plain_programs = plain.programs.data();
  out.emplace_back("reader_floor_ns_32", per_op(thread_cpu_ns, kReadBatch, [&] {
                     escape(plain_programs);
                     std::uint64_t s = plain_walk(plain_programs);
                     escape(s);
                   }));
  out.emplace_back("reader_section_ns", per_op(thread_cpu_ns, kReadBatch, [] {
                     mprog::ReadSection section;
                     asm volatile("" ::: "memory");
                   }));
  auto reader = [&] {
    std::uint64_t s = read_walk(b);
    escape(s);
  };
  out.emplace_back("reader_ns_32", per_op(thread_cpu_ns, kReadBatch, reader));
  auto background_reader = [&] {
    std::uint64_t s = 0;
    for (int i = 0; i < 64; ++i) s += read_walk(b);
    sink.fetch_add(s, std::memory_order_relaxed);
  };
  {
    Background others(1, background_reader);
    out.emplace_back("reader_ns_32_other_1", per_op(thread_cpu_ns, kReadBatch, reader));
  }
  {
    Background others(2, background_reader);
    out.emplace_back("reader_ns_32_other_2", per_op(thread_cpu_ns, kReadBatch, reader));
  }
  {
    // Only rounds during which the writer really ran count (on a busy machine the two
    // threads are not always on a CPU at the same time).
    std::atomic<std::uint64_t> updates{0};
    std::vector<double> samples;
    double writer_ns = 0, writer_updates = 0;
    {
      // The writer owns the chain's control path while it runs (writers are serialized by
      // the caller); the reader only reads.
      Background writer(1, [&] {
        chain.update();
        updates.fetch_add(1, std::memory_order_relaxed);
      });
      reader();
      for (int round = 0; round < 200 && samples.size() < kRounds; ++round) {
        const std::uint64_t u0 = updates.load();
        const double w0 = wall_ns(), start = thread_cpu_ns();
        for (int i = 0; i < kReadBatch / 4; ++i) reader();
        const double ns = (thread_cpu_ns() - start) / (kReadBatch / 4);
        const double du = static_cast<double>(updates.load() - u0);
        if (du < 100) continue;  // the writer was not running alongside
        samples.push_back(ns);
        writer_ns += wall_ns() - w0;
        writer_updates += du;
      }
    }
    out.emplace_back("reader_ns_32_with_writer", samples.empty() ? -1.0 : median(samples));
    out.emplace_back("writer_updates_per_s_with_reader",
                     writer_ns > 0 ? writer_updates / writer_ns * 1e9 : -1.0);
  }
  out.emplace_back("reader_ratio_to_floor", out[2].second / out[0].second);
  {
    int ctx = 0;
    out.emplace_back("run_ns_32", per_op(thread_cpu_ns, kReadBatch, [&] {
                       int v = b.run(&ctx);
                       escape(v);
                     }));
  }

  // Writer side, on the wall clock. publish+synchronize exactly as Bundle::publish does it,
  // on an a/b pair of its own (only this thread writes `active`).
  mprog::Entry pair[2] = {b.active(), b.active()};
  std::atomic<mprog::Entry*> active{&pair[0]};
  auto publish = [&] {
    active.store(active.load(std::memory_order_relaxed) == &pair[0] ? &pair[1] : &pair[0],
                 std::memory_order_seq_cst);
    return mprog::synchronize();
  };
  constexpr int kWriteBatch = 100000;
  out.emplace_back("synchronize_ns_idle", per_op(wall_ns, kWriteBatch, [] {
                     bool waited = mprog::synchronize();
                     escape(waited);
                   }));
  out.emplace_back("grace_ns_idle", per_op(wall_ns, kWriteBatch, [&] {
                     bool waited = publish();
                     escape(waited);
                   }));
  out.emplace_back("update_ns_idle", per_op(wall_ns, kWriteBatch, [&] { chain.update(); }));
  {
    // A reader that walks `active` in a loop, as Bundle::run would. Each round of calls
    // starts once the reader is seen running, so the figure is the wait for a reader that is
    // on another CPU, not for one the scheduler has parked.
    std::atomic<std::uint64_t> progress{0};
    Background busy(1, [&] {
      std::uint64_t s = 0;
      for (int i = 0; i < 16; ++i) {
        mprog::ReadSection section;
        s += plain_walk(active.load(std::memory_order_seq_cst)->programs.data());
      }
      sink.fetch_add(s, std::memory_order_relaxed);
      progress.fetch_add(1, std::memory_order_relaxed);
    });
    std::vector<double> waited_ns;
    std::size_t calls = 0;
    for (int round = 0; round < 400; ++round) {
      for (int seen = 0; seen < 2; ++seen) {  // two fresh increments: it is running now
        const std::uint64_t p = progress.load();
        while (progress.load() == p) std::this_thread::yield();
      }
      for (int i = 0; i < 500; ++i, ++calls) {
        const double start = wall_ns();
        const bool waited = publish();
        if (waited) waited_ns.push_back(wall_ns() - start);
      }
    }
    out.emplace_back("grace_ns_busy_reader", waited_ns.empty() ? -1.0 : median(waited_ns));
    out.emplace_back("grace_waited_fraction",
                     static_cast<double>(waited_ns.size()) / static_cast<double>(calls));
  }

  std::printf("{");
  for (std::size_t i = 0; i < out.size(); ++i)
    std::printf("%s\"%s\": %.3g", i ? ", " : "", out[i].first.c_str(), out[i].second);
  std::printf("}\n");
  return sink.load() == 42 ? 1 : 0;
}
