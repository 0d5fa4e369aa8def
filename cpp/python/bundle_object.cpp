#include "bundle_object.hpp"

#include <vector>

#include "mprog/naming.hpp"
#include "raise.hpp"

namespace mprog::python {
namespace {

Dialect parse_dialect(const std::string& d) {
  if (auto known = naming::dialect(d)) return *known;
  raise_value_error("unknown dialect '" + d + "' (expected 'upstream' or 'v2')");
}

// Any bit the uapi cannot carry (above 63, or the sign) is simply unknown: EINVAL later.
std::uint64_t to_flags(py::handle h) {
  if (!PyLong_Check(h.ptr())) raise_type_error("flags must be an int");
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return ~std::uint64_t{0};
  }
  return v;
}

std::uint64_t to_u64(py::handle h, const char* name) {
  if (!PyLong_Check(h.ptr())) raise_type_error(std::string(name) + " must be an int");
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    raise_value_error(std::string(name) + " must be in [0, 2**64)");
  }
  return v;
}

std::uint32_t to_id(py::handle h) {
  const std::uint64_t v = to_u64(h, "an id");
  if (v >> 32) raise_value_error("an id must be in [0, 2**32)");
  return static_cast<std::uint32_t>(v);
}

// py::isinstance<T> looks the class up by typeid on every call; the class objects are fixed
// once the module is loaded, so keep them (the same check: pybind11 classes have no
// __instancecheck__).
bool is_program(py::handle h) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(py::type::of<ProgramObject>().ptr());
  return PyObject_TypeCheck(h.ptr(), type);
}
bool is_link(py::handle h) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(py::type::of<LinkObject>().ptr());
  return PyObject_TypeCheck(h.ptr(), type);
}

struct FlagBits {
  std::uint64_t id, link;
};
FlagBits bits(Dialect d) {
  return d == Dialect::v2 ? FlagBits{v2flag::id, v2flag::link} : FlagBits{flag::id, flag::link};
}

// What a Python argument names, for the shared rule in mprog/naming.hpp.
naming::Named named(py::handle rel) {
  if (rel.is_none()) return {};
  if (is_program(rel)) {
    const auto& p = rel.cast<const ProgramObject&>();
    return naming::Named::of(&p.core, p.closed);
  }
  if (is_link(rel)) {
    const auto& l = rel.cast<const LinkObject&>();
    return naming::Named::of(&l.core, l.closed);
  }
  return naming::Named::integer(to_id(rel));
}

Relative resolve_relative(py::handle rel, std::uint64_t flags, Dialect d) {
  return naming::relative(
      named(rel), flags & bits(d).id, flags & bits(d).link,
      [](std::uint32_t id) -> const Program* {
        const ProgramObject* p = program_by_id(id);
        return p ? &p->core : nullptr;
      },
      [](std::uint32_t id) -> const Link* {
        const LinkObject* l = link_by_id(id);
        return l ? &l->core : nullptr;
      });
}

// A program argument given by handle: closed is EBADF, another kind EINVAL.
Ref<Program> resolve_program(py::handle h) {
  if (is_program(h)) {
    auto& p = h.cast<ProgramObject&>();
    return p.closed ? Ref<Program>::failed(-EBADF) : Ref<Program>(&p.core);
  }
  // None names nothing: the core decides whether that is allowed (REPLACE needs a program).
  if (h.is_none()) return {};
  // A closed fd is EBADF before its kind is looked at; an open one of the wrong kind EINVAL.
  if (is_link(h) && h.cast<LinkObject&>().closed) return Ref<Program>::failed(-EBADF);
  return Ref<Program>::failed(-EINVAL);
}

}  // namespace

BundleObject::BundleObject(const std::string& dialect) : core_(parse_dialect(dialect)) {
  core_.user = this;
}

BundleObject::~BundleObject() { close(); }

void BundleObject::check_open() const {
  if (closed_) raise_value_error("the bundle is closed");
}

BundleObject::Args BundleObject::arguments(py::handle flags, py::handle relative,
                                           py::handle replace, py::handle expected_revision,
                                           bool replace_is_relative) const {
  check_open();
  Args a;
  if (!PyLong_Check(flags.ptr())) {
    // An anchor (Head(), Before(q), ...) says the flags and the relative itself.
    static py::handle to_request = imported("mprog.anchors", "to_request");
    a.anchor = flags.ptr();
    a.expanded = to_request(flags, relative, replace, dialect());
    if (!PyTuple_Check(a.expanded.ptr()) || PyTuple_GET_SIZE(a.expanded.ptr()) != 3)
      raise_type_error("an anchor's request() must return (flags, relative, replace)");
    flags = PyTuple_GET_ITEM(a.expanded.ptr(), 0);
    relative = PyTuple_GET_ITEM(a.expanded.ptr(), 1);
    replace = PyTuple_GET_ITEM(a.expanded.ptr(), 2);
  }
  Request& r = a.request;
  r.flags = to_flags(flags);
  r.expected_revision = to_u64(expected_revision, "expected_revision");
  r.relative = resolve_relative(relative, r.flags, core_.dialect());
  if (r.flags & flag::replace) {  // bit 2 in both dialects
    if (core_.dialect() == Dialect::v2 && replace_is_relative)
      r.relative = resolve_relative(replace, r.flags, Dialect::v2);  // v2: one shared field
    else if (core_.dialect() == Dialect::upstream)
      r.replace = resolve_program(replace);
  }
  return a;
}

Ref<Program> BundleObject::program_argument(py::handle prog, bool optional) {
  if (optional && prog.is_none()) return {};
  if (!is_program(prog)) raise_type_error(optional ? "prog must be a Program or None" : "prog must be a Program");
  return resolve_program(prog);
}

void BundleObject::changed() {
  if (!watchers_.empty()) notify(query(py::none()));
}

// Tells each watcher (old, new); the list is copied so a watcher may unwatch itself. The
// change is already committed, so a watcher that raises cannot make it look failed: its
// exception goes to sys.unraisablehook and the other watchers are still told. (This also runs
// from destructors, where an exception must not escape.)
void BundleObject::notify(py::object now) {
  py::object before = last_state_;
  last_state_ = now;
  for (py::handle w : py::list(watchers_)) {
    try {
      w(before, now);
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("mprog watcher");
    }
  }
}

py::object BundleObject::watch(py::object callback) {
  check_open();
  if (!PyCallable_Check(callback.ptr())) raise_type_error("watch: the callback must be callable");
  if (watchers_.empty()) last_state_ = query(py::none());
  watchers_.append(callback);
  return callback;
}

void BundleObject::unwatch(py::handle callback) {
  check_open();
  watchers_.attr("remove")(callback);
}

// After a successful change: a program that left the chain is no longer held by it.
void BundleObject::take_released() {
  if (Program* p = core_.released()) release(ProgramObject::of(p));
}

void BundleObject::attach(py::handle prog, py::handle flags, py::handle relative,
                          py::handle replace, py::handle expected_revision) {
  Args a = arguments(flags, relative, replace, expected_revision, true);
  Request& r = a.request;
  r.prog = program_argument(prog, false);
  const Result res = core_.attach(r);
  if (!res) raise_result(res, {"attach", r.prog.object ? r.prog.object->id : 0, r.flags,
                               r.expected_revision, core_.revision(), a.anchor});
  hold(ProgramObject::of(r.prog.object));
  take_released();
  changed();
}

py::object BundleObject::link(py::handle prog, py::handle flags, py::handle relative,
                              py::handle expected_revision) {
  Args a = arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = program_argument(prog, false);  // for a link create: the link's program fd
  Ref<Program> p = r.prog;
  auto obj = py::cast(new LinkObject(py::reinterpret_borrow<py::object>(prog)),
                      py::return_value_policy::take_ownership);
  auto& l = obj.cast<LinkObject&>();
  const Result res = core_.attach(l.core, r);
  if (!res) {
    l.closed = true;  // never handed out; nothing to release
    raise_result(res, {"link", p.object ? p.object->id : 0, r.flags, r.expected_revision,
                       core_.revision(), a.anchor});
  }
  hold(ProgramObject::of(p.object));
  changed();
  return obj;
}

void BundleObject::detach(py::handle prog, py::handle flags, py::handle relative,
                          py::handle expected_revision) {
  Args a = arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = program_argument(prog, true);
  const Result res = core_.detach(r);
  if (!res) raise_result(res, {"detach", r.prog.object ? r.prog.object->id : 0, r.flags,
                               r.expected_revision, core_.revision(), a.anchor});
  take_released();
  changed();
}

py::object BundleObject::query(py::handle count) const {
  check_open();
  const std::uint32_t capacity =
      count.is_none() ? static_cast<std::uint32_t>(kSlots) : static_cast<std::uint32_t>(
          std::min<std::uint64_t>(to_u64(count, "count"), 0xffffffffu));
  QueryHead head;
  QueryEntry entries[kSlots];
  const Result res = core_.query(head, entries, capacity);
  const std::uint32_t n = std::min(capacity, head.count);
  py::tuple prog_ids(n), link_ids(n), prog_flags(n), link_flags(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    prog_ids[i] = entries[i].prog_id;
    link_ids[i] = entries[i].link_id;
    prog_flags[i] = entries[i].prog_flags;
    link_flags[i] = entries[i].link_flags;
  }
  static py::handle cls = imported("mprog.query", "QueryResult");
  py::object result = cls(head.revision, head.count, prog_ids, link_ids, prog_flags, link_flags);
  if (res) return result;
  static py::handle too_small = imported("mprog.errors", "QueryTooSmall");
  py::object e = too_small(ENOSPC, "query: count " + std::to_string(capacity) +
                                       " is smaller than the chain's " + std::to_string(head.count),
                                       py::arg("count") = head.count, py::arg("partial") = result,
                                       py::arg("op") = "query", py::arg("revision") = head.revision);
  PyErr_SetObject(too_small.ptr(), e.ptr());
  throw py::error_already_set();
}

py::list BundleObject::programs() const {
  check_open();
  std::vector<Program*> snapshot;
  {
    ReadSection section;
    for (Program* const* p = core_.active().programs.data(); *p; ++p) snapshot.push_back(*p);
  }
  py::list out(snapshot.size());
  for (std::size_t i = 0; i < snapshot.size(); ++i)
    out[i] = py::reinterpret_borrow<py::object>(owner(ProgramObject::of(snapshot[i])));
  return out;
}

int BundleObject::run(py::handle ctx) const {
  // Python callables may let other threads in; call them from a snapshot, outside the read
  // section, so a writer never waits on Python code.
  for (py::handle h : programs()) {
    const ProgramObject& p = h.cast<const ProgramObject&>();
    if (p.fn.is_none()) continue;
    const int verdict = p.fn(ctx).cast<int>();
    if (verdict != kNext) return verdict;
  }
  return kNext;
}

void BundleObject::close() {
  if (closed_) return;
  const bool had_programs = core_.size() != 0;
  std::vector<Program*> held;
  const Entry& e = core_.current();
  for (std::uint32_t i = 0; i < e.count; ++i)
    if (!core_.slot(i).link) held.push_back(e.programs[i]);
  core_.reset();
  closed_ = true;
  for (Program* p : held) release(ProgramObject::of(p));
  // The bundle is closed before anyone hears of it, so a watcher that raises cannot leave it
  // half open; the final state is the freed chain (revision 1, nothing in it).
  py::list watchers = watchers_;
  watchers_ = py::list();
  if (had_programs && !watchers.empty()) {
    static py::handle query_result = imported("mprog.query", "QueryResult");
    watchers_ = watchers;  // told once more, of the freed chain, then forgotten
    notify(query_result(1, 0));
    watchers_ = py::list();
  }
}

py::object BundleObject::explain(const std::string& op, py::handle prog, py::handle flags,
                                 py::handle relative, py::handle replace,
                                 py::handle expected_revision) const {
  static py::handle explanation = imported("mprog.explain", "Explanation");
  if (op != "attach" && op != "detach") raise_value_error("explain: op must be 'attach' or 'detach'");
  const bool attaching = op == "attach";
  Args a = arguments(flags, relative, attaching ? replace : py::none(), expected_revision, attaching);
  Request& r = a.request;
  r.prog = program_argument(prog, !attaching);
  Placement where;
  const Result res = attaching ? core_.check_attach(r, &where) : core_.check_detach(r, &where);
  if (!res)
    return explanation(op, py::arg("error") = make_error(res, {attaching ? "attach" : "detach",
                            r.prog.object ? r.prog.object->id : 0, r.flags, r.expected_revision,
                            core_.revision(), a.anchor}));
  static const char* const actions[] = {"insert", "replace", "remove"};
  return explanation(op, actions[static_cast<int>(where.kind)], where.index);
}

void update_link(LinkObject& link, py::handle new_prog, py::handle flags, py::handle old_prog) {
  const std::uint64_t f = to_flags(flags);
  if (!is_program(new_prog)) raise_type_error("new_prog must be a Program");
  if (!old_prog.is_none() && !is_program(old_prog)) raise_type_error("old_prog must be a Program or None");
  Ref<Link> l = link.closed ? Ref<Link>::failed(-EBADF) : Ref<Link>(&link.core);
  Ref<Program> n = resolve_program(new_prog);
  Ref<Program> o = resolve_program(old_prog);
  Program* before = link.core.prog;
  Bundle* chain = link.core.bundle;
  const Result res = update(l, n, f, o);
  if (!res) raise_result(res, {"update", n.object ? n.object->id : 0, f, 0,
                               chain ? chain->revision() : 0});
  if (link.core.prog == before) return;  // the same program: no change
  hold(ProgramObject::of(link.core.prog));
  release(ProgramObject::of(before));
  link.prog = py::reinterpret_borrow<py::object>(new_prog);
  notify_changed(chain);
}

void notify_changed(Bundle* chain) {
  if (chain && chain->user) static_cast<BundleObject*>(chain->user)->changed();
}

void detach_link(LinkObject& link) {
  Bundle* chain = link.core.bundle;
  const Result res = detach(link.closed ? Ref<Link>::failed(-EBADF) : Ref<Link>(&link.core));
  if (!res) raise_result(res, {"link detach", 0, 0, 0, chain ? chain->revision() : 0});
  notify_changed(chain);
}

// ---- transactions ----

TransactionObject::TransactionObject(py::object bundle, py::handle expected_revision)
    : bundle_(std::move(bundle)), tx_(open_core(bundle_)),
      expected_revision_(to_u64(expected_revision, "expected_revision")) {}

Bundle& TransactionObject::open_core(py::handle bundle) {
  BundleObject& b = bundle.cast<BundleObject&>();
  b.check_open();
  return b.core();
}

void TransactionObject::check_open() const {
  if (done_) raise_value_error("the transaction is already committed or discarded");
  bundle().check_open();  // a bundle closed meanwhile takes nothing more
}

void TransactionObject::attach(py::handle prog, py::handle flags, py::handle relative,
                               py::handle replace, py::handle expected_revision) {
  check_open();
  BundleObject::Args a = bundle().arguments(flags, relative, replace, expected_revision, true);
  Request& r = a.request;
  r.prog = BundleObject::program_argument(prog, false);
  const Result res = tx_.attach(r);
  if (!res) raise_result(res, {"attach", r.prog.object ? r.prog.object->id : 0, r.flags,
                               r.expected_revision, bundle().revision(), a.anchor});
  staged_.append(prog);  // the scratch chain points at it: keep it alive until the end
}

void TransactionObject::detach(py::handle prog, py::handle flags, py::handle relative,
                               py::handle expected_revision) {
  check_open();
  BundleObject::Args a = bundle().arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = BundleObject::program_argument(prog, true);
  const Result res = tx_.detach(r);
  if (!res) raise_result(res, {"detach", r.prog.object ? r.prog.object->id : 0, r.flags,
                               r.expected_revision, bundle().revision(), a.anchor});
}

void TransactionObject::commit() {
  check_open();
  BundleObject& b = bundle();
  // Hold what the new chain holds before letting go of what the old one held, so a program
  // in both never drops to zero references in between.
  std::vector<Program*> joining;
  for (std::uint32_t i = 0; i < tx_.size(); ++i)
    if (!tx_.slot(i).link) joining.push_back(tx_.entry().programs[i]);
  for (Program* p : joining) hold(ProgramObject::of(p));
  std::vector<Program*> leaving;
  const Entry& e = b.core().current();
  for (std::uint32_t i = 0; i < e.count; ++i)
    if (!b.core().slot(i).link) leaving.push_back(e.programs[i]);
  const Result res = tx_.commit(b.core(), expected_revision_);
  if (!res) {
    for (Program* p : joining) release(ProgramObject::of(p));
    raise_result(res, {"transaction", 0, 0, expected_revision_, b.revision()});
  }
  done_ = true;
  if (tx_.operations() == 0) {  // nothing was installed: undo the holds taken above
    for (Program* p : joining) release(ProgramObject::of(p));
    return;
  }
  for (Program* p : leaving) release(ProgramObject::of(p));
  b.changed();
}

py::list TransactionObject::programs() const {
  py::list out;
  for (std::uint32_t i = 0; i < tx_.size(); ++i)
    out.append(owner(ProgramObject::of(tx_.entry().programs[i])));
  return out;
}

}  // namespace mprog::python
