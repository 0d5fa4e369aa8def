// mprog._core.handle_states: what a full snapshot reads of the core's handles, in one call.
//
// The differential engine's full check (mprog.ops.Interpreter.snapshot) reads, after every
// step, every program's `closed`, every link's `attached`, `closed` and `prog`, and the
// bundle's iteration. Through Python that is one property call per field per handle, most of
// a full-check trace's time; this reads the same fields those properties return
// (register_handles.cpp) and the list Bundle.__iter__ iterates (BundleObject::programs).
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_handle_states(pybind11::module_& m);

}  // namespace mprog::python
