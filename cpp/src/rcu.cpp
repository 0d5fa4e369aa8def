#include "mprog/rcu.hpp"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace mprog {
namespace {

// Readers register once per thread; writers scan under the same lock, so a counter is never
// freed while a writer looks at it.
struct ReaderTable {
  std::mutex lock;
  std::vector<ReaderCounter*> counters;
};

ReaderTable& table() {
  static ReaderTable* t = new ReaderTable;  // never destroyed: threads may end after main
  return *t;
}

struct ThreadReader {
  ReaderCounter counter;
  ThreadReader() {
    std::lock_guard<std::mutex> g(table().lock);
    table().counters.push_back(&counter);
  }
  ~ThreadReader() {
    std::lock_guard<std::mutex> g(table().lock);
    auto& v = table().counters;
    v.erase(std::remove(v.begin(), v.end(), &counter), v.end());
  }
};

}  // namespace

ReaderCounter& this_thread_reader() {
  thread_local ThreadReader reader;
  return reader.counter;
}

bool synchronize() {
  std::lock_guard<std::mutex> g(table().lock);
  bool waited = false;
  for (ReaderCounter* c : table().counters) {
    const std::uint64_t seen = c->sequence.load(std::memory_order_seq_cst);
    if ((seen & 1) == 0) continue;  // not inside a section: it cannot hold the old entry
    waited = true;
    for (unsigned spins = 0; c->sequence.load(std::memory_order_acquire) == seen; ++spins) {
      if (spins > 64) std::this_thread::yield();
    }
  }
  return waited;
}

}  // namespace mprog
