// How an operation's arguments name a relative (SPEC "Naming the relative"): a handle, an id
// with the ID flag, a plain int, or nothing. One rule for every front end that has handles —
// the Python binding and the batch replay — each looking ids up in its own tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "mprog/types.hpp"

namespace mprog::naming {

// What the caller put where a relative goes.
struct Named {
  enum class Kind : std::uint8_t { none, program, link, integer } kind = Kind::none;
  bool closed = false;               // a program or link handle that was closed
  const Program* program = nullptr;  // Kind::program
  const Link* link = nullptr;        // Kind::link
  std::uint32_t value = 0;           // Kind::integer

  static Named of(const Program* p, bool closed) { return {Kind::program, closed, p, nullptr, 0}; }
  static Named of(const Link* l, bool closed) { return {Kind::link, closed, nullptr, l, 0}; }
  static Named integer(std::uint32_t v) { return {Kind::integer, false, nullptr, nullptr, v}; }
};

// The relative `n` names under the request's ID and LINK bits. `find_program(id)` and
// `find_link(id)` return the live object with that id, or nullptr.
template <class FindProgram, class FindLink>
Relative relative(const Named& n, bool by_id, bool by_link, FindProgram find_program,
                  FindLink find_link) {
  using Kind = Named::Kind;
  if (by_id) {
    // A handle stands for its id, closed or not; one of the other kind names no id of the
    // kind looked up (the kernel backend passes it so), hence ENOENT.
    std::uint32_t id = 0;
    if (n.kind == Kind::program && !by_link) id = n.program->id;
    if (n.kind == Kind::link && by_link) id = n.link->id;
    if (n.kind == Kind::integer) id = n.value;
    if (by_link) {
      const Link* l = id ? find_link(id) : nullptr;
      return l ? Relative::of(l) : Relative::failed(-ENOENT);
    }
    const Program* p = id ? find_program(id) : nullptr;
    return p ? Relative::of(p) : Relative::failed(-ENOENT);
  }
  switch (n.kind) {
    case Kind::program:  // a closed fd is EBADF before its kind is looked at
      if (n.closed) return Relative::failed(-EBADF);
      return by_link ? Relative::failed(-EINVAL) : Relative::of(n.program);
    case Kind::link:
      if (n.closed) return Relative::failed(-EBADF);
      return by_link ? Relative::of(n.link) : Relative::failed(-EINVAL);
    case Kind::integer:  // without ID an int is an fd that is no bpf object; 0 is none
      if (n.value != 0) return Relative::failed(-EINVAL);
      break;
    case Kind::none:
      break;
  }
  // Nothing named: fine for a program relative; LINK needs a link (kernel: fd 0 is no link).
  return by_link ? Relative::failed(-EINVAL) : Relative::none();
}

// The dialect a name names, if any ("upstream" or "v2").
inline std::optional<Dialect> dialect(std::string_view name) {
  if (name == "upstream") return Dialect::upstream;
  if (name == "v2") return Dialect::v2;
  return std::nullopt;
}

}  // namespace mprog::naming
