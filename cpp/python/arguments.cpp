#include "arguments.hpp"

#include "injected.hpp"
#include "mprog/naming.hpp"
#include "objects.hpp"
#include "raise.hpp"

namespace mprog::python {
namespace {

std::uint32_t to_id(py::handle h) {
  const std::uint64_t v = to_u64(h, "an id");
  if (v >> 32) raise_value_error("an id must be in [0, 2**32)");
  return static_cast<std::uint32_t>(v);
}

struct FlagBits {
  std::uint64_t id, link;
};
FlagBits bits(Dialect d) {
  return d == Dialect::v2 ? FlagBits{v2flag::id, v2flag::link} : FlagBits{flag::id, flag::link};
}

// What a Python argument names, for the shared rule in mprog/naming.hpp.
naming::Named named(py::handle rel) {
  if (rel.is_none()) return {};
  if (is_program(rel)) {
    const auto& p = unwrap<ProgramObject>(rel);
    return naming::Named::of(&p.core, p.closed);
  }
  if (is_link(rel)) {
    const auto& l = unwrap<LinkObject>(rel);
    return naming::Named::of(&l.core, l.closed);
  }
  return naming::Named::integer(to_id(rel));
}

Relative resolve_relative(py::handle rel, std::uint64_t flags, Dialect d) {
  return naming::relative(
      named(rel), flags & bits(d).id, flags & bits(d).link,
      [](std::uint32_t id) -> const Program* {
        const ProgramObject* p = program_by_id(id);
        return p ? &p->core : nullptr;
      },
      [](std::uint32_t id) -> const Link* {
        const LinkObject* l = link_by_id(id);
        return l ? &l->core : nullptr;
      });
}

}  // namespace

Dialect parse_dialect(py::handle name) {
  if (!PyUnicode_Check(name.ptr()))
    raise_type_error(std::string("dialect must be a str, not ") + Py_TYPE(name.ptr())->tp_name);
  const std::string text = name.cast<std::string>();
  if (auto known = naming::dialect(text)) return *known;
  raise_value_error("unknown dialect '" + text + "' (expected 'upstream' or 'v2')");
}

const char* dialect_name(Dialect d) { return d == Dialect::v2 ? "v2" : "upstream"; }

std::uint64_t to_flags(py::handle h) {
  if (!PyLong_Check(h.ptr())) raise_type_error("flags must be an int");
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return ~std::uint64_t{0};
  }
  return v;
}

std::uint64_t to_u64(py::handle h, const char* name) {
  if (!PyLong_Check(h.ptr())) raise_type_error(std::string(name) + " must be an int");
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    raise_value_error(std::string(name) + " must be in [0, 2**64)");
  }
  return v;
}

std::uint32_t to_count(py::handle h) {
  if (h.is_none()) return static_cast<std::uint32_t>(kSlots);
  if (!PyLong_Check(h.ptr()))
    raise_type_error(std::string("count must be an int or None, not ") + Py_TYPE(h.ptr())->tp_name);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow < 0 || (overflow == 0 && v < 0)) raise_value_error("count must be >= 0");
  // More room than a u32 says is room for everything: the chain holds 63 at most.
  return overflow > 0 || v > 0xffffffffLL ? 0xffffffffu : static_cast<std::uint32_t>(v);
}

// py::isinstance<T> looks the class up by typeid on every call; the class objects are fixed
// once the module is loaded, so keep them (the same check: pybind11 classes have no
// __instancecheck__).
bool is_program(py::handle h) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(py::type::of<ProgramObject>().ptr());
  return PyObject_TypeCheck(h.ptr(), type);
}
bool is_link(py::handle h) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(py::type::of<LinkObject>().ptr());
  return PyObject_TypeCheck(h.ptr(), type);
}

void check_handle(py::handle h, const char* name) {
  if (h.is_none()) return;
  // A Program or Link never initialized is refused as its type is checked, wherever a handle
  // goes (read or not): TypeError from its caster (initialized.hpp; docs/protocol.md, rule 14).
  if (is_program(h)) return static_cast<void>(unwrap<ProgramObject>(h));
  if (is_link(h)) return static_cast<void>(unwrap<LinkObject>(h));
  if (!PyLong_Check(h.ptr()))
    raise_type_error(std::string(name) + " must be a Program, a Link, an int or None, not " +
                     Py_TYPE(h.ptr())->tp_name);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow || v < 0 || v > 0xffffffffLL)
    raise_value_error(std::string(name) + " must be 0 <= value < 2**32");
}

Ref<Program> program_ref(py::handle h, const char* name, bool none_allowed) {
  check_handle(h, name);
  if (is_program(h)) {
    auto& p = unwrap<ProgramObject>(h);
    return p.closed ? Ref<Program>::failed(-EBADF) : Ref<Program>(&p.core);
  }
  // A closed fd is EBADF before its kind is looked at; an open one of the wrong kind EINVAL.
  if (is_link(h)) return Ref<Program>::failed(unwrap<LinkObject>(h).closed ? -EBADF : -EINVAL);
  // None and the int 0 are fd 0, which the kernel reads as "none" where none is allowed; any
  // other int is an fd that is no bpf object.
  if (none_allowed && (h.is_none() || PyLong_AsLong(h.ptr()) == 0)) return {};
  return Ref<Program>::failed(-EINVAL);
}

Ref<Program> program_argument(py::handle prog, bool optional) {
  return program_ref(prog, "prog", optional);
}

Arguments arguments(Dialect dialect, py::handle flags, py::handle relative, py::handle replace,
                    py::handle expected_revision, bool replace_is_relative) {
  Arguments a;
  if (!PyLong_Check(flags.ptr())) {
    // An anchor (Head(), Before(q), ...) says the flags and the relative itself.
    a.anchor = flags.ptr();
    a.expanded = injected().to_request(flags, relative, replace, dialect_name(dialect));
    if (!PyTuple_Check(a.expanded.ptr()) || PyTuple_GET_SIZE(a.expanded.ptr()) != 3)
      raise_type_error("an anchor's request() must return (flags, relative, replace)");
    flags = PyTuple_GET_ITEM(a.expanded.ptr(), 0);
    relative = PyTuple_GET_ITEM(a.expanded.ptr(), 1);
    replace = PyTuple_GET_ITEM(a.expanded.ptr(), 2);
  }
  Request& r = a.request;
  r.flags = to_flags(flags);
  r.expected_revision = to_u64(expected_revision, "expected_revision");
  r.relative = resolve_relative(relative, r.flags, dialect);
  check_handle(replace, "replace");  // its type even where the flags will not read it
  if (r.flags & flag::replace) {  // bit 2 in both dialects
    if (dialect == Dialect::v2 && replace_is_relative)
      r.relative = resolve_relative(replace, r.flags, Dialect::v2);  // v2: one shared field
    else if (dialect == Dialect::upstream)
      r.replace = program_ref(replace, "replace", true);
  }
  return a;
}

}  // namespace mprog::python
