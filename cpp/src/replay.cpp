// Trace replay. The handle rules here are those of the Python binding
// (cpp/python/arguments.cpp, objects.cpp): how a relative is named, when a handle is
// closed, and when a program is alive to be named by id. The core decides everything else.
#include "mprog/replay.hpp"

#include "mprog/naming.hpp"

#include <stdexcept>
#include <string>

namespace mprog::replay {
namespace {

[[noreturn]] void malformed(const char* what) {
  throw std::invalid_argument(std::string("malformed trace op: ") + what);
}

// Checked before the tables are allocated: asking for ten million programs is an error, not
// hundreds of megabytes and then an error.
std::uint32_t within_limits(std::uint32_t programs, std::uint32_t links) {
  if (programs >= kNone || links >= kNone)
    throw std::invalid_argument("a session holds at most " + std::to_string(kNone - 1) +
                                " programs and as many links");
  return programs;
}

}  // namespace

Session::Session(Dialect dialect, std::uint32_t programs, std::uint32_t links)
    : programs_(within_limits(programs, links)), links_(links),
      bundle_(std::make_unique<Bundle>(dialect)) {
  for (std::uint32_t i = 0; i < programs; ++i) programs_[i].core.id = i + 1;
  for (std::uint32_t j = 0; j < links; ++j) links_[j].core.id = j + 1;
  const bool v2 = dialect == Dialect::v2;
  id_bit_ = v2 ? v2flag::id : flag::id;
  link_bit_ = v2 ? v2flag::link : flag::link;
}

Session::~Session() = default;

Session::ProgramHandle& Session::program_at(std::uint16_t index) {
  if (index >= programs_.size()) malformed("no such program");
  return programs_[index];
}

Session::LinkHandle& Session::link_at(std::uint16_t index) {
  if (index >= links_.size() || links_[index].state == LinkState::unused)
    malformed("no such link (not created yet)");
  return links_[index];
}

// A program named by handle: closed is EBADF.
Ref<Program> Session::program_ref(std::uint16_t index) const {
  const ProgramHandle& p = programs_[index];
  return p.closed ? Ref<Program>::failed(-EBADF) : Ref<Program>(const_cast<Program*>(&p.core));
}

// SPEC "Naming the relative", by the rule the Python binding uses too (mprog/naming.hpp).
Relative Session::resolve_relative(Arg kind, std::uint16_t index, std::uint32_t flags) const {
  naming::Named named;
  switch (kind) {
    case Arg::none: break;
    case Arg::program:
      if (index >= programs_.size()) malformed("no such program");
      named = naming::Named::of(&programs_[index].core, programs_[index].closed);
      break;
    case Arg::link:
      if (index >= links_.size() || links_[index].state == LinkState::unused)
        malformed("no such link (not created yet)");
      named = naming::Named::of(&links_[index].core, links_[index].state != LinkState::open);
      break;
    case Arg::value: named = naming::Named::integer(index); break;
    case Arg::program_id:  // Session ids are table positions + 1
      if (index >= programs_.size()) malformed("no such program");
      named = naming::Named::integer(index + 1u);
      break;
    case Arg::no_id: named = naming::Named::integer(kNoId); break;
    case Arg::link_id:
      if (index >= links_.size() || links_[index].state == LinkState::unused)
        malformed("no such link (not created yet)");
      named = naming::Named::integer(index + 1u);
      break;
    default: malformed("unknown relative kind");
  }
  // Ids here are table positions + 1 (Session hands them out in order).
  return naming::relative(
      named, flags & id_bit_, flags & link_bit_,
      [this](std::uint32_t id) -> const Program* {
        return id <= programs_.size() && programs_[id - 1].alive() ? &programs_[id - 1].core
                                                                   : nullptr;
      },
      [this](std::uint32_t id) -> const Link* {
        return id <= links_.size() && links_[id - 1].state == LinkState::open
                   ? &links_[id - 1].core
                   : nullptr;
      });
}

std::uint64_t Session::expected(Expect e) const {
  switch (e) {
    case Expect::any: return 0;
    case Expect::current: return bundle_->revision();
    case Expect::stale: return bundle_->revision() + 1;
    case Expect::previous: return previous_revision(bundle_->revision());
  }
  malformed("unknown expected-revision mode");
}

void Session::take_released() {
  if (Program* p = bundle_->released()) --owner(p).holders;
}

// The request of an attach, link or detach, as BundleObject::arguments builds it. `other` is
// attach's replace= (None for link and detach).
Request Session::request(const Op& op, bool replace_is_relative) const {
  Request r;
  r.flags = op.flags;
  r.expected_revision = expected(op.expect);
  r.relative = resolve_relative(op.relative_kind, op.relative, op.flags);
  if (op.prog != kNone) r.prog = program_ref(op.prog);
  if (op.flags & flag::replace) {  // bit 2 in both dialects
    // v2: attach's replace= is the relative (one shared field); link and detach keep theirs.
    if (bundle_->dialect() == Dialect::v2 && replace_is_relative)
      r.relative = op.other == kNone ? resolve_relative(Arg::none, 0, op.flags)
                                     : resolve_relative(Arg::program, op.other, op.flags);
    else if (bundle_->dialect() == Dialect::upstream)
      r.replace = op.other == kNone ? Ref<Program>{} : program_ref(op.other);
  }
  return r;
}

int Session::attach(const Op& op) {
  program_at(op.prog);
  if (op.other != kNone) program_at(op.other);
  const Request r = request(op, true);
  const Result res = bundle_->attach(r);
  if (!res) return res.error;
  ++programs_[op.prog].holders;
  take_released();
  return 0;
}

int Session::link(const Op& op) {
  program_at(op.prog);
  if (op.link >= links_.size() || links_[op.link].state != LinkState::unused)
    malformed("a link op must create a new link");
  if (op.other != kNone) malformed("a link op has no replace");
  const Request r = request(op, false);
  LinkHandle& l = links_[op.link];
  l.core.prog = &programs_[op.prog].core;
  const Result res = bundle_->attach(l.core, r);
  if (!res) {
    l.state = LinkState::closed;  // never handed out
    return res.error;
  }
  l.state = LinkState::open;
  ++programs_[op.prog].holders;
  return 0;
}

int Session::detach(const Op& op) {
  if (op.prog != kNone) program_at(op.prog);
  if (op.other != kNone) malformed("a detach op has no replace");
  const Request r = request(op, false);
  const Result res = bundle_->detach(r);
  if (!res) return res.error;
  take_released();
  return 0;
}

int Session::update(const Op& op) {
  LinkHandle& l = link_at(op.link);
  program_at(op.prog);
  if (op.other != kNone) program_at(op.other);
  const Ref<Link> link = l.state == LinkState::open ? Ref<Link>(&l.core) : Ref<Link>::failed(-EBADF);
  const Ref<Program> old = op.other == kNone ? Ref<Program>() : program_ref(op.other);
  Program* before = l.core.prog;
  const Result res = mprog::update(link, program_ref(op.prog), op.flags, old);
  if (!res) return res.error;
  if (l.core.prog != before) {
    ++owner(l.core.prog).holders;
    --owner(before).holders;
  }
  return 0;
}

int Session::link_detach(const Op& op) {
  LinkHandle& l = link_at(op.link);
  return mprog::detach(l.state == LinkState::open ? Ref<Link>(&l.core) : Ref<Link>::failed(-EBADF))
      .error;
}

int Session::close_link(const Op& op) {
  LinkHandle& l = link_at(op.link);
  if (l.state != LinkState::open) return 0;
  mprog::detach(Ref<Link>(&l.core));
  l.state = LinkState::closed;
  --owner(l.core.prog).holders;
  return 0;
}

int Session::apply(const Op& op) {
  switch (op.code) {
    case Opcode::attach: return attach(op);
    case Opcode::detach: return detach(op);
    case Opcode::link: return link(op);
    case Opcode::update: return update(op);
    case Opcode::link_detach: return link_detach(op);
    case Opcode::close_program: program_at(op.prog).closed = true; return 0;
    case Opcode::close_link: return close_link(op);
    case Opcode::new_program: program_at(op.prog); return 0;  // made up front
  }
  malformed("unknown opcode");
}

Counts Session::apply(const Op* ops, std::size_t n, std::int32_t* errnos, std::size_t* done) {
  Counts counts;
  for (std::size_t i = 0; i < n; ++i) {
    if (done) *done = i;  // which op a malformed() exception is about
    const int e = -apply(ops[i]);
    ++counts.by_errno[static_cast<std::uint32_t>(e) & 0xff];
    if (errnos) errnos[i] = e;
    ++counts.ops;
  }
  if (done) *done = n;
  return counts;
}

std::vector<ChainSlot> Session::chain() const {
  std::vector<ChainSlot> out;
  bundle_->for_each_tuple([&](const Program* p, const Link* l) {
    out.push_back({static_cast<std::uint16_t>(p->id - 1),
                   static_cast<std::uint16_t>(l ? l->id - 1 : kNone)});
  });
  return out;
}

}  // namespace mprog::replay
