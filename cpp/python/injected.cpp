#include "injected.hpp"

#include "query_result.hpp"

#include <initializer_list>
#include <string>

namespace mprog::python {
namespace py = pybind11;
namespace {

// Leaked on purpose: objects held past the interpreter's end must not be released then.
Injected* slot = nullptr;

py::object callable(py::handle value, const char* name) {
  if (!PyCallable_Check(value.ptr()))
    throw py::type_error(std::string("_inject: ") + name + " must be callable");
  return py::reinterpret_borrow<py::object>(value);
}

py::object module_with(py::handle value, const char* name, std::initializer_list<const char*> attrs) {
  for (const char* a : attrs)
    if (!py::hasattr(value, a) || !PyCallable_Check(value.attr(a).ptr()))
      throw py::type_error(std::string("_inject: ") + name + " has no callable " + a);
  return py::reinterpret_borrow<py::object>(value);
}

void inject(py::handle error, py::handle query_too_small, py::handle query_result,
            py::handle explanation, py::handle to_request, py::handle messages,
            py::handle to_cgroup_request) {
  // (callable first: its message is the plainer one for a value that is no class at all)
  check_query_result_fields(callable(query_result, "query_result"));
  auto* next = new Injected{callable(error, "error"), callable(query_too_small, "query_too_small"),
                            callable(query_result, "query_result"),
                            callable(explanation, "explanation"), callable(to_request, "to_request"),
                            module_with(messages, "messages", {"text", "program", "link", "unplaced"}),
                            callable(to_cgroup_request, "to_cgroup_request")};
  delete slot;  // a second injection (a reload) replaces the first
  slot = next;
}

}  // namespace

const Injected& injected() {
  if (!slot) throw std::runtime_error("mprog._core is used without the mprog package (import mprog)");
  return *slot;
}

void register_injection(py::module_& m) {
  m.def("_inject", &inject, py::kw_only(), py::arg("error"), py::arg("query_too_small"),
        py::arg("query_result"), py::arg("explanation"), py::arg("to_request"), py::arg("messages"),
        py::arg("to_cgroup_request"),
        "Called once by mprog/__init__.py: what the binding uses of the Python package. Every\n"
        "argument is required, so a missing one fails the import of mprog.");
}

}  // namespace mprog::python
