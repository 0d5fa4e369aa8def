// Bound classes refuse an instance whose C++ object was never made.
//
// T.__new__(T) makes a Python instance without running __init__, and pybind11's caster then
// allocates raw storage for the missing object and hands it out as if it were one
// (type_caster_generic::load_value): a method or property of such an instance read
// uninitialized members (reading a py::object member crashed the interpreter). Each class we
// bind declares MPROG_PY_INITIALIZED_ONLY(T) right after its definition, before any use, so
// its caster, wherever an instance is passed (as self or as an argument), refuses one that
// was never initialized with a TypeError instead.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace mprog::python {

// TypeError if `src` is an instance of `type` (or a subclass) whose C++ object was never made.
inline void check_initialized(pybind11::handle src, PyTypeObject* type) {
  if (!PyObject_TypeCheck(src.ptr(), type)) return;  // not ours: the caster says what it is
  auto* inst = reinterpret_cast<pybind11::detail::instance*>(src.ptr());
  bool made = true;
  if (inst->simple_layout) {
    made = inst->simple_holder_constructed;
  } else {
    for (auto v_h : pybind11::detail::values_and_holders(inst)) made = made && v_h.holder_constructed();
  }
  if (!made)
    throw pybind11::type_error(std::string(type->tp_name) +
                               " was never initialized (its __init__ did not run)");
}

}  // namespace mprog::python

#define MPROG_PY_INITIALIZED_ONLY(T)                                                     \
  namespace pybind11::detail {                                                           \
  template <>                                                                            \
  class type_caster<T> : public type_caster_base<T> {                                    \
   public:                                                                               \
    bool load(handle src, bool convert) {                                                \
      static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(                 \
          pybind11::type::of<T>().ptr());                                                \
      mprog::python::check_initialized(src, type);                                       \
      return type_caster_base<T>::load(src, convert);                                    \
    }                                                                                    \
  };                                                                                     \
  }
