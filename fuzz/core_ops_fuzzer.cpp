// libFuzzer target for the C++ core alone: each input is a program of core operations
// (fuzz/core/decode.hpp) run against one bundle through the public API, with the invariants
// of fuzz/core/world.hpp checked after every operation. A broken invariant aborts, so
// libFuzzer keeps the input; run it again with MPROG_FUZZ_TRACE=1 to see each operation.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DMPROG_FUZZ=ON
//   cmake --build build-fuzz && build-fuzz/fuzz/core_ops_fuzzer fuzz/corpus/core_ops
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/decode.hpp"
#include "core/world.hpp"

namespace {
// Long inputs add little a short one cannot reach, and cost time: stop after this many ops.
constexpr std::size_t kMaxOps = 512;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const bool trace = std::getenv("MPROG_FUZZ_TRACE") != nullptr;
  const auto dialect = (data[0] & 1) ? mprog::Dialect::v2 : mprog::Dialect::upstream;
  mprog_fuzz::World world(dialect, trace);
  std::size_t ops = 0;
  for (std::size_t at = 1; at + mprog_fuzz::kRecord <= size && ops < kMaxOps;
       at += mprog_fuzz::kRecord, ++ops)
    world.step(mprog_fuzz::decode(data + at));
  return 0;
}
