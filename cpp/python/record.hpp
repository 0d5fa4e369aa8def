// mprog._core.record: the 16-byte record (mprog::replay::Op) of one operation of the
// vocabulary (mprog.ops), by label, for mprog._core.Executor; None where a record cannot say
// it. mprog.batch.record is this function; its docstring says what a record holds.
//
// The differential engine encodes every op of a campaign before it queues it, and the same
// work in Python was about 4% of a campaign's instructions. The encoder sits beside the
// decoder it feeds (executor.cpp), in the C API with no pybind11 dispatch: it is called once
// per op and does a handful of dict lookups.
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_record(pybind11::module_& m);

}  // namespace mprog::python
