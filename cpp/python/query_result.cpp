#include "query_result.hpp"

#include <string>

#include "injected.hpp"

namespace mprog::python {
namespace py = pybind11;
namespace {

// QueryResult's fields, in the order of its __init__'s parameters (and of query_result's).
constexpr const char* kFields[] = {"revision",          "count",
                                   "prog_ids",          "link_ids",
                                   "prog_attach_flags", "link_attach_flags",
                                   "attach_flags"};
constexpr int kFieldCount = sizeof kFields / sizeof kFields[0];

// The field names as interned str objects, made once (leaked, like the injected objects).
PyObject* const* field_names() {
  static PyObject* const* names = [] {
    auto* out = new PyObject*[kFieldCount];
    for (int i = 0; i < kFieldCount; ++i) out[i] = PyUnicode_InternFromString(kFields[i]);
    return out;
  }();
  return names;
}

}  // namespace

void check_query_result_fields(py::handle cls) {
  py::object fields = py::getattr(cls, "__dataclass_fields__", py::none());
  std::string want, got;
  for (const char* f : kFields) want += std::string(want.empty() ? "" : ", ") + f;
  if (!fields.is_none())
    for (py::handle name : fields)
      got += (got.empty() ? "" : ", ") + py::str(name).cast<std::string>();
  if (got != want)
    throw py::type_error("_inject: query_result must be a dataclass with the fields (" + want +
                         "), not (" + got + ")");
  if (!PyType_Check(cls.ptr()) ||
      reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_new != PyBaseObject_Type.tp_new)
    throw py::type_error("_inject: query_result must be a class made by object.__new__");
}

py::object query_result(std::uint64_t revision, std::uint64_t count, py::tuple prog_ids,
                        py::tuple link_ids, py::tuple prog_flags, py::tuple link_flags,
                        std::uint64_t attach_flags) {
  auto* type = reinterpret_cast<PyTypeObject*>(injected().query_result.ptr());
  PyObject* const* names = field_names();
  py::dict fields;
  const py::object values[kFieldCount] = {
      py::int_(revision),   py::int_(count),      std::move(prog_ids),   std::move(link_ids),
      std::move(prog_flags), std::move(link_flags), py::int_(attach_flags)};
  for (int i = 0; i < kFieldCount; ++i)
    if (PyDict_SetItem(fields.ptr(), names[i], values[i].ptr()) < 0) throw py::error_already_set();
  // object.__new__ (QueryResult has no __new__ of its own), then object.__setattr__ of its
  // __dict__: what the frozen dataclass's __init__ does, its own __setattr__ refusing.
  py::object obj = py::reinterpret_steal<py::object>(
      PyBaseObject_Type.tp_new(type, py::tuple().ptr(), nullptr));
  if (!obj) throw py::error_already_set();
  static PyObject* const dict_name = PyUnicode_InternFromString("__dict__");
  if (PyObject_GenericSetAttr(obj.ptr(), dict_name, fields.ptr()) < 0) throw py::error_already_set();
  return obj;
}

}  // namespace mprog::python
