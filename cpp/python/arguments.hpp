// Python arguments turned into what the core takes (Ref, Relative, Request): Python types
// checked, handles and ids looked up, closed state seen. Only what Python alone can reject
// (a wrong type, an int out of range) raises here; everything else is handed to the core as
// a Ref/Relative that carries the lookup's errno, so that the core alone decides the order
// of checks (docs/protocol.md).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "mprog/mprog.hpp"

namespace mprog::python {

namespace py = pybind11;

// Argument types as signatures and help() show them. Each is a borrowed py::handle that
// accepts any object, as py::handle does (the conversions below decide: TypeError, or an
// errno from the core); only the name differs, where pybind11 would say `object` for every
// parameter. Borrowed, not py::object: no reference count traffic on the hot path.
#define MPROG_PY_ARGUMENT(Name)                        \
  struct Name : py::handle {                           \
    Name() = default;                                  \
    explicit Name(py::handle h) : py::handle(h) {}     \
  };
MPROG_PY_ARGUMENT(ProgramArg)          // mprog.Program
MPROG_PY_ARGUMENT(OptionalProgramArg)  // mprog.Program | None
MPROG_PY_ARGUMENT(FlagsArg)            // int | mprog.Anchor
MPROG_PY_ARGUMENT(RelativeArg)         // mprog.Program | mprog.Link | int | None
MPROG_PY_ARGUMENT(IntArg)              // int
MPROG_PY_ARGUMENT(OptionalIntArg)      // int | None
MPROG_PY_ARGUMENT(WatcherArg)          // Callable[[QueryResult, QueryResult], object]
MPROG_PY_ARGUMENT(ProgramFnArg)        // Callable[[object], int] | None
MPROG_PY_ARGUMENT(StrArg)              // str (a std::string would take bytes too)
MPROG_PY_ARGUMENT(OptionalBundleArg)   // mprog.Bundle | None (a cgroup bundle's parent)
MPROG_PY_ARGUMENT(BoolArg)             // bool
#undef MPROG_PY_ARGUMENT

Dialect parse_dialect(py::handle name);  // TypeError if not a str, ValueError if unknown
const char* dialect_name(Dialect d);

// Any bit the uapi cannot carry (above 63, or the sign) is simply unknown: EINVAL later.
std::uint64_t to_flags(py::handle h);
// An int in [0, 2**64): TypeError if not an int, ValueError if out of range.
std::uint64_t to_u64(py::handle h, const char* name);
// query's count: None (everything) or an int >= 0, however large (clamped to what a u32 says).
std::uint32_t to_count(py::handle h);

bool is_program(py::handle h);
bool is_link(py::handle h);

// docs/protocol.md "Bad input", rule 3: None, a Program or Link of this backend, or an int in
// [0, 2**32); else TypeError (another type, another backend's handle) or ValueError.
void check_handle(py::handle h, const char* name);
// A program read as the kernel reads a program fd (rules 4-6), after check_handle: a closed
// handle is EBADF, an open link or an int EINVAL. With `none_allowed` (detach's program,
// REPLACE's replace, update's old program) None and 0 name nothing and the core decides;
// without it (the program to add) they are EINVAL like any int.
Ref<Program> program_ref(py::handle h, const char* name, bool none_allowed);
// The program argument of attach/link (required) or detach (None or 0: no program).
Ref<Program> program_argument(py::handle prog, bool optional);

// flags/relative/replace/expected_revision as the caller gave them, an anchor turned into them.
struct Arguments {
  Request request;  // prog left for program_argument
  PyObject* anchor = nullptr;  // the caller's anchor (borrowed for the call), if any
  // An anchor's (flags, relative, replace), kept alive while the request points into it.
  // Plain int flags need nothing kept: the caller's arguments outlive the call.
  py::object expanded;
};
// v2 under REPLACE: attach's replace= is the relative (one shared field in the v2 ABI);
// link create and detach have no replace= and keep their relative.
Arguments arguments(Dialect dialect, py::handle flags, py::handle relative, py::handle replace,
                    py::handle expected_revision, bool replace_is_relative);

}  // namespace mprog::python

namespace pybind11::detail {
// The caster of each: take the object as it is (borrowed for the call), under its name.
#define MPROG_PY_ARGUMENT_NAME(Name, text)                                            \
  template <>                                                                         \
  struct type_caster<mprog::python::Name> {                                           \
    PYBIND11_TYPE_CASTER(mprog::python::Name, const_name(text));                      \
    bool load(handle src, bool) {                                                     \
      value = mprog::python::Name(src);                                               \
      return static_cast<bool>(src);                                                  \
    }                                                                                 \
    static handle cast(const mprog::python::Name& v, return_value_policy, handle) {   \
      return v.inc_ref();                                                             \
    }                                                                                 \
  };
MPROG_PY_ARGUMENT_NAME(ProgramArg, "mprog.Program")
MPROG_PY_ARGUMENT_NAME(OptionalProgramArg, "mprog.Program | None")
MPROG_PY_ARGUMENT_NAME(FlagsArg, "int | mprog.Anchor")
MPROG_PY_ARGUMENT_NAME(RelativeArg, "mprog.Program | mprog.Link | int | None")
MPROG_PY_ARGUMENT_NAME(IntArg, "int")
MPROG_PY_ARGUMENT_NAME(StrArg, "str")
MPROG_PY_ARGUMENT_NAME(OptionalBundleArg, "mprog.Bundle | None")
MPROG_PY_ARGUMENT_NAME(BoolArg, "bool")
MPROG_PY_ARGUMENT_NAME(OptionalIntArg, "int | None")
MPROG_PY_ARGUMENT_NAME(WatcherArg, "Callable[[mprog.QueryResult, mprog.QueryResult], object]")
MPROG_PY_ARGUMENT_NAME(ProgramFnArg, "Callable[[object], int] | None")
#undef MPROG_PY_ARGUMENT_NAME
}  // namespace pybind11::detail
