// What the binding needs from the Python package (error classes, QueryResult, Explanation,
// the anchors' expansion). The dependency points one way: mprog/__init__.py hands them over
// once, at import (_core._inject), instead of _core importing mprog modules by name at call
// time. A missing one fails that import, not some later call.
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

struct Injected {
  pybind11::object error;            // mprog.errors.error(errno, op, what, full=..., ...)
  pybind11::object query_too_small;  // mprog.errors.QueryTooSmall
  pybind11::object query_result;     // mprog.query.QueryResult
  pybind11::object explanation;      // mprog.explain.Explanation
  pybind11::object to_request;       // mprog.anchors.to_request
  pybind11::object messages;         // mprog.messages: text(rule, **facts), program(id), ...
  pybind11::object to_cgroup_request;  // mprog.anchors.to_cgroup_request
};

// RuntimeError if mprog has not injected them (only if _core is loaded outside the package).
const Injected& injected();

void register_injection(pybind11::module_& m);  // defines _core._inject

}  // namespace mprog::python
