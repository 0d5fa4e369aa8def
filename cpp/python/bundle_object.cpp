#include "bundle_object.hpp"

#include <vector>

#include "injected.hpp"
#include "query_result.hpp"
#include "raise.hpp"

namespace mprog::python {

namespace {

bool is_cgroup_dialect(py::handle dialect) {
  return PyUnicode_Check(dialect.ptr()) && dialect.cast<std::string>() == "cgroup";
}

}  // namespace

BundleObject::BundleObject(py::handle dialect, py::handle parent)
    : core_(is_cgroup_dialect(dialect) ? Dialect::upstream : parse_dialect(dialect)) {
  core_.user = this;
  if (is_cgroup_dialect(dialect)) {
    cgroup_ = std::make_unique<CgroupObject>(this, parent);
  } else if (!parent.is_none()) {
    raise_value_error("parent= places a cgroup bundle; a chain has none");
  }
}

void BundleObject::check_offered(const char* what) const {
  if (cgroup_) {
    PyErr_SetString(PyExc_NotImplementedError,
                    (std::string(what) + "() is not offered by the cgroup dialect").c_str());
    throw py::error_already_set();
  }
}

BundleObject::~BundleObject() {
  // Dropped without close(): released all the same, with a ResourceWarning (docs/protocol.md
  // "Lifetimes").
  if (!closed_) warn_unclosed(repr());
  close();
}

void BundleObject::check_open() const {
  if (closed_) raise_value_error("the bundle is closed");
}

Arguments BundleObject::arguments(py::handle flags, py::handle relative, py::handle replace,
                                  py::handle expected_revision, bool replace_is_relative) const {
  check_open();
  return python::arguments(core_.dialect(), flags, relative, replace, expected_revision,
                           replace_is_relative);
}

void BundleObject::changed() {
  // Closed meanwhile (by code a release ran): close() has told the watchers already.
  if (!closed_ && !watchers_.empty()) watchers_.tell(state());
}

py::object BundleObject::watch(const WatcherArg& callback) {
  check_offered("watch");
  check_open();
  watchers_.add(py::reinterpret_borrow<py::object>(callback), watchers_.empty() ? state() : py::object());
  return py::reinterpret_borrow<py::object>(callback);
}

void BundleObject::unwatch(const WatcherArg& callback) {
  check_offered("unwatch");
  check_open();
  watchers_.remove(callback);
}

// After a successful change: a program that left the chain is no longer held by it.
void BundleObject::take_released() {
  if (Program* p = core_.released()) release(ProgramObject::of(p));
}

void BundleObject::attach(const ProgramArg& prog, const FlagsArg& flags,
                          const RelativeArg& relative, const RelativeArg& replace,
                          const IntArg& expected_revision) {
  attach_result(prog, flags, relative, replace, expected_revision, Refusal::raise);
}

Result BundleObject::attach_result(const ProgramArg& prog, const FlagsArg& flags,
                            const RelativeArg& relative, const RelativeArg& replace,
                            const IntArg& expected_revision, Refusal refusal) {
  if (cgroup_) {
    check_open();
    cgroup_->attach(prog, flags, relative, replace, expected_revision);
    return {};
  }
  Arguments a = arguments(flags, relative, replace, expected_revision, true);
  Request& r = a.request;
  r.prog = program_argument(prog, false);
  const Result res = core_.attach(r);
  if (!res) {
    if (refusal == Refusal::keep) return res;
    raise_result(res, Context::of("attach", r, core_, a.anchor).locate(res, core_));
  }
  hold(ProgramObject::of(r.prog.object));
  take_released();
  changed();
  return res;
}

py::object BundleObject::link(const ProgramArg& prog, const FlagsArg& flags,
                              const RelativeArg& relative, const IntArg& expected_revision) {
  py::object made;
  link_result(prog, flags, relative, expected_revision, made, Refusal::raise);
  return made;
}

Result BundleObject::link_result(const ProgramArg& prog, const FlagsArg& flags,
                          const RelativeArg& relative, const IntArg& expected_revision,
                          py::object& made, Refusal refusal) {
  if (cgroup_) {
    check_open();
    made = cgroup_->link(prog, flags, relative, expected_revision);
    return {};
  }
  Arguments a = arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = program_argument(prog, false);  // for a link create: the link's program fd
  if (!r.prog.object) {
    // No program (a failed lookup): the core still says which check fails first (a failed
    // lookup always fails, at its place in the order of checks), but no link is made for it.
    Link never_made;
    const Result res = core_.attach(never_made, r);
    const Result failed = res ? Result{-EINVAL, Why::bad_handle} : res;
    if (refusal == Refusal::keep) return failed;
    raise_result(failed, Context::of("link", r, core_, a.anchor).locate(failed, core_));
  }
  auto& l = *new LinkObject(py::reinterpret_borrow<py::object>(prog));
  auto obj = py::cast(&l, py::return_value_policy::take_ownership);  // obj owns l
  const Result res = core_.attach(l.core, r);
  if (!res) {
    l.closed = true;  // never handed out; nothing to release
    if (refusal == Refusal::keep) return res;
    raise_result(res, Context::of("link", r, core_, a.anchor).locate(res, core_));
  }
  hold(ProgramObject::of(r.prog.object));
  changed();
  made = std::move(obj);
  return res;
}

void BundleObject::detach(const OptionalProgramArg& prog, const FlagsArg& flags,
                          const RelativeArg& relative, const IntArg& expected_revision) {
  detach_result(prog, flags, relative, expected_revision, Refusal::raise);
}

Result BundleObject::detach_result(const OptionalProgramArg& prog, const FlagsArg& flags,
                            const RelativeArg& relative, const IntArg& expected_revision,
                            Refusal refusal) {
  if (cgroup_) {
    check_open();
    cgroup_->detach(prog, flags, relative, expected_revision);
    return {};
  }
  Arguments a = arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = program_argument(prog, true);
  const Result res = core_.detach(r);
  if (!res) {
    if (refusal == Refusal::keep) return res;
    raise_result(res, Context::of("detach", r, core_, a.anchor).locate(res, core_));
  }
  take_released();
  changed();
  return res;
}

py::object BundleObject::query(const OptionalIntArg& count, py::handle effective) const {
  check_open();
  if (cgroup_) return cgroup_->query(count, effective ? effective : py::handle(Py_False));
  // effective= is the cgroup dialect's: a chain has no hierarchy (False asks for nothing).
  if (effective && effective.ptr() != Py_False)
    raise_type_error("effective= asks for a cgroup's effective array; a chain has none");
  const bool whole = count.is_none();
  if (whole && kept_query_ && kept_generation_ == core_.generation()) return kept_query_;
  const std::uint32_t capacity = to_count(count);
  QueryHead head;
  QueryEntry entries[kSlots];
  const Result res = core_.query(head, entries, capacity);
  const std::uint32_t n = std::min(capacity, head.count);
  py::object result = query_result(
      head.revision, head.count, int_tuple(n, [&](std::uint32_t i) { return entries[i].prog_id; }),
      int_tuple(n, [&](std::uint32_t i) { return entries[i].link_id; }),
      int_tuple(n, [&](std::uint32_t i) { return entries[i].prog_flags; }),
      int_tuple(n, [&](std::uint32_t i) { return entries[i].link_flags; }));
  if (whole) {
    kept_query_ = result;
    kept_generation_ = core_.generation();
  }
  if (res) return result;
  const Injected& py_side = injected();
  py::object e = py_side.query_too_small(
      ENOSPC, "query: count " + std::to_string(capacity) + " is smaller than the chain's " +
                  std::to_string(head.count),
      py::arg("count") = head.count, py::arg("partial") = result, py::arg("op") = "query",
      py::arg("revision") = head.revision);
  PyErr_SetObject(py_side.query_too_small.ptr(), e.ptr());
  throw py::error_already_set();
}

py::object BundleObject::state() const {
  return query(OptionalIntArg(py::none()));
}

py::list BundleObject::programs() const {
  check_open();
  if (cgroup_) return cgroup_->programs();
  // Strong references taken inside the read section: making the list may run the garbage
  // collector, and a program it frees must not be one of these. (Every program in a chain
  // has been held, so owner() is a plain load here.)
  std::vector<py::object> snapshot;
  snapshot.reserve(core_.size());
  {
    ReadSection section;
    for (Program* const* p = core_.active().programs.data(); *p; ++p)
      snapshot.push_back(py::reinterpret_borrow<py::object>(owner(ProgramObject::of(*p))));
  }
  py::list out(snapshot.size());
  for (std::size_t i = 0; i < snapshot.size(); ++i) out[i] = std::move(snapshot[i]);
  return out;
}

namespace {

// A verdict is a C int; anything else is the program's mistake, named (docs/protocol.md
// "Bad input", rule 11).
int verdict_of(const ProgramObject& p, py::handle v) {
  const std::string who = "run: program " + std::to_string(p.core.id) + " (" +
                          py::repr(py::str(p.name)).cast<std::string>() + ") returned ";
  if (!PyLong_Check(v.ptr())) raise_type_error(who + Py_TYPE(v.ptr())->tp_name + ", not an int");
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow || n < INT32_MIN || n > INT32_MAX)
    raise_value_error(who + py::repr(v).cast<std::string>() + ", outside a C int");
  return static_cast<int>(n);
}

}  // namespace

int BundleObject::run(py::handle ctx) const {
  if (cgroup_) {
    check_open();
    return cgroup_->run(ctx);
  }
  // Python callables may let other threads in; call them from a snapshot, outside the read
  // section, so a writer never waits on Python code.
  for (py::handle h : programs()) {
    const ProgramObject& p = h.cast<const ProgramObject&>();
    if (p.fn.is_none()) continue;
    const int verdict = verdict_of(p, p.fn(ctx));
    if (verdict != kNext) return verdict;
  }
  return kNext;
}

void BundleObject::close() {
  if (closed_) return;
  if (cgroup_) {
    closed_ = true;
    cgroup_->close();
    return;
  }
  const bool had_programs = core_.size() != 0;
  std::vector<Program*> held;
  core_.for_each_tuple([&](Program* p, const Link* link) {
    if (!link) held.push_back(p);
  });
  core_.reset();
  closed_ = true;
  kept_query_ = py::object();
  for (Program* p : held) release(ProgramObject::of(p));
  // The bundle is closed before anyone hears of it, so a watcher that raises cannot leave it
  // half open; the final state is the freed chain (revision 1, nothing in it).
  watchers_.close(had_programs ? query_result(1, 0, py::tuple(), py::tuple(), py::tuple(), py::tuple()) : py::none());
}

std::string BundleObject::repr() const {
  std::string out = "Bundle(dialect='" + std::string(dialect()) + "'";
  if (closed_) return out + ", closed)";
  if (cgroup_) {
    out += ", mode=" + std::to_string(cgroup_->mode()) + ", revision=" +
           std::to_string(cgroup_->revision()) + ", programs=[";
    const char* sep = "";
    for (const CgroupEntry& e : cgroup_->core().entries()) {
      out += sep + py::repr(py::str(ProgramObject::of(e.runs()).name)).cast<std::string>();
      sep = ", ";
    }
    return out + "])";
  }
  out += ", revision=" + std::to_string(core_.revision()) + ", programs=[";
  const char* sep = "";
  // From a snapshot of strong references: making the strings may run the garbage collector,
  // and a link it collects changes the chain.
  for (py::handle h : programs()) {
    out += sep + py::repr(py::str(h.cast<const ProgramObject&>().name)).cast<std::string>();
    sep = ", ";
  }
  return out + "])";
}

py::object BundleObject::explain(const std::string& op, const OptionalProgramArg& prog,
                                 const FlagsArg& flags, const RelativeArg& relative,
                                 const RelativeArg& replace, const IntArg& expected_revision) const {
  check_offered("explain");
  if (op != "attach" && op != "detach") raise_value_error("explain: op must be 'attach' or 'detach'");
  const bool attaching = op == "attach";
  Arguments a = arguments(flags, relative, attaching ? py::handle(replace) : py::handle(py::none()), expected_revision, attaching);
  Request& r = a.request;
  r.prog = program_argument(prog, !attaching);
  Placement where;
  const Result res = attaching ? core_.check_attach(r, &where) : core_.check_detach(r, &where);
  const py::object& explanation = injected().explanation;
  if (!res)
    return explanation(op, py::arg("error") = make_error(res, Context::of(op.c_str(), r, core_, a.anchor).locate(res, core_)));
  static const char* const actions[] = {"insert", "replace", "remove"};
  return explanation(op, actions[static_cast<int>(where.kind)], where.index);
}

}  // namespace mprog::python
