// mprog._core.Executor: batch records (mprog::replay::Op, built by mprog.batch) run against a
// Python-visible Bundle and its Program/Link objects, through the binding's own methods.
//
// The differential engine (python/mprog/differential/batched.py) runs the reference model op
// by op in Python and the core's ops in batches here: one call per batch returns, per op, the
// normalized answer and the state digest in exactly the form mprog.ops.Interpreter builds them
// for the model, so the engine compares whole lists with one `==`. Unlike _core.replay (a
// private Session with its own handles), the executor drives the same BundleObject, argument
// conversion, handle rules and ids that Python calls use, so the binding stays under test and
// the engine can switch to op-by-op calls on the same objects at any point.
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_executor(pybind11::module_& m);

}  // namespace mprog::python
