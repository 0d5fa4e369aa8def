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

}  // namespace mprog::python
