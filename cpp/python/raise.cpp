#include "raise.hpp"

#include <cstdio>

#include "injected.hpp"

namespace mprog::python {
namespace py = pybind11;
namespace {

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string what(const Result& r, const Context& c) {
  const std::string prog = "program " + std::to_string(c.prog_id);
  switch (r.why) {
    case Why::unknown_flags: return "unknown flag bits in " + hex(c.flags);
    case Why::bad_handle:
      return r.error == -EBADF ? "a closed handle was named" : "a handle of the wrong kind was named";
    case Why::replace_missing: return "REPLACE needs the program to replace";
    case Why::stale:
      return "expected revision " + std::to_string(c.expected_revision) + " but the chain is at " +
             std::to_string(c.revision);
    case Why::exists: return prog + " is already in the chain";
    case Why::relative_lookup:
      if (r.error == -EBADF) return "the relative is a closed handle";
      if (r.error == -ENOENT) return "the relative's id names nothing alive";
      return "the relative is not of the kind the flags name";
    case Why::chain_full: return "the chain already holds 63 programs";
    case Why::replace_absent: return "the program to replace is not in the chain";
    case Why::link_owned: return "the slot belongs to a link";
    case Why::relative_absent: return "the relative is not in the chain";
    case Why::position: return "the directives name no such position";
    case Why::no_directive: return "a relative needs BEFORE or AFTER";
    case Why::empty: return "the chain is empty";
    case Why::prog_absent: return "no such program at that place in the chain";
    case Why::link_detached: return "the link is detached";
    case Why::wrong_old_prog: return "old_prog is not the link's program";
    case Why::update_flags: return "flags not valid for this operation " + hex(c.flags);
    case Why::pinned: return "a FIRST/LAST pin holder is in the way";
    case Why::pin_position: return "a pin can only be held at its end of the chain";
    case Why::query_short: return "count is smaller than the chain";
    case Why::none: break;
  }
  return "failed";
}

}  // namespace

Context Context::of(const char* operation, const Request& r, std::uint64_t revision,
                    PyObject* anchor) {
  Context c(operation);
  c.prog_id = r.prog.object ? r.prog.object->id : 0;
  c.flags = r.flags;
  c.expected_revision = r.expected_revision;
  c.revision = revision;
  c.anchor = anchor;
  return c;
}

py::object make_error(const Result& r, const Context& c) {
  return injected().error(-r.error, c.op, what(r, c), py::arg("full") = r.why == Why::chain_full,
                          py::arg("revision") = c.revision,
                          py::arg("anchor") = py::handle(c.anchor ? c.anchor : Py_None));
}

void raise_result(const Result& r, const Context& c) {
  py::object e = make_error(r, c);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
  throw py::error_already_set();
}

void raise_error(int error, const char* op, const std::string& what, std::uint64_t revision) {
  py::object e = injected().error(error, op, what, py::arg("revision") = revision);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
  throw py::error_already_set();
}

void warn_unclosed(const std::string& what) {
  py::error_scope saved;  // restored when this returns
  if (PyErr_ResourceWarning(nullptr, 1, "unclosed %s: call close() (or use a with block)",
                            what.c_str()) < 0)
    PyErr_WriteUnraisable(nullptr);
}

void raise_value_error(const std::string& what) { throw py::value_error(what); }
void raise_type_error(const std::string& what) { throw py::type_error(what); }

}  // namespace mprog::python
