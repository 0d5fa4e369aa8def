// The cgroup dialect's mechanics in the core (src/cgroup.hpp): effective arrays republished
// below a change, links routed to their cgroup, close, and readers running a leaf's array
// while a writer changes the root (run it under -fsanitize=thread to check the read side).
// The rules themselves are the differential tests' job (tests/test_cgroup_*.py).
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "cgroup.hpp"
#include "check.hpp"

namespace {

using mprog_test::failures;

using namespace mprog;

int allow(const Program&, void*) { return kAllow; }
int deny(const Program&, void*) { return kDeny; }

Program cgroup_program(std::uint32_t id, RunFn fn = allow) {
  Program p;
  p.id = id;
  p.run = fn;
  p.kind = ProgramKind::cgroup;
  return p;
}

Request multi(Program& p, std::uint64_t flags = 0) {
  Request r;
  r.prog = &p;
  r.flags = cgflag::allow_multi | flags;
  return r;
}

std::vector<std::uint32_t> ids(const Cgroup& c) {
  std::vector<std::uint32_t> out;
  for (const Program* p : c.effective_entries())
    if (p) out.push_back(p->id);
  return out;
}

void republished_below() {
  Cgroup root, mid(&root), leaf(&mid);
  Program a = cgroup_program(1), b = cgroup_program(2), c = cgroup_program(3, deny);
  CHECK(root.attach(multi(a)));
  CHECK(ids(leaf) == std::vector<std::uint32_t>({1}));  // seen two levels down at once
  CHECK(leaf.attach(multi(b)));
  CHECK(mid.attach(multi(c, cgflag::preorder)));
  CHECK(ids(leaf) == std::vector<std::uint32_t>({3, 2, 1}));  // preorder first, then upward
  CHECK(leaf.run(nullptr) == kDeny);                          // every program runs; c denies
  Request gone;
  gone.prog = &c;
  CHECK(mid.detach(gone));
  CHECK(leaf.run(nullptr) == kAllow);
  CHECK(ids(leaf) == std::vector<std::uint32_t>({2, 1}));
  CHECK(root.close().size() == 1);  // a, attached by program, is the caller's again
  CHECK(ids(leaf) == std::vector<std::uint32_t>({2}));
  Program wrong;  // a tcx program is refused
  CHECK(leaf.attach(multi(wrong)).error == -EINVAL);
  CHECK(leaf.revision() == 2);  // a failed attach changed nothing
}

void links_go_to_their_cgroup() {
  Cgroup root, leaf(&root);
  Program a = cgroup_program(1), b = cgroup_program(2);
  Link l;
  l.id = 1;
  l.prog = &a;
  Request r;
  r.prog = &a;
  CHECK(root.attach(l, r));
  CHECK(l.attached() && l.cgroup == &root && l.bundle == nullptr);
  CHECK(root.mode() == cgflag::allow_multi);  // a link is always ALLOW_MULTI
  const std::uint64_t before = root.revision();
  CHECK(update(&l, &b, 0, {}));  // through the public link entry point
  CHECK(root.revision() == before + 1 && ids(leaf) == std::vector<std::uint32_t>({2}));
  CHECK(update(&l, &b, 0, {}));  // the same program again is a change in a cgroup
  CHECK(root.revision() == before + 2);
  CHECK(detach(&l));
  CHECK(!l.attached() && root.entries().empty() && ids(leaf).empty());
  CHECK(root.attach(l, r));
  root.close();
  CHECK(!l.attached());
}

// Readers run the leaf's array while the writer attaches and detaches at the root: each run
// sees a whole array (the leaf's own program, with or without the root's), never a torn one.
void readers_during_changes() {
  Cgroup root, leaf(&root);
  Program own = cgroup_program(1), top = cgroup_program(2, deny);
  CHECK(leaf.attach(multi(own)));
  std::atomic<bool> stop{false};
  std::atomic<long> runs{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const int v = leaf.run(nullptr);
        if (v != kAllow && v != kDeny) ++failures;
        runs.fetch_add(1, std::memory_order_relaxed);
      }
    });
  for (int i = 0; i < 20000; ++i) {
    if (!root.attach(multi(top))) ++failures;
    Request gone;
    gone.prog = &top;
    if (!root.detach(gone)) ++failures;
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(runs.load() > 0);
  CHECK(ids(leaf) == std::vector<std::uint32_t>({1}));
}

}  // namespace

int main() {
  republished_below();
  links_go_to_their_cgroup();
  readers_during_changes();
  if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
  else std::puts("cgroup_hierarchy: ok");
  return failures ? 1 : 0;
}
