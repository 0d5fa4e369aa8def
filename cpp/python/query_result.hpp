// mprog.query.QueryResult instances made by the binding (Bundle.query, a cgroup's query, the
// watchers' states, QueryTooSmall's partial result).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

namespace mprog::python {

// A tuple of ints, each one `value(i)` for i in [0, n).
template <class Value>
pybind11::tuple int_tuple(std::uint32_t n, Value value) {
  PyObject* t = PyTuple_New(n);
  if (!t) throw pybind11::error_already_set();
  pybind11::tuple out = pybind11::reinterpret_steal<pybind11::tuple>(t);
  for (std::uint32_t i = 0; i < n; ++i) {
    PyObject* v = PyLong_FromUnsignedLongLong(value(i));
    if (!v) throw pybind11::error_already_set();
    PyTuple_SET_ITEM(t, i, v);
  }
  return out;
}

// QueryResult(revision, count, prog_ids, link_ids, prog_attach_flags, link_attach_flags,
// attach_flags), made as its __init__ makes it (the fields as the instance's own dict, whole)
// without calling it: a Python __init__ was most of a query's cost from Python.
pybind11::object query_result(std::uint64_t revision, std::uint64_t count,
                              pybind11::tuple prog_ids, pybind11::tuple link_ids,
                              pybind11::tuple prog_flags, pybind11::tuple link_flags,
                              std::uint64_t attach_flags = 0);

// At _inject: checks that `cls` has the fields query_result fills, in that order (TypeError
// otherwise, so a QueryResult that gained a field fails the import of mprog, not a query).
void check_query_result_fields(pybind11::handle cls);

}  // namespace mprog::python
