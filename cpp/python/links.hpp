// Link operations as Python sees them (Link.update, Link.detach, Link.close). They need no
// bundle argument: the link knows where it is.
#pragma once

#include <pybind11/pybind11.h>

#include "arguments.hpp"
#include "bundle_object.hpp"
#include "objects.hpp"

namespace mprog::python {

void update_link(LinkObject& link, const ProgramArg& new_prog, const IntArg& flags,
                 const OptionalProgramArg& old_prog);
void detach_link(LinkObject& link);
// The same, with the core's refusal handled as `refusal` says (bundle_object.hpp).
Result update_link_result(LinkObject& link, const ProgramArg& new_prog, const IntArg& flags,
                          const OptionalProgramArg& old_prog, Refusal refusal);
Result detach_link_result(LinkObject& link, Refusal refusal);
std::string link_repr(const LinkObject& link);

void register_handles(py::module_& m);  // Program and Link (register_handles.cpp)

}  // namespace mprog::python
