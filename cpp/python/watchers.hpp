// The callables a bundle tells (old, new) after each committed change (Bundle.watch).
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

namespace py = pybind11;

class Watchers {
 public:
  bool empty() const { return callbacks_.empty(); }
  // `now` is the chain's QueryResult: the "old" the first change will be told.
  void add(py::object callback, py::object now);
  void remove(py::handle callback);  // ValueError if it is not watching
  // Tells each watcher (the state it was last told, now). The change is already committed,
  // so a watcher that raises cannot make it look failed: its exception goes to
  // sys.unraisablehook and the others are still told (this also runs from destructors,
  // where an exception must not escape). A watcher may unwatch itself.
  void tell(py::object now);
  // The bundle closes: tell them `last` (unless it is None) and forget them all. They are
  // forgotten first, so one that raises or watches again cannot keep itself.
  void close(py::object last);

 private:
  void tell_each(const py::list& callbacks, py::object now);  // a copy: one may unwatch

  py::list callbacks_;
  py::object told_;  // what they were last told
};

}  // namespace mprog::python
