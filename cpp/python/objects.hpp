// The Python-facing objects: a core Program/Link/Bundle plus what Python needs (names,
// callables, closed state, ids that can be looked up, references that keep things alive).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

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
