#include "links.hpp"

#include "arguments.hpp"
#include "bundle_object.hpp"
#include "raise.hpp"

namespace mprog::python {
namespace {

std::uint64_t revision_of(py::handle bundle) {
  return bundle.is_none() ? 0 : bundle.cast<BundleObject&>().core().revision();
}

}  // namespace

py::object bundle_of(const Link& link) {
  if (!link.bundle || !link.bundle->user) return py::none();
  return py::cast(static_cast<BundleObject*>(link.bundle->user), py::return_value_policy::reference);
}

void notify_changed(py::handle bundle) {
  if (!bundle.is_none()) bundle.cast<BundleObject&>().changed();
}

void update_link(LinkObject& link, const ProgramArg& new_prog, const IntArg& flags,
                 const OptionalProgramArg& old_prog) {
  update_link_result(link, new_prog, flags, old_prog, Refusal::raise);
}

Result update_link_result(LinkObject& link, const ProgramArg& new_prog, const IntArg& flags,
                          const OptionalProgramArg& old_prog, Refusal refusal) {
  const std::uint64_t f = to_flags(flags);
  check_handle(new_prog, "new_prog");
  check_handle(old_prog, "old_prog");
  Ref<Link> l = link.closed ? Ref<Link>::failed(-EBADF) : Ref<Link>(&link.core);
  Ref<Program> n = program_ref(new_prog, "new_prog", false);
  Ref<Program> o = program_ref(old_prog, "old_prog", true);  // 0 and None: no old program
  Program* before = link.core.prog;
  // Held to the end: releasing the old program may drop the bundle's last reference (its fn).
  py::object chain = bundle_of(link.core);
  const Result res = update(l, n, f, o);
  if (!res) {
    if (refusal == Refusal::keep) return res;
    Context c("update");
    c.prog_id = n.object ? n.object->id : 0;
    c.link_id = link.core.id;
    c.link_prog_id = link.core.prog->id;
    c.old_prog_id = o.object ? o.object->id : 0;
    c.link_closed = link.closed;
    c.flags = f;
    c.revision = revision_of(chain);
    raise_result(res, c);
  }
  if (link.core.prog == before) return res;  // the same program: no change
  hold(ProgramObject::of(link.core.prog));
  link.prog = py::reinterpret_borrow<py::object>(new_prog);
  release(ProgramObject::of(before));
  notify_changed(chain);
  return res;
}

void detach_link(LinkObject& link) { detach_link_result(link, Refusal::raise); }

Result detach_link_result(LinkObject& link, Refusal refusal) {
  py::object chain = bundle_of(link.core);  // a watcher may drop the bundle's last reference
  const Result res = detach(link.closed ? Ref<Link>::failed(-EBADF) : Ref<Link>(&link.core));
  if (!res) {
    if (refusal == Refusal::keep) return res;
    Context c("link detach");
    c.link_id = link.core.id;
    c.link_closed = link.closed;
    c.revision = revision_of(chain);
    raise_result(res, c);
  }
  notify_changed(chain);
  return res;
}

std::string link_repr(const LinkObject& l) {
  const ProgramObject& p = ProgramObject::of(l.core.prog);
  return "Link(id=" + std::to_string(l.core.id) + ", prog=" + py::repr(py::str(p.name)).cast<std::string>() +
         " (id " + std::to_string(p.core.id) + ")" +
         (l.closed ? ", closed" : l.core.attached() ? "" : ", detached") + ")";
}

}  // namespace mprog::python
