// pybind11 registration of Bundle: names, parameters, docstrings. Behaviour lives in
// bundle_object.cpp.
#include "bundle_object.hpp"
#include "transaction_object.hpp"

namespace mprog::python {

void register_bundle(py::module_& m) {
  py::class_<BundleObject>(m, "Bundle", "A chain of up to 63 programs at one hook, with the "
                                        "kernel's bpf_mprog rules (docs/protocol.md).")
      .def(py::init<StrArg, OptionalBundleArg>(), py::arg("dialect") = "upstream",
           py::arg("parent") = py::none(),
           "dialect: 'upstream' (tcx), 'v2' or 'cgroup' (docs/cgroup.md: one cgroup's list "
           "for one attach type; parent: None or the cgroup Bundle above it).")
      .def("attach", &BundleObject::attach, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0,
           "Attach prog by program (BPF_PROG_ATTACH). flags: Flag bits or an anchor (Head(), "
           "Before(q), ...); relative: a Program, a Link, an id (with ID) or None; replace: the "
           "program REPLACE swaps out; expected_revision: 0 or the revision the chain must be at.")
      .def("link", &BundleObject::link, py::arg("prog"), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0,
           "Attach prog through a new Link (BPF_LINK_CREATE) and return the link.")
      .def("detach", &BundleObject::detach, py::arg("prog") = py::none(), py::arg("flags") = 0,
           py::arg("relative") = py::none(), py::arg("expected_revision") = 0,
           "Detach a program attached by program (BPF_PROG_DETACH); prog=None detaches the one "
           "the flags and relative name.")
      .def("query", [](const BundleObject& b, const OptionalIntArg& count, const BoolArg& effective) {
             return b.query(count, effective);
           }, py::arg("count") = py::none(), py::arg("effective") = false,
           "The chain as a QueryResult; count=None: all of it. A count smaller than the chain "
           "raises QueryTooSmall with the first count entries in .partial. effective=True "
           "(cgroup only): the effective array the cgroup runs, with revision 0.")
      .def("run", &BundleObject::run, py::arg("ctx") = py::none(),
           "Call each program's fn(ctx) in order until one returns something other than NEXT.")
      .def("programs", &BundleObject::programs, "The Programs in the chain, in order (a snapshot).")
      .def("explain", &BundleObject::explain, py::arg("op"), py::arg("prog") = py::none(),
           py::arg("flags") = 0, py::arg("relative") = py::none(), py::arg("replace") = py::none(),
           py::arg("expected_revision") = 0,
           "Dry run: what attach/detach would do now (an Explanation), changing nothing.")
      .def("watch", &BundleObject::watch, py::arg("callback"),
           "Call callback(old, new) (QueryResults) after every committed change.")
      .def("unwatch", &BundleObject::unwatch, py::arg("callback"), "Stop calling callback.")
      .def("transaction", [](py::object self, const IntArg& expected_revision) {
             self.cast<BundleObject&>().check_offered("transaction");
             return TransactionObject(self, expected_revision);
           }, py::arg("expected_revision") = 0,
           "Operations applied as one change on commit (or at the end of a with block).")
      .def_property_readonly("revision", &BundleObject::revision,
                             "Steps by one per change; a chain emptied (upstream) starts again at 1.")
      .def_property_readonly("dialect", &BundleObject::dialect)
      .def_property_readonly("parent", &BundleObject::parent,
                             "The cgroup Bundle above this one (cgroup dialect), else None.")
      .def_property_readonly("closed", &BundleObject::closed)
      .def("close", &BundleObject::close,
           "Release what the bundle holds: links become detached (they stay open), programs "
           "attached by program are let go. Afterwards only close() and dialect work.")
      .def("__len__", &BundleObject::size)
      .def("__iter__", [](const BundleObject& b) { return py::iter(b.programs()); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](BundleObject& b, py::args) { b.close(); })
      .def("__repr__", &BundleObject::repr);
}

}  // namespace mprog::python
