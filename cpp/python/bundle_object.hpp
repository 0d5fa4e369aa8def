// Bundle as Python sees it: the protocol of docs/protocol.md on top of mprog::Bundle.
// Arguments are converted by arguments.hpp; the core alone decides the order of checks.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "arguments.hpp"
#include "cgroup_object.hpp"
#include "mprog/mprog.hpp"
#include "objects.hpp"
#include "watchers.hpp"

namespace mprog::python {

// What an operation does when the core refuses it: raise its MprogError (the Python methods),
// or hand the failed Result back (the batch executor, executor.cpp, which compares errnos and
// would pay more for building the exception than for the operation). Arguments the binding
// itself rejects (TypeError, ValueError) raise either way.
enum class Refusal { raise, keep };

class BundleObject {
 public:
  // dialect: a str (TypeError), known (ValueError); parent: only for "cgroup" (ValueError).
  BundleObject(py::handle dialect, py::handle parent);
  ~BundleObject();

  void attach(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const RelativeArg& replace, const IntArg& expected_revision);
  py::object link(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
                  const IntArg& expected_revision);
  void detach(const OptionalProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const IntArg& expected_revision);
  // The same, with the core's refusal handled as `refusal` says; link's new Link goes to `made`.
  Result attach_result(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
                       const RelativeArg& replace, const IntArg& expected_revision,
                       Refusal refusal);
  Result link_result(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
                     const IntArg& expected_revision, py::object& made, Refusal refusal);
  Result detach_result(const OptionalProgramArg& prog, const FlagsArg& flags,
                       const RelativeArg& relative, const IntArg& expected_revision,
                       Refusal refusal);
  // count=None answers from kept_query_ while the chain is as it was: a QueryResult is
  // immutable, and most queries find no change (daemons poll; the fuzzer asks after every op).
  py::object query(const OptionalIntArg& count, py::handle effective = py::handle()) const;
  py::object explain(const std::string& op, const OptionalProgramArg& prog, const FlagsArg& flags,
                     const RelativeArg& relative, const RelativeArg& replace,
                     const IntArg& expected_revision) const;
  py::object watch(const WatcherArg& callback);
  void unwatch(const WatcherArg& callback);

  int run(py::handle ctx) const;
  py::list programs() const;  // a consistent snapshot, in order
  std::uint32_t size() const {
    check_open();
    return cgroup_ ? cgroup_->size() : core_.size();
  }
  std::uint64_t revision() const {
    check_open();
    return cgroup_ ? cgroup_->revision() : core_.revision();
  }
  const char* dialect() const { return cgroup_ ? "cgroup" : dialect_name(core_.dialect()); }
  // The cgroup dialect: this bundle's cgroup (nullptr for a chain), and its parent.
  CgroupObject* cgroup() const { return cgroup_.get(); }
  py::object parent() const { return cgroup_ ? cgroup_->parent() : py::none(); }
  // explain/watch/transaction: not offered by the cgroup dialect (NotImplementedError).
  void check_offered(const char* what) const;
  void close();
  bool closed() const { return closed_; }
  std::string repr() const;

  // Used by links and transactions, which change the chain from outside these methods.
  Bundle& core() { return core_; }
  const Bundle& core() const { return core_; }
  void changed();  // after every committed change: tell the watchers
  void check_open() const;
  // Arguments for an operation on this bundle (ValueError if it is closed).
  Arguments arguments(py::handle flags, py::handle relative, py::handle replace,
                      py::handle expected_revision, bool replace_is_relative) const;

 private:
  void take_released();
  py::object state() const;  // the whole chain's QueryResult, for the watchers

  Bundle core_;  // unused by a cgroup bundle
  std::unique_ptr<CgroupObject> cgroup_;
  bool closed_ = false;
  Watchers watchers_;
  // query()'s last whole answer and core_.generation() when it was made (the generation
  // counts every committed change; the revision starts again at 1 and would not tell).
  mutable py::object kept_query_;
  mutable std::uint64_t kept_generation_ = 0;
};

void register_bundle(py::module_& m);

}  // namespace mprog::python

MPROG_PY_INITIALIZED_ONLY(mprog::python::BundleObject)
