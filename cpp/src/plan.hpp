// What a rule set decides: the single change an operation makes, or why it makes none.
// The rule sets (upstream.hpp, v2.cpp) only read the chain; Bundle applies the plan.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mprog/bundle.hpp"

namespace mprog {

// The chain as the rules read it: the bundle's active entry and slots, or a transaction's
// scratch copy of them. `n` is the entry's count as the writer keeps it beside the revision
// (Bundle::count_): the rules read it with no load from the entry's own count line.
struct ChainView {
  const Entry* entry;
  const Slot* slots;
  std::uint64_t rev;
  Dialect lang;
  std::uint32_t n;
  const Entry& current() const { return *entry; }
  std::uint32_t count() const { return n; }
  const Slot& slot(std::uint32_t i) const { return slots[i]; }
  std::uint64_t revision() const { return rev; }
  Dialect dialect() const { return lang; }
};

struct Plan {
  enum class Kind : std::uint8_t { insert, replace, remove } kind = Kind::insert;
  std::uint32_t index = 0;
  Program* prog = nullptr;  // insert/replace: the program that takes the slot
  Slot slot;                // insert/replace: its link and pins
};

// The v2 rules (v2.cpp); the upstream ones are inline in upstream.hpp, and rules.hpp picks
// the chain's dialect. `prog` and `link` are the attaching (or, for detach, the detaching)
// pair: for a link operation both are set and request.prog is not looked at.
namespace v2 {
Result plan_attach(const ChainView& b, const Request& r, Link* link, Plan& plan);
Result plan_detach(const ChainView& b, const Request& r, Link* link, Plan& plan);
}  // namespace v2

// The attaching program's lookup, checked where the kernel checks its fd: the lookup's own
// errno, or EINVAL for a Ref that names nothing (the kernel's answer to an fd that is no bpf
// program), so that a null pointer never enters the chain. `prog` is the program attached:
// request.prog's, or the link's.
inline int lookup_error(const Ref<Program>& ref, const Program* prog) {
  if (ref.error) return ref.error;
  return prog ? 0 : -EINVAL;
}

// Which of the kBlock pointers at `p` may be `prog`: bit j for p[j]. With SSE2 it compares
// only their low 32 bits, four at a time (SSE2 has no 64-bit equality), so a set bit must be
// confirmed; a clear bit is final. Elsewhere it compares whole pointers.
constexpr std::size_t kBlock = 16;
static_assert(kSlots % kBlock == 0, "blocks must not run past programs[]");
// Every chain the rules read is an Entry (a bundle's or a transaction's), so a block starts
// 16-byte aligned: aligned loads, which the compiler folds into the shuffles.
static_assert(alignof(Entry) % 16 == 0 && offsetof(Entry, programs) % 16 == 0,
              "blocks of programs[] must be 16-byte aligned");

inline unsigned candidates(const Program* const* p, const Program* prog) {
#if defined(__SSE2__)
  const auto low = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(prog));
  const __m128i key = _mm_set1_epi32(static_cast<std::int32_t>(low));
  // Lane k (all ones or zero): p[i + k] matches. x86 is little-endian: a pointer's low half
  // is its first dword, so dwords 0 and 2 of each pair of pointers.
  const auto matches = [p, key](std::size_t i) {
    const __m128 a = _mm_load_ps(reinterpret_cast<const float*>(p + i));
    const __m128 b = _mm_load_ps(reinterpret_cast<const float*>(p + i + 2));
    return _mm_cmpeq_epi32(_mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), key);
  };
  // Narrow the lanes to one byte per pointer, in order (saturation keeps all ones and zero).
  const __m128i bytes = _mm_packs_epi16(_mm_packs_epi32(matches(0), matches(4)),
                                        _mm_packs_epi32(matches(8), matches(12)));
  return static_cast<unsigned>(_mm_movemask_epi8(bytes));
#else
  unsigned bits = 0;
  for (std::size_t j = 0; j < kBlock; ++j) bits |= static_cast<unsigned>(p[j] == prog) << j;
  return bits;
#endif
}

inline unsigned lowest_bit(unsigned bits) {  // bits != 0
#if defined(__GNUC__)
  return static_cast<unsigned>(__builtin_ctz(bits));
#else
  unsigned i = 0;
  while (!(bits >> i & 1)) ++i;
  return i;
#endif
}

// Position of `prog` in the chain, or -1 (a program is in a chain at most once). Every
// attach asks it (kernel: bpf_mprog_exists) and the answer is nearly always "not there": a
// scan of the whole chain; a detach asks it for the slot to empty (bpf_mprog_pos_exact). So
// it tests a block of slots at once and looks closer only at the candidates (programs[] has
// room for whole blocks; slots past `count` may hold stale pointers, so a candidate there is
// not one). Measured in benchmarks/native.cpp.
inline int find_program(const ChainView& b, const Program* prog) {
  const std::size_t count = b.count();
  const Program* const* programs = b.current().programs.data();
  for (std::size_t base = 0; base < count; base += kBlock) {
    for (unsigned bits = candidates(programs + base, prog); bits; bits &= bits - 1) {
      const std::size_t i = base + lowest_bit(bits);
      if (i < count && programs[i] == prog) return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace mprog
