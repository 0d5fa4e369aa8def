// The chain scan (find_program in src/plan.hpp): every attach asks whether its program is
// already in the chain, every detach by program where it is. On x86-64 the scan compares only
// the low 32 bits of each pointer and confirms a candidate with the whole pointer, so this
// test puts two programs exactly 4 GiB apart (same low half) into one chain, in the same
// 16-slot block and in different ones, and checks that neither is taken for the other. It
// also checks stale pointers past the end of an entry and every position of a full chain.
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <new>
#include <vector>

#include "mprog/mprog.hpp"
#include "check.hpp"

namespace {

using mprog_test::failures;

mprog::Request by(mprog::Program* p) {
  mprog::Request r;
  r.prog = p;
  return r;
}

std::vector<std::uint32_t> ids(const mprog::Bundle& b) {
  std::vector<std::uint32_t> out;
  b.for_each_tuple([&](const mprog::Program* p, const mprog::Link*) { out.push_back(p->id); });
  return out;
}

// One page at `hint` exactly, or nullptr where the address space is taken there.
void* page_at(std::uintptr_t hint) {
  void* p = mmap(reinterpret_cast<void*>(hint), 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (reinterpret_cast<std::uintptr_t>(p) != hint) {  // a kernel that ignores the flag
    munmap(p, 4096);
    return nullptr;
  }
  return p;
}

// Two programs whose addresses differ by exactly 4 GiB: equal low 32 bits.
bool aliased_pair(mprog::Program*& a, mprog::Program*& b) {
  void* first = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (first == MAP_FAILED) return false;
  const auto base = reinterpret_cast<std::uintptr_t>(first);
  constexpr std::uintptr_t k4G = std::uintptr_t{1} << 32;
  void* second = page_at(base + k4G);
  if (!second && base > k4G) second = page_at(base - k4G);
  if (!second) return false;
  a = new (first) mprog::Program{1000, nullptr, nullptr};
  b = new (second) mprog::Program{2000, nullptr, nullptr};
  return true;
}

void aliased_programs(mprog::Dialect dialect, std::vector<mprog::Program>& fillers,
                      mprog::Program* a, mprog::Program* b) {
  CHECK((reinterpret_cast<std::uintptr_t>(a) & 0xffffffffu) ==
        (reinterpret_cast<std::uintptr_t>(b) & 0xffffffffu));
  // `a` at index `at`, `b` at index `at + gap`: same block, neighbouring blocks, far apart
  // (the chain stays short of full: v2 answers a full chain ENOSPC before EEXIST).
  for (const auto& [at, gap] : {std::pair{0u, 1u}, {3u, 12u}, {14u, 3u}, {5u, 40u}, {30u, 31u}}) {
    mprog::Bundle bundle(dialect);
    std::vector<std::uint32_t> want;
    std::size_t f = 0;
    auto fill_to = [&](std::uint32_t n) {
      while (bundle.size() < n) {
        CHECK(bundle.attach(by(&fillers[f])).error == 0);
        want.push_back(fillers[f++].id);
      }
    };
    fill_to(at);
    CHECK(bundle.attach(by(a)).error == 0);
    want.push_back(a->id);
    fill_to(at + gap);
    CHECK(bundle.attach(by(b)).error == 0);  // not EEXIST: `a` is another program
    want.push_back(b->id);
    CHECK(ids(bundle) == want);
    CHECK(bundle.attach(by(a)).error == -EEXIST);
    CHECK(bundle.attach(by(b)).error == -EEXIST);
    // Detaching `b` removes `b`, not `a` (which comes first and matches the low half).
    CHECK(bundle.detach(by(b)).error == 0);
    want.pop_back();
    CHECK(ids(bundle) == want);
    CHECK(bundle.detach(by(b)).error == -ENOENT);
    CHECK(bundle.attach(by(b)).error == 0);
    CHECK(bundle.detach(by(a)).error == 0);
    CHECK(bundle.detach(by(a)).error == -ENOENT);
    CHECK(bundle.detach(by(b)).error == 0);
    CHECK(bundle.size() == want.size() - 1);
  }
}

// Both entries keep pointers past their end from earlier, longer chains (a shrinking chain
// leaves every other slot behind): they must not count, in either entry.
void stale_pointers(mprog::Dialect dialect, std::vector<mprog::Program>& p) {
  mprog::Bundle bundle(dialect);
  for (int i = 0; i < 20; ++i) CHECK(bundle.attach(by(&p[i])).error == 0);
  for (int i = 19; i >= 2; --i) CHECK(bundle.detach(by(&p[i])).error == 0);
  for (int entry = 0; entry < 2; ++entry) {
    CHECK(bundle.size() == 2);
    for (int i = 2; i < 20; ++i) CHECK(bundle.detach(by(&p[i])).error == -ENOENT);
    // The other entry: one more program in, then out again.
    CHECK(bundle.attach(by(&p[40])).error == 0);
    CHECK(bundle.detach(by(&p[40])).error == 0);
  }
  for (int i = 2; i < 20; ++i) {
    CHECK(bundle.attach(by(&p[i])).error == 0);
    CHECK(bundle.attach(by(&p[i])).error == -EEXIST);
  }
  CHECK(bundle.size() == 20);
}

// A full chain: each of its 63 programs is found where it is, at every block boundary.
void full_chain(mprog::Dialect dialect, std::vector<mprog::Program>& p) {
  for (std::uint32_t gone = 0; gone < mprog::kMaxPrograms; ++gone) {
    mprog::Bundle bundle(dialect);
    for (std::uint32_t i = 0; i < mprog::kMaxPrograms; ++i)
      CHECK(bundle.attach(by(&p[i])).error == 0);
    CHECK(bundle.detach(by(&p[gone])).error == 0);
    CHECK(bundle.detach(by(&p[gone])).error == -ENOENT);
    // (v2 answers a full chain ENOSPC before EEXIST: ask with one slot free.)
    CHECK(bundle.attach(by(&p[(gone + 1) % mprog::kMaxPrograms])).error == -EEXIST);
    std::vector<std::uint32_t> want;
    for (std::uint32_t i = 0; i < mprog::kMaxPrograms; ++i)
      if (i != gone) want.push_back(p[i].id);
    CHECK(ids(bundle) == want);
  }
}

}  // namespace

int main() {
  std::vector<mprog::Program> programs(mprog::kSlots);
  for (std::uint32_t i = 0; i < programs.size(); ++i) programs[i].id = i + 1;
  mprog::Program* a = nullptr;
  mprog::Program* b = nullptr;
  if (!aliased_pair(a, b)) {
    // Not a skip: the machines this runs on have the address space; say why and fail.
    std::fprintf(stderr, "chain_scan: no two pages 4 GiB apart could be mapped\n");
    return 1;
  }
  for (mprog::Dialect d : {mprog::Dialect::upstream, mprog::Dialect::v2}) {
    aliased_programs(d, programs, a, b);
    stale_pointers(d, programs);
    full_chain(d, programs);
  }
  if (failures) std::fprintf(stderr, "chain_scan: %d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
