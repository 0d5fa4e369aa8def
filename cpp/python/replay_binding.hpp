// mprog._core.replay: the batch entry point (trace replay, cpp/include/mprog/replay.hpp).
#pragma once

#include <pybind11/pybind11.h>

namespace mprog::python {

// A contiguous read-only view of a Python buffer, released on every path.
class Bytes {
 public:
  explicit Bytes(pybind11::handle obj) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) throw pybind11::error_already_set();
  }
  ~Bytes() { PyBuffer_Release(&view_); }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  const char* data() const { return static_cast<const char*>(view_.buf); }
  std::size_t size() const { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

void bind_replay(pybind11::module_& m);

}  // namespace mprog::python
