// Several attach/detach operations committed as one change (mprog::Transaction), as Python
// sees it: Bundle.transaction().
#pragma once

#include <pybind11/pybind11.h>

#include "bundle_object.hpp"
#include "mprog/mprog.hpp"

namespace mprog::python {

class TransactionObject {
 public:
  TransactionObject(py::object bundle, const IntArg& expected_revision);
  void attach(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const RelativeArg& replace, const IntArg& expected_revision) {
    attach_result(prog, flags, relative, replace, expected_revision, Refusal::raise);
  }
  void detach(const OptionalProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const IntArg& expected_revision) {
    detach_result(prog, flags, relative, expected_revision, Refusal::raise);
  }
  void commit() { commit_result(Refusal::raise); }
  // The same, the core's refusal handed back instead of raised with Refusal::keep (the batch
  // executor, executor.cpp, as BundleObject's *_result); argument errors still raise.
  Result attach_result(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
                       const RelativeArg& replace, const IntArg& expected_revision,
                       Refusal refusal);
  Result detach_result(const OptionalProgramArg& prog, const FlagsArg& flags,
                       const RelativeArg& relative, const IntArg& expected_revision,
                       Refusal refusal);
  Result commit_result(Refusal refusal);
  void discard() { done_ = true; }
  py::list programs() const;
  std::uint32_t size() const { return tx_.size(); }

 private:
  BundleObject& bundle() const { return bundle_.cast<BundleObject&>(); }
  static Bundle& open_core(py::handle bundle);  // ValueError if the bundle is closed
  void check_open() const;

  py::object bundle_;
  // Everything the scratch chain points at (the programs and links it started from, the
  // programs staged since), held for the transaction's whole life (docs/lifetimes.md).
  py::list held_;
  Transaction tx_;
  std::uint64_t expected_revision_;
  bool done_ = false;
};

void register_transaction(py::module_& m);

}  // namespace mprog::python

MPROG_PY_INITIALIZED_ONLY(mprog::python::TransactionObject)
