#include "watchers.hpp"

#include "raise.hpp"

namespace mprog::python {

void Watchers::add(py::object callback, py::object now) {
  if (!PyCallable_Check(callback.ptr())) raise_type_error("watch: the callback must be callable");
  if (callbacks_.empty()) told_ = std::move(now);
  callbacks_.append(std::move(callback));
}

void Watchers::remove(py::handle callback) { callbacks_.attr("remove")(callback); }

void Watchers::tell(py::object now) { tell_each(py::list(callbacks_), std::move(now)); }

void Watchers::close(py::object last) {
  py::list callbacks = callbacks_;
  callbacks_ = py::list();
  if (!last.is_none()) tell_each(callbacks, std::move(last));
  told_ = py::object();
}

void Watchers::tell_each(const py::list& callbacks, py::object now) {
  py::object before = told_;
  told_ = now;
  for (py::handle w : callbacks) {
    try {
      w(before, now);
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("mprog watcher");
    }
  }
}

}  // namespace mprog::python
