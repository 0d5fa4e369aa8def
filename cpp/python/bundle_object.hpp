// Bundle as Python sees it: the protocol of docs/protocol.md on top of mprog::Bundle.
// Arguments are looked up here (handles, ids, closed state) and handed to the core as
// Ref/Relative values, so that the core alone decides the order of checks.
#pragma once

#include <pybind11/pybind11.h>

#include "mprog/mprog.hpp"
#include "objects.hpp"

namespace mprog::python {

class BundleObject {
 public:
  explicit BundleObject(const std::string& dialect);
  ~BundleObject();

  void attach(py::handle prog, py::handle flags, py::handle relative, py::handle replace,
              py::handle expected_revision);
  py::object link(py::handle prog, py::handle flags, py::handle relative,
                  py::handle expected_revision);
  void detach(py::handle prog, py::handle flags, py::handle relative, py::handle expected_revision);
  py::object query(py::handle count) const;

  int run(py::handle ctx) const;
  py::list programs() const;  // a consistent snapshot, in order
  std::uint32_t size() const { return core_.size(); }
  std::uint64_t revision() const { return core_.revision(); }
  const char* dialect() const { return core_.dialect() == Dialect::v2 ? "v2" : "upstream"; }
  void close();
  bool closed() const { return closed_; }

 private:
  Request request(py::handle flags, py::handle relative, py::handle expected_revision) const;
  void check_open() const;
  void take_released();

  Bundle core_;
  bool closed_ = false;
};

// Link operations (they need no bundle: the link knows where it is).
void update_link(LinkObject& link, py::handle new_prog, py::handle flags, py::handle old_prog);
void detach_link(LinkObject& link);

}  // namespace mprog::python
