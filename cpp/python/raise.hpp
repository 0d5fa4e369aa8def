// The one place core errors become Python exceptions (mprog.errors classes). Their texts are
// mprog.messages' table, shared with the reference model: the core says which rule failed
// (Result::why, and the slot it is about) and the binding supplies the facts it names.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "mprog/mprog.hpp"

namespace mprog::python {

// What an operation was doing: the facts its message may name. Fields are set by name:
// Context::of for an attach/link/detach request, else one by one.
struct Context {
  explicit Context(const char* operation) : op(operation) {}
  // The program, flags, relative and expected revision a request named, and the bundle's
  // dialect and revision now.
  static Context of(const char* operation, const Request& r, const Bundle& bundle,
                    PyObject* anchor = nullptr);
  // The program and link in the slot a failure names (Result::slot), in the chain it was
  // planned against: the bundle's, or a transaction's scratch chain.
  Context& locate(const Result& r, const Bundle& bundle);
  Context& locate(const Result& r, const Transaction& tx);

  const char* op;
  Dialect dialect = Dialect::upstream;
  std::uint32_t prog_id = 0;             // attach/link/detach: prog; update: new_prog
  std::uint32_t replace_id = 0;          // upstream attach under REPLACE
  std::uint32_t relative_prog_id = 0;    // the relative, resolved
  std::uint32_t relative_link_id = 0;
  std::uint32_t slot_prog_id = 0;        // what sits in Result::slot (see locate)
  std::uint32_t slot_link_id = 0;
  std::uint32_t link_id = 0;             // update / link detach: the link
  std::uint32_t link_prog_id = 0;        // ... and its program
  std::uint32_t old_prog_id = 0;         // update: old_prog
  bool link_closed = false;              // update / link detach on a closed link
  std::uint64_t flags = 0;
  std::uint64_t expected_revision = 0;
  std::uint64_t revision = 0;
  std::uint64_t base_revision = 0;       // a transaction: the revision it began at
  PyObject* anchor = nullptr;            // the anchor the caller placed with, if any
};

// The exception for a failed result, not raised (for dry runs).
pybind11::object make_error(const Result& r, const Context& c);
[[noreturn]] void raise_result(const Result& r, const Context& c);
[[noreturn]] void raise_value_error(const std::string& what);
[[noreturn]] void raise_type_error(const std::string& what);
// "unclosed <what>" as a ResourceWarning, from a destructor: never throws (a warning turned
// into an error goes to sys.unraisablehook) and keeps any exception already being raised.
void warn_unclosed(const std::string& what);

}  // namespace mprog::python
