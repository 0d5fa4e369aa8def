// pybind11 glue only: names, arguments and docstrings. Behaviour lives in bundle_object.cpp.
#include <pybind11/pybind11.h>

#include "bundle_object.hpp"
#include "objects.hpp"
#include "replay_binding.hpp"

namespace py = pybind11;
using mprog::python::BundleObject;
using mprog::python::LinkObject;
using mprog::python::ProgramObject;
using mprog::python::TransactionObject;

PYBIND11_MODULE(_core, m) {
  m.doc() = "mprog's C++ core (private: use the mprog package)";

  py::class_<ProgramObject>(m, "Program")
      .def(py::init<std::string, py::object>(), py::arg("name") = "", py::arg("fn") = py::none())
      .def_property_readonly("id", [](const ProgramObject& p) { return p.core.id; })
      .def_readonly("name", &ProgramObject::name)
      .def_readonly("fn", &ProgramObject::fn)
      .def_readonly("closed", &ProgramObject::closed)
      .def("close", [](ProgramObject& p) { p.closed = true; }, "Close the handle (like an fd).")
      .def("__repr__", [](const ProgramObject& p) {
        return "Program(id=" + std::to_string(p.core.id) + ", name=" + py::repr(py::str(p.name)).cast<std::string>() +
               (p.closed ? ", closed" : "") + ")";
      });

  py::class_<LinkObject>(m, "Link")
      .def_property_readonly("id", [](const LinkObject& l) { return l.core.id; })
      .def_readonly("prog", &LinkObject::prog)
      .def_property_readonly("attached", [](const LinkObject& l) { return l.core.attached(); })
      .def_readonly("closed", &LinkObject::closed)
      .def("update", &mprog::python::update_link, py::arg("new_prog"), py::arg("flags") = 0,
           py::arg("old_prog") = py::none())
      .def("detach", &mprog::python::detach_link)
      .def("close", &LinkObject::close, "Release the link; detaches it if attached.")
      .def("__enter__", [](py::object self) { return self; })
      .def("keep", [](py::object self) {
             self.cast<LinkObject&>().kept = true;
             return self;
           }, "Outlive the with block: the link stays until close() or until it is dropped.")
      .def("__exit__", [](LinkObject& l, py::args) {
        if (!l.kept) l.close();
      })
      .def("__repr__", [](const LinkObject& l) {
        return "Link(id=" + std::to_string(l.core.id) + ", prog=" + std::to_string(l.core.prog->id) +
               (l.closed ? ", closed" : l.core.attached() ? "" : ", detached") + ")";
      });

  py::class_<TransactionObject>(m, "Transaction")
      .def("attach", &TransactionObject::attach, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0)
      .def("detach", &TransactionObject::detach, py::arg("prog") = py::none(), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0)
      .def("commit", &TransactionObject::commit)
      .def("discard", &TransactionObject::discard)
      .def("programs", &TransactionObject::programs)
      .def("__len__", &TransactionObject::size)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](TransactionObject& t, py::handle type, py::handle, py::handle) {
        if (type.is_none()) t.commit();
        else t.discard();
      });

  py::class_<BundleObject>(m, "Bundle")
      .def(py::init<const std::string&>(), py::arg("dialect") = "upstream")
      .def("attach", &BundleObject::attach, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0)
      .def("link", &BundleObject::link, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0)
      .def("detach", &BundleObject::detach, py::arg("prog") = py::none(), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0)
      .def("query", &BundleObject::query, py::arg("count") = py::none())
      .def("run", &BundleObject::run, py::arg("ctx") = py::none())
      .def("programs", &BundleObject::programs)
      .def("explain", &BundleObject::explain, py::arg("op"), py::arg("prog") = py::none(),
           py::arg("flags") = 0, py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0,
           "Dry run: what attach/detach would do now (an Explanation), changing nothing.")
      .def("watch", &BundleObject::watch, py::arg("callback"),
           "Call callback(old, new) (QueryResults) after every committed change.")
      .def("unwatch", &BundleObject::unwatch, py::arg("callback"))
      .def("transaction", [](py::object self, py::handle expected_revision) {
             return TransactionObject(self, expected_revision);
           }, py::arg("expected_revision") = 0,
           "Operations applied as one change on commit (or at the end of a with block).")
      .def_property_readonly("revision", &BundleObject::revision)
      .def_property_readonly("dialect", &BundleObject::dialect)
      .def_property_readonly("closed", &BundleObject::closed)
      .def("close", &BundleObject::close)
      .def("__len__", &BundleObject::size)
      .def("__iter__", [](const BundleObject& b) { return py::iter(b.programs()); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](BundleObject& b, py::args) { b.close(); });

  mprog::python::bind_replay(m);
}
