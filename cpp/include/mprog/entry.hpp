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

// Control path: what only the writer reads, one per occupied slot.
// Both fields are whole words, so a Slot has no padding and every copy of it moves two
// words that were each stored whole. With a 4-byte `pins`, the rules wrote a plan's slot as
// 8 + 4 bytes and the bundle read it back as 8 + 8: a load the store buffer cannot forward,
// a stall of about 3 ns on every attach (measured in benchmarks/native.cpp).
struct Slot {
  Link* link = nullptr;       // the link that owns the slot, or nullptr (attached by program)
  std::uint64_t pins = 0;     // v2: v2flag::first / v2flag::last held by this slot
};

}  // namespace mprog
