// The one place core errors become Python exceptions (mprog.errors classes).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "mprog/mprog.hpp"

namespace mprog::python {

// What an operation was doing, for the message ("attach: program 7 is already in the chain").
struct Context {
  const char* op;
  std::uint32_t prog_id = 0;
  std::uint64_t flags = 0;
  std::uint64_t expected_revision = 0;
  std::uint64_t revision = 0;
  PyObject* anchor = nullptr;  // the anchor the caller placed with, if any
};

// A module attribute imported once and kept for the life of the process.
pybind11::handle imported(const char* module, const char* name);

// The exception for a failed result, not raised (for dry runs).
pybind11::object make_error(const Result& r, const Context& c);
[[noreturn]] void raise_result(const Result& r, const Context& c);
[[noreturn]] void raise_value_error(const std::string& what);
[[noreturn]] void raise_type_error(const std::string& what);

}  // namespace mprog::python
