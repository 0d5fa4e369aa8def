// The reader registry and the writer's grace period. The protocol and its memory-ordering
// argument are at the top of mprog/rcu.hpp; the step names (R1..R4, W2, W3) refer to it.
#include "mprog/rcu.hpp"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace mprog {

std::atomic<ReaderCounter*> detail::registry{nullptr};

namespace {

using detail::registry;

ReaderCounter* claim_free_counter() {
  for (ReaderCounter* c = registry.load(std::memory_order_acquire); c; c = c->next) {
    bool free = false;
    // acquire: the previous owner's last R4 happens-before our first R1 (rcu.hpp, (c)).
    if (!c->in_use.load(std::memory_order_relaxed) &&
        c->in_use.compare_exchange_strong(free, true, std::memory_order_acquire))
      return c;
  }
  return nullptr;
}

ReaderCounter* new_counter() {
  auto* c = new ReaderCounter;  // never deleted: the writer may be looking at it
  c->in_use.store(true, std::memory_order_relaxed);
  ReaderCounter* head = registry.load(std::memory_order_relaxed);
  do {
    c->next = head;
  } while (!registry.compare_exchange_weak(head, c, std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
  return c;
}

// Gives the thread's counter back when the thread ends.
struct ThreadExit {
  ReaderCounter* counter = nullptr;
  ~ThreadExit() {
    if (!counter) return;
    detail::this_thread_counter = nullptr;
    // release: pairs with the acquire in claim_free_counter. The counter is even here: a
    // ReadSection cannot outlive its thread.
    counter->in_use.store(false, std::memory_order_release);
  }
};

}  // namespace

ReaderCounter& detail::register_this_thread() {
  thread_local ThreadExit exit_hook;  // constructed here, destroyed at thread exit
  ReaderCounter* c = claim_free_counter();
  if (!c) c = new_counter();
  exit_hook.counter = c;
  this_thread_counter = c;
  return *c;
}

namespace {

// Spins until `c`'s sequence is no longer `seen` (odd): the section that was open has ended
// (the value is seen + 1, or further if a new section has already begun: that one loads the
// new entry). acquire: reads R4 or a later store of that thread, argument (c).
void wait_for_section(const ReaderCounter& c, std::uint64_t seen) {
  for (unsigned spins = 0; c.sequence.load(std::memory_order_acquire) == seen; ++spins) {
    if (spins >= 64) std::this_thread::yield();  // the reader may be descheduled
  }
}

}  // namespace

bool detail::wait_for_readers(ReaderCounter* first, std::uint64_t seen) {
  // The calling thread inside a section of its own would wait for itself. Its counter is odd
  // and in the list, so synchronize() stops at it or at an earlier odd one: checking here
  // catches it before any spinning.
  if (ReaderCounter* self = this_thread_counter;
      self && (self->sequence.load(std::memory_order_relaxed) & 1)) {
    std::fputs("mprog: an update (synchronize) inside a read section on the same thread "
               "would wait for itself forever\n", stderr);
    std::abort();
  }
  // The rest of W3, as synchronize() left it: the counters before `first` read even.
  wait_for_section(*first, seen);
  for (ReaderCounter* c = first->next; c; c = c->next) {
    const std::uint64_t now = c->sequence.load(std::memory_order_seq_cst);
    if (now & 1) wait_for_section(*c, now);
  }
  return true;
}

}  // namespace mprog
