#include "cgroup_object.hpp"

#include <vector>

#include "bundle_object.hpp"
#include "injected.hpp"
#include "objects.hpp"
#include "query_result.hpp"
#include "raise.hpp"

namespace mprog::python {
namespace {

// The cgroup rules' texts (the model's, python/mprog/model/cgroup.py, say the same).
std::string what(const Result& r) {
  switch (r.why) {
    case Why::unknown_flags: return "unknown flag bits";
    case Why::bad_handle: return "a handle that names no usable object";
    case Why::wrong_kind: return "not a cgroup program";
    case Why::replace_missing: return "REPLACE names no program to replace";
    case Why::bad_mode: return "ALLOW_OVERRIDE with ALLOW_MULTI, or REPLACE without ALLOW_MULTI";
    case Why::replace_position: return "REPLACE takes no BEFORE/AFTER";
    case Why::stale: return "the expected revision is not the list's";
    case Why::hierarchy: return "an ancestor holds one program without ALLOW_OVERRIDE";
    case Why::mode_mismatch: return "the mode differs from the list's";
    case Why::chain_full: return "the list holds 64 programs already";
    case Why::exists: return "the program is already in the list";
    case Why::replace_absent: return "the program to replace is not in the list by program";
    case Why::no_directive: return "a relative needs exactly one of BEFORE and AFTER";
    case Why::position: return "BEFORE/AFTER and the relative's kind do not fit the request";
    case Why::relative_lookup: return "the relative names no usable object";
    case Why::relative_absent: return "the relative is not in the list";
    case Why::preorder: return "the relative and the new entry differ in PREORDER";
    case Why::detach_args: return "cgroup detach takes no flags and no relative";
    case Why::unnamed: return "with ALLOW_MULTI the program to detach must be named";
    case Why::prog_absent: return "the program is not in the list by program";
    case Why::empty: return "the list is empty";
    case Why::link_attached: return "the link is attached already";
    default: return "refused";
  }
}

[[noreturn]] void raise_cgroup(const Result& r, const char* op) {
  py::object e = injected().error(-r.error, op, what(r));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
  throw py::error_already_set();
}

// flags/relative/replace/expected_revision, an anchor turned into them (to_cgroup_request:
// a link's anchor carries no mode). `expanded` keeps an anchor's tuple alive.
Request request_of(py::handle flags, py::handle relative, py::handle replace,
                   py::handle expected_revision, const char* op, py::object& expanded) {
  if (!PyLong_Check(flags.ptr())) {
    expanded = injected().to_cgroup_request(flags, relative, replace, op);
    if (!PyTuple_Check(expanded.ptr()) || PyTuple_GET_SIZE(expanded.ptr()) != 3)
      raise_type_error("an anchor's request() must return (flags, relative, replace)");
    flags = PyTuple_GET_ITEM(expanded.ptr(), 0);
    relative = PyTuple_GET_ITEM(expanded.ptr(), 1);
    replace = PyTuple_GET_ITEM(expanded.ptr(), 2);
  }
  // The cgroup ABI spells ID and LINK as upstream does, so relatives resolve the same way.
  Request r = arguments(Dialect::upstream, flags, relative, replace, expected_revision, false).request;
  // The program REPLACE swaps out is fetched as a program fd: None is no program (EINVAL).
  r.replace = program_ref(replace, "replace", false);
  return r;
}

}  // namespace

CgroupObject::CgroupObject(void* owner, py::handle parent) {
  Cgroup* above = nullptr;
  if (!parent.is_none()) {
    BundleObject* p = py::isinstance<BundleObject>(parent) ? &parent.cast<BundleObject&>() : nullptr;
    if (!p || !p->cgroup())
      raise_type_error(std::string("parent must be a cgroup Bundle of the core, not ") +
                       Py_TYPE(parent.ptr())->tp_name);
    p->check_open();
    above = &p->cgroup()->core();
    parent_ = py::reinterpret_borrow<py::object>(parent);
  } else {
    parent_ = py::none();
  }
  core_ = std::make_unique<Cgroup>(above);
  core_->user = owner;
}

void CgroupObject::take_released() {
  if (Program* p = core_->released()) release(ProgramObject::of(p));
}

void CgroupObject::attach(const ProgramArg& prog, const FlagsArg& flags,
                          const RelativeArg& relative, const RelativeArg& replace,
                          const IntArg& expected_revision) {
  py::object keep;
  Request r = request_of(flags, relative, replace, expected_revision, "attach", keep);
  r.prog = program_argument(prog, false);
  const Result res = core_->attach(r);
  if (!res) raise_cgroup(res, "attach");
  hold(ProgramObject::of(r.prog.object));
  take_released();
}

py::object CgroupObject::link(const ProgramArg& prog, const FlagsArg& flags,
                              const RelativeArg& relative, const IntArg& expected_revision) {
  py::object keep;
  Request r = request_of(flags, relative, py::none(), expected_revision, "link", keep);
  r.prog = program_argument(prog, false);
  if (!r.prog.object) {
    // A failed lookup always fails, at its place in the order of checks; no link is made.
    Link never_made;
    const Result res = core_->attach(never_made, r);
    raise_cgroup(res ? Result{-EINVAL, Why::bad_handle} : res, "link");
  }
  auto& l = *new LinkObject(py::reinterpret_borrow<py::object>(prog));
  auto obj = py::cast(&l, py::return_value_policy::take_ownership);  // obj owns l
  const Result res = core_->attach(l.core, r);
  if (!res) {
    l.closed = true;  // never handed out; nothing to release
    raise_cgroup(res, "link");
  }
  hold(ProgramObject::of(r.prog.object));
  return obj;
}

void CgroupObject::detach(const OptionalProgramArg& prog, const FlagsArg& flags,
                          const RelativeArg& relative, const IntArg& expected_revision) {
  py::object keep;
  Request r = request_of(flags, relative, py::none(), expected_revision, "detach", keep);
  r.prog = program_argument(prog, true);
  const Result res = core_->detach(r);
  if (!res) raise_cgroup(res, "detach");
  take_released();
}

py::object CgroupObject::query(const OptionalIntArg& count, py::handle effective) const {
  const bool whole = count.is_none();
  const std::uint32_t capacity = whole ? 0 : to_count(count);
  if (!PyBool_Check(effective.ptr()))
    raise_type_error(std::string("effective must be a bool, not ") + Py_TYPE(effective.ptr())->tp_name);
  std::vector<std::uint32_t> ids;
  std::uint64_t revision = 0;
  std::uint32_t mode = 0;
  if (effective == Py_True) {
    for (const Program* p : core_->effective_entries())
      if (p) ids.push_back(p->id);
  } else {
    for (const CgroupEntry& e : core_->entries()) ids.push_back(e.runs()->id);
    revision = core_->revision();
    mode = core_->mode();
  }
  const auto total = static_cast<std::uint32_t>(ids.size());
  const std::uint32_t n = whole ? total : std::min(capacity, total);
  py::tuple zeros = int_tuple(n, [](std::uint32_t) { return 0u; });  // no link ids or flags
  py::object result =
      query_result(revision, total, int_tuple(n, [&](std::uint32_t i) { return ids[i]; }), zeros,
                   int_tuple(n, [&](std::uint32_t) { return mode; }), zeros, mode);
  if (whole || capacity == 0 || capacity >= total) return result;
  py::object e = injected().query_too_small(
      ENOSPC, "query: " + std::to_string(capacity) + " entries asked, the list holds " +
                  std::to_string(total),
      py::arg("op") = "query", py::arg("count") = total, py::arg("partial") = result);
  PyErr_SetObject(injected().query_too_small.ptr(), e.ptr());
  throw py::error_already_set();
}

int CgroupObject::run(py::handle ctx) const {
  // Python callables may let other threads in: call them from a snapshot taken inside the
  // read section, outside it, so a writer never waits on Python code.
  std::vector<py::object> snapshot;
  {
    ReadSection section;
    for (Program* const* p = core_->active().programs.data(); *p; ++p) {
      const ProgramObject& prog = ProgramObject::of(*p);
      if (!prog.fn.is_none()) snapshot.push_back(prog.fn);
    }
  }
  int verdict = kAllow;
  const py::int_ one(1);
  for (const py::object& fn : snapshot) {
    py::object bit = py::reinterpret_steal<py::object>(PyNumber_And(fn(ctx).ptr(), one.ptr()));
    if (!bit) throw py::error_already_set();
    if (!PyObject_IsTrue(bit.ptr())) verdict = kDeny;  // every program runs all the same
  }
  return verdict;
}

py::list CgroupObject::programs() const {
  py::list out;
  for (const CgroupEntry& e : core_->entries())
    out.append(owner(ProgramObject::of(e.runs())));
  return out;
}

void CgroupObject::close() {
  for (Program* p : core_->close()) release(ProgramObject::of(p));
}

}  // namespace mprog::python
