// Link operations as Python sees them (Link.update, Link.detach, Link.close). They need no
// bundle argument: the link knows where it is.
#pragma once

#include <pybind11/pybind11.h>

#include "objects.hpp"

namespace mprog::python {

void update_link(LinkObject& link, py::handle new_prog, py::handle flags, py::handle old_prog);
void detach_link(LinkObject& link);
std::string link_repr(const LinkObject& link);

void register_handles(py::module_& m);  // Program and Link (register_handles.cpp)

}  // namespace mprog::python
