#include "objects.hpp"

#include <unordered_map>

#include "links.hpp"
#include "raise.hpp"

namespace mprog::python {
namespace {

std::unordered_map<std::uint32_t, ProgramObject*>& programs() {
  static auto* m = new std::unordered_map<std::uint32_t, ProgramObject*>;
  return *m;
}
std::unordered_map<std::uint32_t, LinkObject*>& links() {
  static auto* m = new std::unordered_map<std::uint32_t, LinkObject*>;
  return *m;
}
std::uint32_t last_program_id = 0;
std::uint32_t last_link_id = 0;

std::string checked_name(py::handle name) {
  if (!PyUnicode_Check(name.ptr()))
    raise_type_error(std::string("name must be a str, not ") + Py_TYPE(name.ptr())->tp_name);
  return name.cast<std::string>();
}

py::object checked_fn(py::object fn) {
  if (!fn.is_none() && !PyCallable_Check(fn.ptr())) raise_type_error("fn must be callable or None");
  return fn;
}

std::string checked_dialect(py::handle d) {
  std::string text = PyUnicode_Check(d.ptr()) ? d.cast<std::string>() : std::string();
  if (text != "upstream" && text != "v2" && text != "cgroup")
    raise_value_error("unknown dialect " + py::repr(d).cast<std::string>() +
                      "; expected one of ('upstream', 'v2', 'cgroup')");
  return text;
}

}  // namespace

ProgramObject::ProgramObject(py::handle n, py::object f, py::handle d)
    : name(checked_name(n)), fn(checked_fn(std::move(f))), dialect(checked_dialect(d)) {
  core.kind = dialect == "cgroup" ? ProgramKind::cgroup : ProgramKind::tcx;
  core.id = ++last_program_id;
  core.user = this;
  programs()[core.id] = this;
}

ProgramObject::~ProgramObject() { programs().erase(core.id); }

LinkObject::LinkObject(py::object p) : prog(std::move(p)) {
  core.id = next_link_id();
  core.prog = &as_program(prog).core;
  core.user = this;
  links()[core.id] = this;
}

LinkObject::~LinkObject() {
  // Dropped without close(): released all the same, with a ResourceWarning (docs/protocol.md
  // "Lifetimes"). A link that was never handed out (its attach failed) is closed already.
  if (!closed) warn_unclosed(link_repr(*this));
  close();
  links().erase(core.id);
}

void LinkObject::close() {
  if (closed) return;
  // Held to the end: releasing the program may drop the bundle's last reference (its fn).
  py::object chain = bundle_of(core);
  mprog::detach(Ref<Link>(&core));
  closed = true;
  release(as_program(prog));
  notify_changed(chain);  // last: the link is fully released whatever a watcher does
}

ProgramObject* program_by_id(std::uint32_t id) {
  auto it = programs().find(id);
  return it != programs().end() && it->second->alive() ? it->second : nullptr;
}

LinkObject* link_by_id(std::uint32_t id) {
  auto it = links().find(id);
  return it != links().end() && !it->second->closed ? it->second : nullptr;
}

std::uint32_t next_link_id() { return ++last_link_id; }

ProgramObject& as_program(py::handle h) { return unwrap<ProgramObject>(h); }

py::handle owner(ProgramObject& p) {
  // py::cast(&p, reference) finds the instance with a hash-map search on every call; the
  // owner cannot change while p exists (it owns p), so look it up once.
  if (!p.self) p.self = py::cast(&p, py::return_value_policy::reference).ptr();
  return p.self;
}

py::handle owner(LinkObject& l) {
  // The instance that owns l already exists: this finds it (borrowed, like owner(Program)).
  // Not cached: only transactions ask, once per link in the chain they start from.
  return py::cast(&l, py::return_value_policy::reference).ptr();
}

void hold(ProgramObject& p) {
  ++p.holders;
  owner(p).inc_ref();
}

void release(ProgramObject& p) {
  --p.holders;
  owner(p).dec_ref();  // may destroy p: the last use of it
}

}  // namespace mprog::python
