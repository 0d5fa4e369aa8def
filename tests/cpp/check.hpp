// The C++ tests' one assertion: report the failed condition with its place and count it, so
// that a test runs on and reports every failure before main() turns the count into its exit.
#pragma once

#include <cstdio>

namespace mprog_test {
inline int failures = 0;
}  // namespace mprog_test

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++mprog_test::failures;                                                        \
    }                                                                                \
  } while (0)
