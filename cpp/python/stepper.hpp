// mprog._core._Stepper: the batched differential engine's usual step, in C.
//
// BatchedTrial.step (python/mprog/differential/batched.py) is the rule: it encodes an op,
// runs it on the model, checks what the model's state did, queues the op for the core
// (mprog._core.Executor) and learns the labels it made. Most ops of a campaign take the same
// short way through it (an op a record says, labels that exist, a model answer with no
// protocol problem, a state that did not move or moved the usual way), and that way costs
// a campaign more in Python's own work than in the model's. A Stepper takes that way for
// the trial it is made for, with the same reads and writes in the same order; at the first
// sign of anything else it hands the op to the rule: before the model ran, to
// BatchedTrial.step; after, to BatchedTrial._after_model, which does the rest as the rule
// does. So the rule stays in Python, and this file is only its fast path.
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_stepper(pybind11::module_& m);

}  // namespace mprog::python
