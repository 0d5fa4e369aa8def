// The Python-facing objects: a core Program/Link/Bundle plus what Python needs (names,
// callables, closed state, ids that can be looked up, references that keep things alive).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "initialized.hpp"
#include "mprog/mprog.hpp"

namespace mprog::python {

namespace py = pybind11;

// A program handle. Closing it is like closing an fd: it can no longer be named by handle,
// but it lives on (and can be named by id) while a chain or an open link holds it.
struct ProgramObject {
  Program core;
  std::string name;
  py::object fn;
  std::string dialect;  // "upstream", "v2" or "cgroup": core.kind says the same to the core
  bool closed = false;
  std::uint32_t holders = 0;  // chains holding it by program + open links holding it
  PyObject* self = nullptr;   // the Python object that owns it, once looked up (see owner())

  // name: a str, fn: a callable or None (TypeError otherwise, docs/protocol.md "Bad input").
  ProgramObject(py::handle name, py::object fn, py::handle dialect);
  ~ProgramObject();
  bool alive() const { return !closed || holders > 0; }
  void close() { closed = true; }  // the handle only: see above
  static ProgramObject& of(const Program* p) { return *reinterpret_cast<ProgramObject*>(p->user); }
};

// A link handle. Closing it (or dropping the last reference) releases it, as closing a link's
// last fd does: if still attached it is detached first.
struct LinkObject {
  Link core;
  py::object prog;  // the ProgramObject's Python object the link holds
  bool closed = false;
  bool kept = false;  // keep(): leaving a with block does not release it

  explicit LinkObject(py::object prog);
  ~LinkObject();
  void close();
};

// The registries behind "named by id". Ids are never reused within the process.
ProgramObject* program_by_id(std::uint32_t id);
LinkObject* link_by_id(std::uint32_t id);
std::uint32_t next_link_id();

// The object a Python handle of T's class (or a subclass) wraps, read from the instance's
// value slot: pybind11's caster looks the type up in its registries on every call, and
// attach and detach from Python, and every op the executor runs, did that several times.
// Anything else goes to the caster, which returns the object or raises (an instance never
// initialized: TypeError, initialized.hpp).
template <typename T>
T& unwrap(py::handle h) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(py::type::of<T>().ptr());
  if (PyObject_TypeCheck(h.ptr(), type)) {
    auto* inst = reinterpret_cast<py::detail::instance*>(h.ptr());
    if (inst->simple_layout && inst->simple_holder_constructed)
      return *static_cast<T*>(inst->simple_value_holder[0]);
  }
  return h.cast<T&>();
}

// Remember which Python object wraps a core object (so the chain can hand it back).
ProgramObject& as_program(py::handle h);  // TypeError if not a Program
py::handle owner(ProgramObject& p);       // its Python object (borrowed)
void hold(ProgramObject& p);              // a chain or link starts holding it
void release(ProgramObject& p);           // ... and stops
py::handle owner(LinkObject& l);          // its Python object (borrowed)
// The Python object of the bundle a link is attached to, as a strong reference (None if
// detached). A link does not hold its bundle, so a link operation that may run Python code
// (a released program's destructor, a watcher) holds it for the rest of the call.
py::object bundle_of(const Link& link);   // links.cpp
void notify_changed(py::handle bundle);   // tell its watchers, if not None (links.cpp)

}  // namespace mprog::python

MPROG_PY_INITIALIZED_ONLY(mprog::python::ProgramObject)
MPROG_PY_INITIALIZED_ONLY(mprog::python::LinkObject)
