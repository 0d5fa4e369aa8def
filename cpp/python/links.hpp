// Link operations as Python sees them (Link.update, Link.detach, Link.close). They need no
// bundle argument: the link knows where it is.
#pragma once

#include <pybind11/pybind11.h>

#include "arguments.hpp"
#include "objects.hpp"

namespace mprog::python {

void update_link(LinkObject& link, const ProgramArg& new_prog, const IntArg& flags,
                 const OptionalProgramArg& old_prog);
void detach_link(LinkObject& link);
std::string link_repr(const LinkObject& link);

void register_handles(py::module_& m);  // Program and Link (register_handles.cpp)

}  // namespace mprog::python
