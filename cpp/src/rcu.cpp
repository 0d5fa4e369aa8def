// The reader registry and the writer's grace period. The protocol and its memory-ordering
// argument are at the top of mprog/rcu.hpp; the step names (R1..R4, W2, W3) refer to it.
#include "mprog/rcu.hpp"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace mprog {
namespace {

// Push-only list of every counter ever handed out. Nodes are never freed (a thread that ends
// gives its node back for reuse), so synchronize() walks the list without a lock.
std::atomic<ReaderCounter*> registry{nullptr};

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

bool synchronize() {
  if (ReaderCounter* self = detail::this_thread_counter;
      self && (self->sequence.load(std::memory_order_relaxed) & 1)) {
    std::fputs("mprog: an update (synchronize) inside a read section on the same thread "
               "would wait for itself forever\n", stderr);
    std::abort();
  }
  bool waited = false;
  // W3. seq_cst head load: a counter pushed after it belongs to a reader that will load the
  // new entry (rcu.hpp, (d)).
  for (ReaderCounter* c = registry.load(std::memory_order_seq_cst); c; c = c->next) {
    const std::uint64_t seen = c->sequence.load(std::memory_order_seq_cst);
    if ((seen & 1) == 0) continue;  // outside a section: any later section gets the new entry
    waited = true;
    // The section that was open ends when the value changes (to seen + 1, or further if a
    // new section has already begun: that one loads the new entry).
    for (unsigned spins = 0; c->sequence.load(std::memory_order_acquire) == seen; ++spins) {
      if (spins >= 64) std::this_thread::yield();  // the reader may be descheduled
    }
  }
  return waited;
}

}  // namespace mprog
