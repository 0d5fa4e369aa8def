// The upstream rules' cold parts: BEFORE/AFTER and REPLACE (the rest is inline in
// upstream.hpp, with the conventions it describes).
#include "upstream.hpp"

namespace mprog::upstream {
namespace {

// Index of the relative, or -1 if there is none; -ENOENT if it names something not here.
int relative_index(const ChainView& b, const Relative& rel) {
  if (!rel.prog) return -1;
  const Entry& e = b.current();
  for (std::uint32_t i = 0; i < b.count(); ++i) {
    if (e.programs[i] == rel.prog && (!rel.link || rel.link == b.slot(i).link()))
      return static_cast<int>(i);
  }
  return -ENOENT;
}

}  // namespace

Result directives(const ChainView& b, const Request& r, int& index) {
  const int total = static_cast<int>(b.count());
  const int rel = relative_index(b, r.relative);
  if (r.flags & flag::before) {
    if (rel == -ENOENT) return {-ENOENT, Why::relative_absent};
    const int pos = r.relative.prog ? rel - 1 : -1;
    if (index >= -1 && pos != index) return {-ERANGE, Why::position};
    index = pos;
  }
  if (r.flags & flag::after) {
    if (rel == -ENOENT) return {-ENOENT, Why::relative_absent};
    const int pos = r.relative.prog ? rel + 1 : total;
    if (index >= -1 && pos != index) return {-ERANGE, Why::position};
    index = pos;
  }
  return {};
}

Result replace_index(const ChainView& b, const Program* old, const Link* link, int& index) {
  // A new link has nothing to replace: the kernel looks for a NULL program and fails.
  if (!old) return {-ENOENT, Why::replace_absent};
  Result found = pos_exact(b, old, link, index);
  if (!found) return {found.error, found.error == -ENOENT ? Why::replace_absent : found.why};
  return {};
}

}  // namespace mprog::upstream
