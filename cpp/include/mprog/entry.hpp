// The two halves of a chain, kept apart as in the kernel's bpf_mprog_fp / bpf_mprog_cp:
// readers touch only Entry::programs; links and pins live on the writer's side.
#pragma once

#include <array>
#include <cstdint>

#include "mprog/types.hpp"

namespace mprog {

// Fast path: what a reader walks. nullptr after the last program, so a reader needs no count.
// The writer's count comes first and each entry starts a cache line: the count then shares
// its line with programs[0..6], which every change copies anyway, so a change touches one
// line less in each entry (the one it reads, the one it fills), and no 16-byte copy of the
// programs straddles two lines more than it must (measured in benchmarks/native.cpp).
struct alignas(64) Entry {
  std::array<Program*, kSlots> programs{};
  std::uint32_t count = 0;
};

// Control path: what only the writer reads, one per occupied slot: the link that owns it
// (nullptr: attached by program) and the v2 pins it holds (v2flag::first / v2flag::last).
//
// One word: the two pins ride in the low bits of the link pointer, which a Link's alignment
// keeps zero. Every insert or delete moves the slots after its position, so 8 bytes a slot
// instead of 16 halve what moves (a change at the head of 32 programs: 256 bytes, not 512)
// and the cache lines it takes (measured in benchmarks/native.cpp). A whole word, stored and
// loaded whole, also keeps store-to-load forwarding intact (a 12-byte slot written as 8 + 4
// and read as 8 + 8 once stalled every attach for about 3 ns).
class Slot {
 public:
  Slot() = default;
  // `pins`: v2flag::first and/or v2flag::last, nothing else.
  Slot(Link* link, std::uint64_t pins)
      : bits_(reinterpret_cast<std::uintptr_t>(link) | (pins >> kPinShift & kPinBits)) {}
  Link* link() const { return reinterpret_cast<Link*>(bits_ & ~kPinBits); }
  std::uint64_t pins() const { return std::uint64_t{bits_ & kPinBits} << kPinShift; }

 private:
  static constexpr std::uintptr_t kPinBits = 3;  // FIRST and LAST, shifted down to bits 0-1
  static constexpr unsigned kPinShift = 5;       // v2flag::first is 1 << 5, last 1 << 6
  static_assert(v2flag::pins == kPinBits << kPinShift, "the pins must fit the low two bits");
  static_assert(alignof(Link) >= 4, "a Link pointer must leave its low two bits zero");
  std::uintptr_t bits_ = 0;
};

}  // namespace mprog
