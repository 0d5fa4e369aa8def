// The one place core errors become Python exceptions (mprog.errors classes).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "mprog/mprog.hpp"

namespace mprog::python {

// What an operation was doing, for the message ("attach: program 7 is already in the chain").
// Fields are set by name: Context::of for an attach/link/detach request, else one by one.
struct Context {
  explicit Context(const char* operation) : op(operation) {}
  // The program, flags and expected revision a request named, and the revision now.
  static Context of(const char* operation, const Request& r, std::uint64_t revision,
                    PyObject* anchor = nullptr);

  const char* op;
  std::uint32_t prog_id = 0;
  std::uint64_t flags = 0;
  std::uint64_t expected_revision = 0;
  std::uint64_t revision = 0;
  PyObject* anchor = nullptr;  // the anchor the caller placed with, if any
};

// The exception for a failed result, not raised (for dry runs).
pybind11::object make_error(const Result& r, const Context& c);
[[noreturn]] void raise_result(const Result& r, const Context& c);
// An error of the package's classes (mprog.errors) with a message of its own.
[[noreturn]] void raise_error(int error, const char* op, const std::string& what,
                              std::uint64_t revision);
[[noreturn]] void raise_value_error(const std::string& what);
[[noreturn]] void raise_type_error(const std::string& what);
// "unclosed <what>" as a ResourceWarning, from a destructor: never throws (a warning turned
// into an error goes to sys.unraisablehook) and keeps any exception already being raised.
void warn_unclosed(const std::string& what);

}  // namespace mprog::python
