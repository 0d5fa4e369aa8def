// Native control-path benchmark: attach and detach on mprog::Bundle against the floor, the
// least work any a/b update must do. The insert floor copies the n - 1 program pointers of
// the active array into the peer with one program inserted (n pointers and the terminator),
// the delete floor copies the n pointers but one; both then publish the peer with one
// seq_cst store. Neither scans the chain or waits for a grace period; attach and detach do
// both, as the kernel does (bpf_mprog_exists, synchronize_rcu).
//
// Both are measured by the same harness in the same shape: M independent chains, each holding
// n - 1 programs; one timed sweep attaches a program to all M (each chain now holds n), the
// next timed sweep detaches it again. A sweep's time / M is one sample; the figure is the
// median of many samples. M chains rather than one keep the clock's own cost (~20 ns) well
// below 1% of a sample without putting a loop of back-to-back updates on one cache line.
//
// Prints one JSON object: floor_insert_ns_N (the floor of attach growing the chain to N),
// floor_delete_ns_N (of detach shrinking it from N), native_attach_ns_N, native_detach_ns_N,
// and floor_ns, the same figure as floor_insert_ns_32 (kept for older JSON readers).
// benchmarks/run.py divides each change by the floor of its own shape.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mprog/mprog.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChains = 64;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One timed sweep of `op` over every chain, in ns per chain.
template <class Op>
double sweep(Op&& op) {
  const auto t0 = Clock::now();
  for (int c = 0; c < kChains; ++c) op(c);
  const auto t1 = Clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / kChains;
}

// ---- the floor: two plain pointer arrays and an atomic pointer, nothing else ----

struct FloorChain {
  mprog::Program* entries[2][mprog::kSlots] = {};
  std::uint32_t counts[2] = {0, 0};
  std::atomic<int> active{0};

  // Copy the active array into the peer with `prog` inserted at `index`, then swap.
  void insert(std::uint32_t index, mprog::Program* prog) {
    const int a = active.load(std::memory_order_relaxed);
    mprog::Program* const* src = entries[a];
    mprog::Program** dst = entries[1 - a];
    const std::uint32_t n = counts[a];
    std::memcpy(dst, src, index * sizeof *src);
    dst[index] = prog;
    std::memcpy(dst + index + 1, src + index, (n - index) * sizeof *src);
    dst[n + 1] = nullptr;
    counts[1 - a] = n + 1;
    active.store(1 - a, std::memory_order_seq_cst);
  }
  // The same copy with one program left out.
  void remove(std::uint32_t index) {
    const int a = active.load(std::memory_order_relaxed);
    mprog::Program* const* src = entries[a];
    mprog::Program** dst = entries[1 - a];
    const std::uint32_t n = counts[a];
    std::memcpy(dst, src, index * sizeof *src);
    std::memcpy(dst + index, src + index + 1, (n - index - 1) * sizeof *src);
    dst[n - 1] = nullptr;
    counts[1 - a] = n - 1;
    active.store(1 - a, std::memory_order_seq_cst);
  }
};

struct Figures {
  double floor_insert, floor_delete, attach, detach;
};

void fail(const char* what, int error) {
  std::fprintf(stderr, "mprog_bench_native: %s failed: %d\n", what, error);
  std::exit(1);
}

Figures measure(std::uint32_t n, int samples) {
  std::vector<mprog::Program> programs(n);
  for (std::uint32_t i = 0; i < n; ++i) programs[i].id = i + 1;
  mprog::Program* extra = &programs[n - 1];

  std::vector<std::unique_ptr<FloorChain>> floors;
  std::vector<std::unique_ptr<mprog::Bundle>> bundles;
  for (int c = 0; c < kChains; ++c) {
    floors.push_back(std::make_unique<FloorChain>());
    bundles.push_back(std::make_unique<mprog::Bundle>());
    for (std::uint32_t i = 0; i + 1 < n; ++i) {
      floors.back()->insert(i, &programs[i]);
      mprog::Request r;
      r.prog = &programs[i];
      if (mprog::Result res = bundles.back()->attach(r); !res) fail("setup attach", res.error);
    }
  }

  mprog::Request attach;
  attach.prog = extra;  // no flags: append, so the chain grows from n - 1 to n
  mprog::Request detach;
  detach.prog = extra;

  std::vector<double> fi, fd, at, de;
  int errors = 0;
  for (int s = 0; s < samples; ++s) {
    // Alternate the order so neither side always runs right after the other's sweep.
    fi.push_back(sweep([&](int c) { floors[c]->insert(n - 1, extra); }));
    fd.push_back(sweep([&](int c) { floors[c]->remove(n - 1); }));
    at.push_back(sweep([&](int c) { errors |= bundles[c]->attach(attach).error; }));
    de.push_back(sweep([&](int c) { errors |= bundles[c]->detach(detach).error; }));
  }
  if (errors) fail("timed attach/detach", errors);
  return {median(fi), median(fd), median(at), median(de)};
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 4000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") samples = 800;
    else if (arg == "--samples" && i + 1 < argc) samples = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--samples N]\n", argv[0]);
      return 2;
    }
  }
  measure(32, samples / 4);  // warm up caches, the allocator and the CPU clock

  std::string out = "{";
  auto put = [&](const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s\"%s\": %.2f", out.size() > 1 ? ", " : "", key.c_str(), v);
    out += buf;
  };
  out += "\"samples\": " + std::to_string(samples) + ", \"chains\": " + std::to_string(kChains);
  for (std::uint32_t n : {1u, 16u, 32u, 62u}) {
    const Figures f = measure(n, samples);
    const std::string k = std::to_string(n);
    if (n == 32) put("floor_ns", f.floor_insert);
    put("floor_insert_ns_" + k, f.floor_insert);
    put("floor_delete_ns_" + k, f.floor_delete);
    put("native_attach_ns_" + k, f.attach);
    put("native_detach_ns_" + k, f.detach);
  }
  out += "}";
  std::puts(out.c_str());
  return 0;
}
