// A cgroup bundle as Python sees it (mprog.Bundle("cgroup", parent=...)): the protocol of
// docs/cgroup.md on top of the core's Cgroup (src/cgroup.hpp). BundleObject hands every call
// of a cgroup bundle to this; arguments are converted as for the other dialects
// (arguments.hpp), and the core alone decides the order of checks.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "arguments.hpp"
#include "cgroup.hpp"

namespace mprog::python {

class CgroupObject {
 public:
  // parent: None or an open cgroup bundle (which this one keeps alive).
  CgroupObject(void* owner, py::handle parent);

  void attach(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const RelativeArg& replace, const IntArg& expected_revision);
  py::object link(const ProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
                  const IntArg& expected_revision);
  void detach(const OptionalProgramArg& prog, const FlagsArg& flags, const RelativeArg& relative,
              const IntArg& expected_revision);
  py::object query(const OptionalIntArg& count, py::handle effective) const;
  int run(py::handle ctx) const;  // ALLOW only if every program of the effective array allows
  py::list programs() const;      // the list (not the effective array), in order
  std::uint32_t size() const { return static_cast<std::uint32_t>(core_->entries().size()); }
  std::uint64_t revision() const { return core_->revision(); }
  std::uint32_t mode() const { return core_->mode(); }
  py::object parent() const { return parent_; }
  void close();  // links become detached, programs attached by program are let go
  Cgroup& core() { return *core_; }

 private:
  void take_released();

  py::object parent_;  // held: a parent outlives its children (src/cgroup.hpp)
  std::unique_ptr<Cgroup> core_;
};

}  // namespace mprog::python
