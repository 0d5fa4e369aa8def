// What the batched differential engine asks of each op before it queues it for
// mprog._core.Executor:
// - mprog._core.record(op): its 16-byte record (mprog::replay::Op), by label; None where a
//   record cannot say it. mprog.batch.record is this function; batch.py says what a record
//   holds.
// - mprog._core.label_check(progs, links, txs, made, transactions) -> known(op): whether the
//   op names only labels that exist and makes the next ones (BatchedTrial._known).
//
// Both run once per op of a campaign, and in Python they were about 3% and 1.5% of a campaign's
// instructions. They sit beside the decoder they feed (executor.cpp), in the C API with no
// pybind11 dispatch: each is a handful of dict and set lookups.
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

void bind_record(pybind11::module_& m);

// The same two, called from C++ (the engine's usual step, stepper.cpp):
// record(op): a new reference (bytes or None), or nullptr with the error set.
PyObject* record_op(PyObject* op);

// The labels a known(op) reads (label_check's arguments): the sets of programs, links and
// transactions made, the list [programs, links] of labels the executor's lists will hold
// (the next ones made must be those), and whether the backends have transactions.
struct LabelSets {
  PyObject *progs, *links, *txs, *made, *transactions;
};

// known(op): 1, 0, or -1 with the error set.
int labels_known(PyObject* op, const LabelSets& labels);

}  // namespace mprog::python
