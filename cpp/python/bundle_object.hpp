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
  py::object explain(const std::string& op, py::handle prog, py::handle flags, py::handle relative,
                     py::handle replace, py::handle expected_revision) const;
  py::object watch(py::object callback);
  void unwatch(py::handle callback);

  int run(py::handle ctx) const;
  py::list programs() const;  // a consistent snapshot, in order
  std::uint32_t size() const {
    check_open();
    return core_.size();
  }
  std::uint64_t revision() const {
    check_open();
    return core_.revision();
  }
  const char* dialect() const { return core_.dialect() == Dialect::v2 ? "v2" : "upstream"; }
  void close();
  bool closed() const { return closed_; }

  // Used by links and transactions, which change the chain from outside these methods.
  Bundle& core() { return core_; }
  void changed();  // after every committed change: tell the watchers
  void check_open() const;
  // flags/relative/replace as the caller gave them, an anchor turned into them.
  struct Args {
    Request request;
    PyObject* anchor = nullptr;  // the caller's anchor (borrowed for the call), if any
    // An anchor's (flags, relative, replace), kept alive while the request points into it.
    // Plain int flags need nothing kept: the caller's arguments outlive the call.
    py::object expanded;
  };
  // v2 under REPLACE: attach's replace= is the relative (one shared field in the v2 ABI);
  // link create and detach have no replace= and keep their relative.
  Args arguments(py::handle flags, py::handle relative, py::handle replace,
                 py::handle expected_revision, bool replace_is_relative) const;
  // The program argument of attach/detach (prog may be None for detach).
  static Ref<Program> program_argument(py::handle prog, bool optional);

 private:
  void take_released();
  void notify(py::object now);

  Bundle core_;
  bool closed_ = false;
  py::list watchers_;
  py::object last_state_;
};

// Several attach/detach operations committed as one change (mprog::Transaction).
class TransactionObject {
 public:
  TransactionObject(py::object bundle, py::handle expected_revision);
  void attach(py::handle prog, py::handle flags, py::handle relative, py::handle replace,
              py::handle expected_revision);
  void detach(py::handle prog, py::handle flags, py::handle relative, py::handle expected_revision);
  void commit();
  void discard() { done_ = true; }
  py::list programs() const;
  std::uint32_t size() const { return tx_.size(); }

 private:
  BundleObject& bundle() const { return bundle_.cast<BundleObject&>(); }
  static Bundle& open_core(py::handle bundle);  // ValueError if the bundle is closed
  void check_open() const;

  py::object bundle_;
  py::list staged_;  // programs the scratch chain points at, kept alive until commit/discard
  Transaction tx_;
  std::uint64_t expected_revision_;
  bool done_ = false;
};

// Link operations (they need no bundle: the link knows where it is).
void update_link(LinkObject& link, py::handle new_prog, py::handle flags, py::handle old_prog);
void detach_link(LinkObject& link);

}  // namespace mprog::python
