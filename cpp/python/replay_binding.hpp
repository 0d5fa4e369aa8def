// mprog._core.replay: the batch entry point (trace replay, cpp/include/mprog/replay.hpp).
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_replay(pybind11::module_& m);

}  // namespace mprog::python
