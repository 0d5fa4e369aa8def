#include "raise.hpp"

#include <cstdio>

#include "injected.hpp"

namespace mprog::python {
namespace py = pybind11;
namespace {

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The flag bits `op` knows: the rest are the unknown bits the message names. A link create
// ignores unknown bits in the low 32 in both dialects (docs/kernel-behaviour.md, docs/v2.md).
std::uint64_t known_bits(const Context& c) {
  const std::string op = c.op;
  if (op == "update") return flag::replace;
  if (op == "link") return 0xffffffffu;
  return c.dialect == Dialect::v2 ? v2flag::known : flag::upstream_known;
}

// The rules mprog.messages words for both backends; the facts each names.
std::string shared_text(const Result& r, const Context& c) {
  const py::object& M = injected().messages;
  const auto text = [&](const char* rule, auto&&... facts) {
    return M.attr("text")(rule, std::forward<decltype(facts)>(facts)...).template cast<std::string>();
  };
  const auto program = [&](std::uint32_t id) {
    return M.attr("program")(id ? py::object(py::int_(id)) : py::object(py::none()));
  };
  const auto link = [&](std::uint32_t id) { return M.attr("link")(id); };
  const auto relative = [&]() -> py::object {
    if (c.relative_link_id) return link(c.relative_link_id);
    if (c.relative_prog_id) return program(c.relative_prog_id);
    return py::none();
  };
  using py::arg;
  switch (r.why) {
    case Why::unknown_flags: return text("unknown_flags", arg("bits") = c.flags & ~known_bits(c));
    case Why::stale:
      if (c.base_revision) {  // a transaction's commit
        if (c.expected_revision && c.expected_revision != c.base_revision)
          return text("transaction_expected", arg("expected") = c.expected_revision,
                      arg("base") = c.base_revision);
        return text("transaction_changed", arg("base") = c.base_revision,
                    arg("revision") = c.revision);
      }
      return text("stale", arg("expected") = c.expected_revision, arg("revision") = c.revision);
    case Why::exists: return text("exists", arg("program") = program(c.prog_id));
    case Why::chain_full: return text("chain_full", arg("limit") = kMaxPrograms);
    case Why::replace_absent:
      // upstream looks the program to replace up as bpf_mprog_pos_exact does for a detach;
      // v2 names it by the relative field.
      if (c.dialect == Dialect::upstream) return text("absent", arg("program") = program(c.replace_id));
      return text("replace_absent", arg("program") = program(c.relative_prog_id));
    case Why::prog_absent: return text("absent", arg("program") = program(c.prog_id));
    case Why::relative_absent: return text("relative_absent", arg("relative") = relative());
    case Why::link_owned:
    case Why::link_owned_detach:
      return text(r.why == Why::link_owned ? "link_owned" : "link_owned_detach",
                  arg("program") = program(c.slot_prog_id), arg("link") = link(c.slot_link_id));
    case Why::slot_owned:
      return text("slot_owned", arg("program") = program(c.slot_prog_id),
                  arg("owner") = c.slot_link_id ? link(c.slot_link_id) : M.attr("PROGRAM_ATTACH"));
    case Why::no_directive:
      if (c.dialect != Dialect::upstream) break;
      return text("no_directive", arg("unplaced") = M.attr("unplaced")(relative(), c.flags));
    case Why::empty: return text("empty");
    case Why::bad_handle:
      if (!c.link_closed) break;
      return text("link_closed", arg("link") = link(c.link_id));
    case Why::link_detached: return text("link_detached", arg("link") = link(c.link_id));
    case Why::wrong_old_prog:
      return text("wrong_old_prog", arg("link") = link(c.link_id),
                  arg("program") = program(c.link_prog_id), arg("old") = program(c.old_prog_id));
    case Why::pin_position: {
      const bool first = (c.flags & v2flag::first) && r.slot != 0;  // FIRST is checked first
      return text("pin_position", arg("end") = first ? "first" : "last",
                  arg("pin") = first ? "FIRST" : "LAST");
    }
    default: break;
  }
  return {};
}

// Rules the model words with facts the binding does not have (which argument was closed, the
// raw relative, the directives' claims): the core's own, shorter texts.
std::string core_text(const Result& r, const Context& c) {
  switch (r.why) {
    case Why::bad_handle:
      return r.error == -EBADF ? "a closed handle was named" : "a handle of the wrong kind was named";
    case Why::replace_missing: return "REPLACE needs the program to replace";
    case Why::relative_lookup:
      if (r.error == -EBADF) return "the relative is a closed handle";
      if (r.error == -ENOENT) return "the relative's id names nothing alive";
      return "the relative is not of the kind the flags name";
    case Why::position: return "the directives name no such position";
    case Why::no_directive: return "a relative needs REPLACE, BEFORE or AFTER";
    case Why::update_flags: return "flags not valid for this operation " + hex(c.flags);
    case Why::pinned: return "a FIRST/LAST pin holder is in the way";
    case Why::query_short: return "count is smaller than the chain";
    case Why::link_attached: return "the link is already attached";
    default: break;
  }
  return "failed";
}

std::string what(const Result& r, const Context& c) {
  std::string shared = shared_text(r, c);
  return shared.empty() ? core_text(r, c) : shared;
}

void set_relative(Context& c, const Relative& rel) {
  if (rel.link) c.relative_link_id = rel.link->id;
  else if (rel.prog) c.relative_prog_id = rel.prog->id;
}

}  // namespace

Context Context::of(const char* operation, const Request& r, const Bundle& bundle,
                    PyObject* anchor) {
  Context c(operation);
  c.dialect = bundle.dialect();
  c.prog_id = r.prog.object ? r.prog.object->id : 0;
  c.replace_id = r.replace.object ? r.replace.object->id : 0;
  set_relative(c, r.relative);
  c.flags = r.flags;
  c.expected_revision = r.expected_revision;
  c.revision = bundle.revision();
  c.anchor = anchor;
  return c;
}

Context& Context::locate(const Result& r, const Bundle& bundle) {
  std::uint32_t i = 0;
  bundle.for_each_tuple([&](const Program* p, const Link* l) {
    if (i++ != r.slot) return;
    slot_prog_id = p->id;
    slot_link_id = l ? l->id : 0;
  });
  return *this;
}

Context& Context::locate(const Result& r, const Transaction& tx) {
  if (r.slot < tx.size()) {
    slot_prog_id = tx.entry().programs[r.slot]->id;
    slot_link_id = tx.slot(r.slot).link() ? tx.slot(r.slot).link()->id : 0;
  }
  return *this;
}

py::object make_error(const Result& r, const Context& c) {
  return injected().error(-r.error, c.op, what(r, c), py::arg("full") = r.why == Why::chain_full,
                          py::arg("revision") = c.revision,
                          py::arg("anchor") = py::handle(c.anchor ? c.anchor : Py_None));
}

void raise_result(const Result& r, const Context& c) {
  py::object e = make_error(r, c);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
  throw py::error_already_set();
}

void warn_unclosed(const std::string& what) {
  py::error_scope saved;  // restored when this returns
  if (PyErr_ResourceWarning(nullptr, 1, "unclosed %s: call close() (or use a with block)",
                            what.c_str()) < 0)
    PyErr_WriteUnraisable(nullptr);
}

void raise_value_error(const std::string& what) { throw py::value_error(what); }
void raise_type_error(const std::string& what) { throw py::type_error(what); }

}  // namespace mprog::python
