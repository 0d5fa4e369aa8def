// The module: each concept registers its own classes (register_*.cpp), as boost-histogram
// does; behaviour lives beside them (arguments, bundle_object, watchers, links,
// transaction_object, replay_binding, executor, record, stepper, handle_states).
#include <pybind11/pybind11.h>

#include "bundle_object.hpp"
#include "executor.hpp"
#include "handle_states.hpp"
#include "injected.hpp"
#include "links.hpp"
#include "record.hpp"
#include "replay_binding.hpp"
#include "stepper.hpp"
#include "transaction_object.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "mprog's C++ core (private: use the mprog package)";
  mprog::python::register_handles(m);
  mprog::python::register_transaction(m);
  mprog::python::register_bundle(m);
  mprog::python::bind_replay(m);
  mprog::python::bind_executor(m);
  mprog::python::bind_record(m);
  mprog::python::bind_stepper(m);
  mprog::python::bind_handle_states(m);
  mprog::python::register_injection(m);
}
