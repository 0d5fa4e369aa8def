// The structure-aware decoder of the core fuzzer: every byte string is a valid program of
// core operations. The first byte picks the dialect; then each 8-byte record is one operation.
// Fixed-size records keep a mutation local: changing one byte changes one field of one
// operation, and splicing inputs splices whole operations, which is what lets libFuzzer's
// coverage feedback build on what it found.
//
// Record layout (each field is reduced modulo its range, so no value is invalid):
//   b0  the operation (decode()'s table)
//   b1  the program's index (in the pool, or in the chain)
//   b2  flag bits (World::flags()); bit 0 is REPLACE for update, discard (not commit) for
//       tx_end, by link (not by program) for fill
//   b3  the relative's kind; for update and link_detach, where the link comes from
//   b4  the relative's (or that link's) index
//   b5  the expected revision: zero, current, stale, future or huge
//   b6  handle sources: bits 0-1 the program's, 2-3 the second handle's; bits 6-7 the errno
//       of a failed lookup
//   b7  a spare argument: the second handle's index, a query's capacity, fill's target (0
//       mod 16: reset instead), the unknown flag bit, reuse of a link object (bit 7)
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace mprog_fuzz {

enum class Kind : std::uint8_t {
  attach, link, detach, link_detach, update, query, tx_attach, tx_detach, tx_end, fill, reset
};

// Where a handle comes from: the program (or link) pool, the chain's i-th entry, nothing,
// or a lookup that failed with `error` (a closed fd, a wrong kind of object, no such id).
enum class Source : std::uint8_t { pool, chain, none, failed };

struct Handle {
  Source source = Source::pool;
  std::uint8_t index = 0;
  int error = 0;
};

enum class RelKind : std::uint8_t { none, prog_pool, prog_chain, link_pool, link_chain, failed };

struct RelSpec {
  RelKind kind = RelKind::none;
  std::uint8_t index = 0;
  int error = 0;
};

// Expected revisions name a revision relative to the chain the operation sees, so the same
// operation means the same thing to the bundle, to a transaction and to the shadow bundle.
enum class Rev : std::uint8_t { zero, current, stale, future, huge };

struct Op {
  Kind kind = Kind::query;
  Handle prog;    // attach/link/detach: the program; update: the new program
  Handle second;  // attach: replace; update: old program; link: reuse a link object
  RelSpec rel;
  Handle link;    // update/link_detach: the link
  std::uint8_t raw_flags = 0;
  Rev rev = Rev::zero;
  std::uint8_t arg = 0;
};

constexpr std::size_t kRecord = 8;

inline int lookup_error(std::uint8_t bits) {
  constexpr int errors[4] = {-EBADF, -EINVAL, -ENOENT, -EBADF};
  return errors[bits & 3];
}

inline Op decode(const std::uint8_t* b) {
  // Weights by repetition: the control path's entry points most, the rest enough to matter.
  static constexpr Kind kinds[16] = {
      Kind::attach, Kind::attach, Kind::attach, Kind::link, Kind::link, Kind::detach,
      Kind::detach, Kind::detach, Kind::link_detach, Kind::update, Kind::update, Kind::query,
      Kind::tx_attach, Kind::tx_detach, Kind::tx_end, Kind::fill};
  Op op;
  op.kind = kinds[b[0] % 16];
  if (op.kind == Kind::fill && b[7] % 16 == 0) op.kind = Kind::reset;
  const int error = lookup_error(b[6] >> 6);
  op.prog = {static_cast<Source>(b[6] & 3), b[1], error};
  op.second = {static_cast<Source>((b[6] >> 2) & 3), b[7], error};
  op.raw_flags = b[2];
  static constexpr RelKind rels[8] = {RelKind::none,       RelKind::prog_pool, RelKind::prog_chain,
                                      RelKind::link_pool,  RelKind::link_chain, RelKind::failed,
                                      RelKind::prog_chain, RelKind::link_chain};
  op.rel = {rels[b[3] % 8], b[4], lookup_error(b[4])};
  static constexpr Source link_sources[4] = {Source::pool, Source::chain, Source::failed,
                                             Source::chain};
  op.link = {link_sources[b[3] % 4], b[4], error};
  static constexpr Rev revs[8] = {Rev::zero,  Rev::zero,  Rev::zero,   Rev::zero,
                                  Rev::current, Rev::stale, Rev::future, Rev::huge};
  op.rev = revs[b[5] % 8];
  op.arg = b[7];
  return op;
}

// The revision `rev` names when the chain is at `current`: always nonzero and different
// from `current` for stale, future and huge, whatever `current` is.
inline std::uint64_t resolve(Rev rev, std::uint64_t current, std::uint8_t arg) {
  switch (rev) {
    case Rev::zero: return 0;
    case Rev::current: return current;
    case Rev::stale: return current > 1 ? current - 1 : current + 2;
    case Rev::future: return current + 1;
    case Rev::huge: return (std::uint64_t{1} << 40) + arg;
  }
  return 0;
}

const char* name(Kind k);

}  // namespace mprog_fuzz
