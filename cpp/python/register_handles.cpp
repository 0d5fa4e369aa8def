// pybind11 registration of Program and Link: names, parameters, docstrings. Behaviour lives
// in objects.cpp and links.cpp.
#include "links.hpp"

namespace mprog::python {

void register_handles(py::module_& m) {
  py::class_<ProgramObject>(m, "Program", "A program handle: a name, an optional callable, and an "
                                          "id that query reports.")
      .def(py::init([](const StrArg& name, const ProgramFnArg& fn, const StrArg& dialect) {
             return new ProgramObject(name, py::reinterpret_borrow<py::object>(fn), dialect);
           }),
           py::arg("name") = "", py::arg("fn") = py::none(), py::arg("dialect") = "upstream",
           "fn(ctx) -> int is what Bundle.run calls; NEXT (-1) hands on to the next program. "
           "dialect: the kind of program, a tcx one ('upstream', 'v2') or a cgroup one "
           "('cgroup'); a bundle takes only its own kind where the kernel checks it.")
      .def_property_readonly("id", [](const ProgramObject& p) { return p.core.id; },
                             "Unique within the process, never reused (> 0).")
      .def_readonly("name", &ProgramObject::name)
      .def_readonly("dialect", &ProgramObject::dialect)
      .def_readonly("fn", &ProgramObject::fn)
      .def_readonly("closed", &ProgramObject::closed)
      .def("close", &ProgramObject::close,
           "Close the handle (like an fd): it can no longer be named by handle, but the program "
           "lives on (and can be named by id) while a chain or an open link holds it.")
      .def("__repr__", [](const ProgramObject& p) {
        return "Program(id=" + std::to_string(p.core.id) + ", name=" + py::repr(py::str(p.name)).cast<std::string>() +
               (p.closed ? ", closed" : "") + ")";
      });

  py::class_<LinkObject>(m, "Link", "A link: owns the slot its program was attached to. Made by "
                                    "Bundle.link.")
      .def_property_readonly("id", [](const LinkObject& l) { return l.core.id; },
                             "Own id space, counting from 1, never reused.")
      .def_readonly("prog", &LinkObject::prog, "The link's current program.")
      .def_property_readonly("attached", [](const LinkObject& l) { return l.core.attached(); })
      .def_readonly("closed", &LinkObject::closed)
      .def("update", &update_link, py::arg("new_prog"), py::arg("flags") = 0,
           py::arg("old_prog") = py::none(),
           "Swap the link's program in place (revision +1). With flags=REPLACE, old_prog must be "
           "the link's current program (else EPERM).")
      .def("detach", &detach_link, "Detach from the chain; the link stays open (a detached "
                                   "link: success, no change).")
      .def("close", &LinkObject::close, "Release the link; detaches it if attached.")
      .def("__enter__", [](py::object self) { return self; })
      .def("keep", [](py::object self) {
             self.cast<LinkObject&>().kept = true;
             return self;
           }, "Outlive the with block: the link stays until close() or until it is dropped.")
      .def("__exit__", [](LinkObject& l, py::args) {
        if (!l.kept) l.close();
      })
      .def("__repr__", &link_repr);
}

}  // namespace mprog::python
