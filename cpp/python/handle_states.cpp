// mprog._core.handle_states (handle_states.hpp).
#include "handle_states.hpp"

#include <optional>

#include <pybind11/stl.h>

#include "bundle_object.hpp"
#include "objects.hpp"

namespace mprog::python {
namespace {

// (closed per program, (attached, closed, program id or None) per link, ids in the order the
// bundle iterates its programs or None when no bundle is given).
py::tuple handle_states(const py::list& programs, const py::list& links,
                        std::optional<py::object> bundle) {
  py::list closed(programs.size());
  for (std::size_t i = 0; i < programs.size(); ++i)
    closed[i] = py::bool_(unwrap<ProgramObject>(programs[i]).closed);
  py::list link_states(links.size());
  for (std::size_t i = 0; i < links.size(); ++i) {
    const LinkObject& l = unwrap<LinkObject>(links[i]);
    py::object prog = l.prog.is_none() ? py::object(py::none())
                                       : py::object(py::int_(as_program(l.prog).core.id));
    link_states[i] = py::make_tuple(py::bool_(l.core.attached()), py::bool_(l.closed), prog);
  }
  py::object listed = py::none();
  if (bundle && !bundle->is_none()) {
    const py::list in_order = bundle->cast<const BundleObject&>().programs();
    py::list ids(in_order.size());
    for (std::size_t i = 0; i < in_order.size(); ++i)
      ids[i] = py::int_(unwrap<ProgramObject>(in_order[i]).core.id);
    listed = std::move(ids);
  }
  return py::make_tuple(std::move(closed), std::move(link_states), std::move(listed));
}

}  // namespace

void bind_handle_states(py::module_& m) {
  m.def("handle_states", &handle_states, py::arg("programs"), py::arg("links"),
        py::arg("bundle") = py::none(),
        "(closed per program, (attached, closed, program id or None) per link, the ids of "
        "list(bundle) or None): what Program.closed, Link.attached/closed/prog and "
        "iter(bundle) say, read in one call (the engine's full snapshot).");
}

}  // namespace mprog::python
