// Read side of the a/b entries: lock-free readers, a writer that waits for a grace period.
// (docs/read-side.md has the protocol with pictures and the measurements.)
//
// THE PROTOCOL
//
// Every reading thread owns one ReaderCounter: a 64-bit sequence number on a cache line of
// its own, even while the thread is outside a read section and odd while it is inside (the
// shape of liburcu's "memb" flavour and of the left-right primitive). Only the owning thread
// ever writes it.
//
//   reader (ReadSection)                          writer (Bundle::publish)
//   R1  counter.store(odd, seq_cst)               W1  fill the peer entry (plain writes)
//   R2  e = active.load(seq_cst)                  W2  active.store(&peer, seq_cst)
//   R3  walk e, call its programs (plain reads)   W3  synchronize(): for every registered
//   R4  counter.store(even, release)                  counter c:  s = c.load(seq_cst);
//                                                     if s is odd, spin until c.load(acquire) != s
//                                                 W4  the old entry may be refilled by the next
//                                                     update; a program that left may be freed
//
// Writers are serialized by the caller (tcx holds rtnl; the Python binding holds the GIL;
// C++ users hold their own lock). mprog itself never locks on the update path.
//
// THE MEMORY-ORDERING ARGUMENT (C++17/20 model; [atomics.order], [intro.races])
//
// Claim: when synchronize() returns, no read section that could have loaded the old entry at
// R2 is still running, and every plain read such a section made (R3) happens-before whatever
// the writer does after W3. So W4 never races with R3, and a reader never sees a half-filled
// entry or a program that was released.
//
// (a) A reader that loads the NEW entry is safe: W1 is sequenced before W2, W2 is a release
//     store and R2 an acquire load that reads it (or a later store by the same serialized
//     writers, which all come after W1 in happens-before), so the entry's contents are
//     visible and complete. This is "publication": nothing else is needed for it.
//
// (b) A reader that loads the OLD entry is waited for. All of R1, R2, W2 and the seq_cst load
//     in W3 sit in the single total order S of seq_cst operations, consistent with
//     sequenced-before (R1 before R2, W2 before W3). Suppose the writer's W3 load of this
//     reader's counter did not see R1's odd value. Then that load reads a value coherence-
//     ordered before R1, so it precedes R1 in S; hence W2 < W3-load < R1 < R2 in S, and R2,
//     a seq_cst load that follows the seq_cst store W2 in S, cannot read a value older than
//     W2: the reader loads the new entry, case (a). So a reader that loads the old entry has
//     R1 visible to the writer's scan: the writer sees the odd value (or, if the section has
//     already ended, an even value written by R4 or later, see (c)) and spins until the value
//     changes. This is the store-buffering (Dekker) pattern; it is why R1 and W2 must be
//     seq_cst and why a mere release/acquire pair would be wrong: with them a reader could
//     keep its counter store buffered while it loads the old pointer, the writer could miss
//     the odd value, and refill the entry under the reader.
//
// (c) Every plain read of a section happens-before the writer's W4. The value the writer's
//     acquire load finally reads (any value other than the odd one it saw, or an even value
//     on its first look) was written by R4 of that section or by a later store of the same
//     thread (R1 of a later section is seq_cst, which includes release). That store is a
//     release sequenced after R3, the writer's load is an acquire that reads it, so R3
//     happens-before the rest of the writer's work. A counter whose owner thread ended is
//     handed to a new thread through an acquire/release pair on `in_use`, which extends the
//     same chain (the old owner's last R4 happens-before the new owner's stores).
//
// (d) Registration. A thread's counter joins a push-only list whose head is an atomic the
//     writer loads (seq_cst) at the start of W3; nodes are never freed, so the writer can
//     walk the list without a lock while threads come and go. A thread registers before its
//     first R1; if the writer's head load misses the new node, that load precedes the push in
//     S, so W2 precedes the new reader's R2 and the reader gets the new entry, as in (b).
//     Counters are 64-bit: they do not wrap.
//
// Why seq_cst operations and not standalone fences: ThreadSanitizer models atomic operations
// but not atomic_thread_fence, so this form lets `-fsanitize=thread` check the argument
// (tests/cpp/stress.cpp). On x86-64, R1 and W2 are each one xchg, R2 and R4 plain moves;
// on AArch64 stlr/ldar.
//
// THE WRITER'S FAST PATH (synchronize() below is inline)
//
// W3 is split in two. The inline part is the scan itself: the seq_cst head load and, per
// registered counter, the seq_cst load of its sequence. While every counter reads even it
// returns without a call. The first odd counter (and the value read) goes to
// detail::wait_for_readers (out of line, rcu.cpp), which spins on it until the value changes
// and treats the rest of the list exactly as before.
// Why this is still correct: it performs the same loads with the same orders, in the same
// list order, as the whole scan did out of line, and it returns early only where the scan
// would not have waited either. So each pairing above still holds as it was:
//   - W2 (seq_cst store, bundle.cpp) and the counter load are both in S, against R1 and R2
//     (seq_cst): argument (b), the store-buffering pattern. This is why neither load may be
//     a mere acquire: an acquire load is not in S, may be satisfied before W2 leaves the
//     store buffer, and could miss an R1 whose reader then loads the old entry. On x86-64
//     the seq_cst load is the same plain mov as an acquire one, so keeping it costs nothing,
//     and for the same reason no test here can catch that weakening (TSan does not model a
//     store buffer either): only this argument guards it.
//   - The counter load that reads an even value reads R4 (release) or a later store of that
//     thread, and seq_cst includes acquire: that pair gives R3 happens-before W4, argument
//     (c). A relaxed load here would lose it (tests/cpp/stress.cpp under TSan reports that).
//   - The head load (seq_cst) pairs with the registering push (a seq_cst CAS): argument (d).
//     With no reader ever registered the fast path is that one load and a branch.
// The check that the calling thread is not itself inside a section moved from the start of
// the scan into wait_for_readers: a thread inside a section has an odd counter that is
// already in the list (it pushed it itself, sequenced before), so the scan reaches an odd
// counter no later than its own, and wait_for_readers checks for that before it spins.
//
// COST
//
// A reader pays: one thread-local load (its counter pointer), one seq_cst store (R1, the
// only locked instruction), one load (R2) and one plain store (R4). No lock, no allocation
// (except the first section of a thread, which registers it). The writer pays one seq_cst
// store and one load per registered reader thread, inline, with no call while none is
// inside; it spins only for a reader that is inside a section at that moment, and only
// until that section ends.
//
// RULES FOR USERS
// - Read sections may nest (only the outermost announces the thread) and must not block: the
//   writer waits for them.
// - Never update a chain (or call synchronize()) from inside a read section on the same
//   thread: it would wait for itself. synchronize() aborts with a message instead of hanging.
// - The control-path accessors (Bundle::size, revision, current, query) are the writer's;
//   readers use Bundle::active() inside a ReadSection, or Bundle::run.
#pragma once

#include <atomic>
#include <cstdint>

namespace mprog {

struct alignas(64) ReaderCounter {
  std::atomic<std::uint64_t> sequence{0};  // odd: inside a read section; written by its owner
  std::atomic<bool> in_use{false};         // owned by a live thread
  ReaderCounter* next = nullptr;           // registry list; fixed once the node is published
};

namespace detail {
// Push-only list of every counter ever handed out (newest first). Nodes are never freed (a
// thread that ends gives its node back for reuse), so the writer walks it without a lock.
extern std::atomic<ReaderCounter*> registry;
// This thread's counter, or nullptr before its first read section. Constant-initialized and
// trivially destructible, so reading it is one thread-local load (no init guard).
inline thread_local ReaderCounter* this_thread_counter = nullptr;
// Claims a counter for this thread (reusing one whose thread has ended) and registers a
// thread-exit hook that gives it back.
ReaderCounter& register_this_thread();
// The slow part of W3: `first` is the first counter the scan read odd (`seen`). Aborts if
// the calling thread is inside a section itself; otherwise waits for that section to end
// and scans the rest of the list the same way. Returns true (it waited).
bool wait_for_readers(ReaderCounter* first, std::uint64_t seen);
}  // namespace detail

// This thread's counter, registered on first use and given back when the thread ends.
inline ReaderCounter& this_thread_reader() {
  ReaderCounter* c = detail::this_thread_counter;
  return c ? *c : detail::register_this_thread();
}

// RAII read section. Sections nest (a program run by one chain may run another): a section
// opened inside another on the same thread finds the counter already odd and leaves it alone,
// so the thread stays announced until the outermost section closes.
class ReadSection {
 public:
  ReadSection() : counter_(this_thread_reader()) {
    // Only this thread writes its counter, so a relaxed load of it is its latest value.
    const std::uint64_t now = counter_.sequence.load(std::memory_order_relaxed);
    outermost_ = (now & 1) == 0;
    if (outermost_) counter_.sequence.store(now + 1, std::memory_order_seq_cst);  // R1
  }
  ~ReadSection() {
    if (!outermost_) return;
    const std::uint64_t now = counter_.sequence.load(std::memory_order_relaxed);
    counter_.sequence.store(now + 1, std::memory_order_release);  // R4
  }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;

 private:
  ReaderCounter& counter_;
  bool outermost_;
};

// W3: waits until every read section that was open when it was called has closed. Call it
// after publishing (seq_cst store) the new entry. Returns whether it had to wait for anyone
// (for measurements). Lock-free; writers are serialized by the caller. Inline: see "the
// writer's fast path" above for why this split keeps the ordering argument intact.
inline bool synchronize() {
  // seq_cst head load: a counter pushed after it belongs to a reader that will load the new
  // entry (argument (d)).
  for (ReaderCounter* c = detail::registry.load(std::memory_order_seq_cst); c; c = c->next) {
    // seq_cst: in S after W2 (argument (b)); reading an even value also acquires that
    // section's R4 (argument (c)). Even: outside a section, any later one gets the new entry.
    const std::uint64_t seen = c->sequence.load(std::memory_order_seq_cst);
    if (seen & 1) return detail::wait_for_readers(c, seen);
  }
  return false;
}

}  // namespace mprog
