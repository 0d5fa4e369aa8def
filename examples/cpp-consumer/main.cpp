// Builds a three-program chain with the core's C++ API and runs it: the smallest useful
// consumer of mprog::mprog. Exits 0 if the chain behaves as tcx would.
#include <cstdio>

#include "mprog/mprog.hpp"

namespace {

// A program that counts how often it ran and then hands on to the next one (TCX_NEXT).
int count_and_pass(const mprog::Program& self, void* ctx) {
  static_cast<int*>(ctx)[self.id] += 1;
  return mprog::kNext;
}

// The last word: returns its id as the verdict.
int verdict(const mprog::Program& self, void* ctx) {
  static_cast<int*>(ctx)[self.id] += 1;
  return static_cast<int>(self.id);
}

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  mprog::Program first{1, count_and_pass, nullptr};
  mprog::Program middle{2, count_and_pass, nullptr};
  mprog::Program last{3, verdict, nullptr};

  mprog::Bundle chain;  // the upstream dialect
  mprog::Request r;

  r.prog = &last;  // no directive: appended
  if (!chain.attach(r)) return fail("attach last");
  r.prog = &first;
  r.flags = mprog::flag::before;  // BEFORE without a relative: at the head
  if (!chain.attach(r)) return fail("attach first");
  r.prog = &middle;
  r.flags = mprog::flag::after;
  r.relative = mprog::Relative::of(&first);
  r.expected_revision = chain.revision();
  if (!chain.attach(r)) return fail("attach middle");

  // The same program twice is EEXIST, and a failed attach changes nothing.
  const std::uint64_t revision = chain.revision();
  r.expected_revision = 0;
  if (chain.attach(r).error != -EEXIST) return fail("a second attach of middle must be EEXIST");
  if (chain.revision() != revision) return fail("a failed attach changed the revision");

  mprog::QueryHead head;
  mprog::QueryEntry entries[mprog::kSlots];
  if (!chain.query(head, entries, mprog::kSlots)) return fail("query");
  if (head.count != 3 || entries[0].prog_id != 1 || entries[1].prog_id != 2 ||
      entries[2].prog_id != 3)
    return fail("query order is not 1, 2, 3");

  int ran[4] = {0, 0, 0, 0};
  const int result = chain.run(ran);
  if (result != 3 || ran[1] != 1 || ran[2] != 1 || ran[3] != 1) return fail("run");

  std::printf("mprog consumer: chain [1, 2, 3] at revision %llu returned %d\n",
              static_cast<unsigned long long>(chain.revision()), result);
  return 0;
}
