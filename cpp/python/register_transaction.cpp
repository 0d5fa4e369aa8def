// pybind11 registration of Transaction: names, parameters, docstrings. Behaviour lives in
// transaction_object.cpp.
#include "transaction_object.hpp"

namespace mprog::python {

void register_transaction(py::module_& m) {
  py::class_<TransactionObject>(m, "Transaction",
                                "Several attach/detach operations committed as one change. Made "
                                "by Bundle.transaction; a with block commits at its end, or "
                                "discards if it raised.")
      .def("attach", &TransactionObject::attach, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0,
           "Stage an attach, checked now against the chain as the operations before it left it.")
      .def("detach", &TransactionObject::detach, py::arg("prog") = py::none(), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0,
           "Stage a detach, checked now against the chain as the operations before it left it.")
      .def("commit", &TransactionObject::commit,
           "Install the staged chain as one change; StaleRevision if the bundle changed since "
           "the transaction began.")
      .def("discard", &TransactionObject::discard, "Drop the staged operations.")
      .def("programs", &TransactionObject::programs, "The staged chain's Programs, in order.")
      .def("__len__", &TransactionObject::size)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](TransactionObject& t, py::handle type, py::handle, py::handle) {
        if (type.is_none()) t.commit();
        else t.discard();
      });
}

}  // namespace mprog::python
