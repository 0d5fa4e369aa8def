// Read side of the a/b entries: lock-free readers, a writer that waits for a grace period.
//
// Every reading thread owns a cache-line-padded sequence counter, odd while it is inside a
// read section (the shape of liburcu's memb flavour). A reader bumps its counter to odd and
// only then loads the active entry; the writer publishes the new entry and only then scans
// the counters. Both sides use sequentially consistent operations, so at least one of them
// sees the other: either the reader loads the new entry, or the writer sees the odd counter
// and waits until it changes. The reader's closing increment is a release and the writer's
// scan an acquire, so every load the reader made from the old entry happens before the
// writer refills it. (seq_cst atomics rather than standalone fences: ThreadSanitizer checks
// these, not fences.)
#pragma once

#include <atomic>
#include <cstdint>

namespace mprog {

struct alignas(64) ReaderCounter {
  std::atomic<std::uint64_t> sequence{0};
};

// This thread's counter, registered with the process-wide reader table on first use and
// removed when the thread ends.
ReaderCounter& this_thread_reader();

// RAII read section. Not reentrant: do not open a second one on the same thread inside it.
class ReadSection {
 public:
  ReadSection() : counter_(this_thread_reader()) {
    counter_.sequence.fetch_add(1, std::memory_order_seq_cst);
  }
  ~ReadSection() { counter_.sequence.fetch_add(1, std::memory_order_release); }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;

 private:
  ReaderCounter& counter_;
};

// Waits until every read section that was open when it was called has closed. Returns
// whether it had to wait for anyone (for measurements).
bool synchronize();

}  // namespace mprog
