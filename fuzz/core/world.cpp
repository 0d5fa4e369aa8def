#include "world.hpp"

#include <cstdio>

namespace mprog_fuzz {
namespace {

constexpr std::uint32_t kFirstLinkId = 1001;  // apart from program ids, so a mix-up shows

bool known_error(int e) {
  switch (-e) {
    case EINVAL: case EBADF: case ESTALE: case EEXIST: case ERANGE: case ENOENT: case EBUSY:
    case ENOSPC: case EACCES: case ENOLINK: case EPERM:
      return true;
    default:
      return false;
  }
}

// `big` is `small` with one entry added at k (an insert; read backwards, a removal).
bool one_entry_apart(const State& small, const State& big, std::uint32_t k) {
  if (big.count != small.count + 1 || k >= big.count) return false;
  for (std::uint32_t i = 0; i < small.count; ++i) {
    const mprog::QueryEntry& a = small[i];
    const mprog::QueryEntry& b = big[i < k ? i : i + 1];
    if (a.prog_id != b.prog_id || a.link_id != b.link_id || a.prog_flags != b.prog_flags ||
        a.link_flags != b.link_flags)
      return false;
  }
  return true;
}

// The first index where two chains differ (the shorter one's count if none does).
std::uint32_t first_difference(const State& a, const State& b) {
  const std::uint32_t n = a.count < b.count ? a.count : b.count;
  for (std::uint32_t i = 0; i < n; ++i)
    if (a[i].prog_id != b[i].prog_id || a[i].link_id != b[i].link_id) return i;
  return n;
}

std::uint32_t pins_of(const mprog::QueryEntry& e) { return e.prog_flags | e.link_flags; }

}  // namespace

const char* name(Kind k) {
  static constexpr const char* names[] = {"attach", "link", "detach", "link_detach", "update",
                                          "query", "tx_attach", "tx_detach", "tx_end", "fill",
                                          "reset"};
  return names[static_cast<int>(k)];
}

World::World(mprog::Dialect dialect, bool trace)
    : dialect_(dialect), trace_(trace), programs_(kPrograms),
      bundle_(std::make_unique<mprog::Bundle>(dialect)) {
  for (std::uint32_t i = 0; i < kPrograms; ++i) programs_[i] = {i + 1, record_run, nullptr};
}

World::~World() = default;

void World::step(const Op& op) {
  ++step_;
  switch (op.kind) {
    case Kind::attach: return by_program(op, true);
    case Kind::link: return link(op);
    case Kind::detach: return by_program(op, false);
    case Kind::link_detach: return link_detach(op);
    case Kind::update: return update(op);
    case Kind::query: return query(op);
    case Kind::tx_attach: return tx_stage(op, true);
    case Kind::tx_detach: return tx_stage(op, false);
    case Kind::tx_end: return tx_end(op);
    case Kind::fill: return fill(op);
    case Kind::reset: return reset();
  }
}

void World::note(const Op& op, const mprog::Result& r) const {
  if (!trace_) return;
  std::fprintf(stderr, "  #%llu %-11s prog=%d:%u second=%d:%u rel=%d:%u flags=0x%02x rev=%d arg=%u -> %d\n",
               static_cast<unsigned long long>(step_), name(op.kind),
               static_cast<int>(op.prog.source), op.prog.index, static_cast<int>(op.second.source),
               op.second.index, static_cast<int>(op.rel.kind), op.rel.index, op.raw_flags,
               static_cast<int>(op.rev), op.arg, r.error);
}

// ---------------------------------------------------------------- resolving fields

mprog::Program* World::program(const Handle& h, const State& s) {
  if (h.source == Source::chain && s.count) return &programs_[s[h.index % s.count].prog_id - 1];
  return &programs_[h.index % kPrograms];
}

mprog::Ref<mprog::Program> World::prog_ref(const Handle& h, const State& s, bool may_be_none) {
  if (h.source == Source::failed) return mprog::Ref<mprog::Program>::failed(h.error);
  if (h.source == Source::none && may_be_none) return {};
  return program(h, s);
}

mprog::Link* World::link_object(const Handle& h, const State& s) {
  if (h.source == Source::chain) {
    std::uint32_t owned = 0;
    for (std::uint32_t i = 0; i < s.count; ++i) owned += s[i].link_id != 0;
    for (std::uint32_t i = 0, k = owned ? h.index % owned : 0; owned && i < s.count; ++i)
      if (s[i].link_id && k-- == 0) return links_[s[i].link_id - kFirstLinkId].get();
  }
  return links_.empty() ? nullptr : links_[h.index % links_.size()].get();
}

mprog::Relative World::relative(const RelSpec& r, const State& s) {
  switch (r.kind) {
    case RelKind::none: return mprog::Relative::none();
    case RelKind::prog_pool: return mprog::Relative::of(program({Source::pool, r.index, 0}, s));
    case RelKind::prog_chain: return mprog::Relative::of(program({Source::chain, r.index, 0}, s));
    case RelKind::link_pool:
    case RelKind::link_chain: {
      const Source from = r.kind == RelKind::link_chain ? Source::chain : Source::pool;
      const mprog::Link* l = link_object({from, r.index, 0}, s);
      return l ? mprog::Relative::of(l) : mprog::Relative::none();
    }
    case RelKind::failed: return mprog::Relative::failed(r.error);
  }
  return mprog::Relative::none();
}

// Bits 0-4 are REPLACE, BEFORE, AFTER, ID, LINK in either dialect; bits 5-6 are FIRST and
// LAST in v2 and, upstream, the two v2-only bits (unknown there); bit 7 adds any one bit.
std::uint64_t World::flags(std::uint8_t raw, std::uint8_t arg) const {
  namespace f = mprog::flag;
  namespace g = mprog::v2flag;
  std::uint64_t out = 0;
  if (raw & 0x01) out |= v2() ? g::replace : f::replace;
  if (raw & 0x02) out |= v2() ? g::before : f::before;
  if (raw & 0x04) out |= v2() ? g::after : f::after;
  if (raw & 0x08) out |= v2() ? g::id : f::id;
  if (raw & 0x10) out |= v2() ? g::link : f::link;
  if (raw & 0x20) out |= v2() ? g::first : g::last;
  if (raw & 0x40) out |= v2() ? g::last : g::id;
  if (raw & 0x80) out |= std::uint64_t{1} << (arg % 64);
  return out;
}

mprog::Request World::request(const Op& op, const State& s, std::uint64_t current_revision) {
  const bool detaching = op.kind == Kind::detach || op.kind == Kind::tx_detach;
  mprog::Request q;
  q.prog = prog_ref(op.prog, s, detaching);
  q.flags = flags(op.raw_flags, op.arg);
  q.relative = relative(op.rel, s);
  if (!detaching) q.replace = prog_ref(op.second, s, true);
  q.expected_revision = resolve(op.rev, current_revision, op.arg);
  return q;
}

// ---------------------------------------------------------------- checks

World::Outcome World::begin() const {
  Outcome o;
  o.before = observe(*bundle_);
  o.generation = bundle_->generation();
  for (const auto& l : links_) {
    o.attached_before.push_back(l->attached());
    o.prog_before.push_back(l->prog);
  }
  return o;
}

void World::check_links(const State& s) const {
  for (std::uint32_t i = 0; i < s.count; ++i)
    if (s[i].link_id && s[i].link_id - kFirstLinkId >= links_.size())
      fail("the chain names a link the fuzzer never made", s[i].link_id);
  for (const auto& l : links_) {
    if (l->bundle && l->bundle != bundle_.get()) fail("a link points at another bundle", l->id);
    const int k = s.index_of_link(l->id);
    if ((k >= 0) != l->attached()) fail("a link's attached() disagrees with the chain", l->id, k);
    if (k >= 0 && s[static_cast<std::uint32_t>(k)].prog_id != l->prog->id)
      fail("a link's program differs from its slot's", l->id);
  }
}

void World::settle(Outcome& o, const mprog::Result& r, bool changes_on_success) {
  o.after = observe(*bundle_);
  check_state(*bundle_, o.after, kPrograms);
  check_links(o.after);
  if ((r.error != 0) != (r.why != mprog::Why::none)) fail("a result's errno and reason disagree", r.error);
  if (!r && !known_error(r.error)) fail("an errno the core never gives", r.error);
  if (!r && !v2() && r.error == -EACCES) fail("upstream gave the v2-only EACCES");
  const bool changed = r && changes_on_success;
  const std::uint64_t generations = bundle_->generation() - o.generation;
  if (generations != (changed ? 1u : 0u)) fail("changes committed by one operation", generations);
  if (changed) {
    const std::uint64_t expected = o.after.count == 0 ? 1 : o.before.revision + 1;
    if (o.after.revision != expected) fail("revision did not step by one", o.before.revision, o.after.revision);
    if (tx_) changed_since_tx_ = true;
    return;
  }
  if (!same(o.before, o.after)) fail(r ? "a success that changes nothing changed the chain or revision"
                                       : "a failed operation changed the chain or revision", r.error);
  for (std::size_t i = 0; i < o.attached_before.size(); ++i)
    if (links_[i]->attached() != o.attached_before[i] || links_[i]->prog != o.prog_before[i])
      fail("an operation that changed nothing changed a link", static_cast<long long>(i), r.error);
}

void World::check_success_common(const mprog::Request& q, const State& before, bool link_create) const {
  if (q.expected_revision && q.expected_revision != before.revision)
    fail("success despite a stale expected revision", q.expected_revision, before.revision);
  if (q.prog.error) fail("success despite a failed program lookup", q.prog.error);
  if (q.relative.error) fail("success despite a failed relative lookup", q.relative.error);
  const std::uint64_t unknown = q.flags & ~(v2() ? mprog::v2flag::known : mprog::flag::upstream_known);
  // Link creation lets unknown bits below 32 through (upstream checks them only where no
  // directive matched, v2 drops them: docs/v2.md); bits above 31 cannot reach a kernel.
  if (unknown && (!link_create || (q.flags >> 32)))
    fail("success despite unknown flags", static_cast<long long>(q.flags));
}

std::uint32_t World::check_attached(const mprog::Request& asked, const Outcome& o,
                                    std::uint32_t prog_id, const mprog::Link* link) const {
  const State& b = o.before;
  const State& a = o.after;
  const std::uint64_t before_bit = v2() ? mprog::v2flag::before : mprog::flag::before;
  const std::uint64_t after_bit = v2() ? mprog::v2flag::after : mprog::flag::after;
  check_success_common(asked, b, link != nullptr);
  mprog::Request q = asked;
  if (v2() && link) q.flags &= mprog::v2flag::known;  // what a v2 link create keeps
  if (q.flags & mprog::flag::replace) {  // the same bit in both dialects
    if (link) fail("a new link replaced a slot");
    const mprog::Program* old = v2() ? q.relative.prog : q.replace.object;
    if (!old) fail("REPLACE succeeded without a program to replace");
    const int at = b.index_of(old->id);
    if (at < 0) fail("REPLACE succeeded for a program not in the chain", old->id);
    const auto k = static_cast<std::uint32_t>(at);
    if (b[k].link_id) fail("REPLACE by program took a link's slot", k);
    if (b.index_of(prog_id) >= 0 && prog_id != old->id) fail("REPLACE made a duplicate", prog_id);
    if (a.count != b.count || a[k].prog_id != prog_id || a[k].link_id != 0)
      fail("REPLACE did not put the program in the replaced slot", k);
    for (std::uint32_t i = 0; i < a.count; ++i)
      if (i != k && (a[i].prog_id != b[i].prog_id || a[i].link_id != b[i].link_id ||
                     pins_of(a[i]) != pins_of(b[i])))
        fail("REPLACE changed another slot", i);
    if (pins_of(a[k]) != (v2() ? (q.flags & mprog::v2flag::pins) : 0)) fail("REPLACE's pins", k);
    return k;
  }
  if (b.index_of(prog_id) >= 0) fail("attached a program that was already in the chain", prog_id);
  const int at = a.index_of(prog_id);
  if (at < 0) fail("an attach succeeded and the program is not in the chain", prog_id);
  const auto k = static_cast<std::uint32_t>(at);
  if (!one_entry_apart(b, a, k)) fail("an attach changed more than its own slot", k);
  if (a[k].link_id != (link ? link->id : 0)) fail("the new slot's link", a[k].link_id);
  const std::uint32_t last = a.count - 1;
  const mprog::Program* rel = q.relative.prog;
  auto is_rel = [&](std::uint32_t i) {
    return a[i].prog_id == rel->id && (!q.relative.link || a[i].link_id == q.relative.link->id);
  };
  if (rel && (q.flags & before_bit) && (k == last || !is_rel(k + 1)))
    fail("BEFORE X did not land right before X", k);
  if (rel && (q.flags & after_bit) && (k == 0 || !is_rel(k - 1)))
    fail("AFTER X did not land right after X", k);
  if (!v2()) {
    if (!rel && (q.flags & before_bit) && k != 0) fail("BEFORE without a relative is not the head", k);
    if (!rel && !(q.flags & before_bit) && k != last) fail("an append is not the tail", k);
    return k;
  }
  const std::uint32_t pins = pins_of(a[k]);
  if (pins != (q.flags & mprog::v2flag::pins)) fail("v2: pins differ from the request", pins);
  if ((pins & mprog::v2flag::first) && k != 0) fail("v2: FIRST did not land at the head", k);
  if ((pins & mprog::v2flag::last) && k != last) fail("v2: LAST did not land at the tail", k);
  if (!(q.flags & (before_bit | after_bit | mprog::v2flag::pins)) && k != last &&
      !(k + 1 == last && (pins_of(a[last]) & mprog::v2flag::last)))
    fail("v2: an append is neither the tail nor right before the LAST holder", k);
  return k;
}

std::uint32_t World::check_detached(const mprog::Request& q, const Outcome& o,
                                    const mprog::Link* link) const {
  const State& b = o.before;
  const State& a = o.after;
  check_success_common(q, b, false);
  const std::uint32_t k = first_difference(a, b);
  if (!one_entry_apart(a, b, k)) fail("a detach changed more than one slot", k);
  const mprog::Program* named = link ? link->prog : q.prog.object;
  if (named && b[k].prog_id != named->id) fail("detached another program than the one named", k);
  if (b[k].link_id != (link ? link->id : 0))
    fail(link ? "a link detached another slot" : "detach by program removed a link's slot", k);
  const std::uint64_t before_bit = v2() ? mprog::v2flag::before : mprog::flag::before;
  const std::uint64_t after_bit = v2() ? mprog::v2flag::after : mprog::flag::after;
  const mprog::Program* rel = q.relative.prog;
  const std::uint32_t last = b.count - 1;
  int ri = -1;  // the relative's index before the detach
  for (std::uint32_t i = 0; rel && i < b.count && ri < 0; ++i)
    if (b[i].prog_id == rel->id && (!q.relative.link || b[i].link_id == q.relative.link->id))
      ri = static_cast<int>(i);
  if (rel && (q.flags & (before_bit | after_bit)) && ri < 0) fail("detach next to a relative not in the chain");
  // Upstream clamps "before the first" and "after the last" to the ends (bpf_mprog_fetch),
  // so there it removes the relative itself; v2 refuses both. v2 given both directives and
  // a relative takes BEFORE's neighbour (docs/v2.md).
  const bool use_before = q.flags & before_bit;
  const bool use_after = (q.flags & after_bit) && !(v2() && use_before);
  if (rel && use_before && static_cast<int>(k) != (ri > 0 ? ri - 1 : (v2() ? -1 : 0)))
    fail("detach BEFORE X did not remove the entry right before X", k, ri);
  if (rel && use_after &&
      static_cast<int>(k) != (ri < static_cast<int>(last) ? ri + 1 : (v2() ? -1 : ri)))
    fail("detach AFTER X did not remove the entry right after X", k, ri);
  if (!v2() && !rel && !named) {
    if ((q.flags & before_bit) && !(q.flags & after_bit) && k != 0)
      fail("detach BEFORE without anything named did not remove the head", k);
    if (!(q.flags & before_bit) && k != last) fail("detach without anything named did not remove the tail", k);
  }
  if (v2() && (q.flags & mprog::v2flag::first) && k != 0) fail("v2: detach FIRST did not remove the head", k);
  if (v2() && (q.flags & mprog::v2flag::last) && k != last) fail("v2: detach LAST did not remove the tail", k);
  return k;
}

// ---------------------------------------------------------------- operations

// Attach or detach by program, after its dry run: both must decide alike, and the dry
// run's placement must be where the operation acted.
void World::by_program(const Op& op, bool attaching) {
  Outcome o = begin();
  const mprog::Request q = request(op, o.before, o.before.revision);
  mprog::Placement where;
  const mprog::Result dry = attaching ? bundle_->check_attach(q, &where) : bundle_->check_detach(q, &where);
  const mprog::Result r = attaching ? bundle_->attach(q) : bundle_->detach(q);
  note(op, r);
  if (dry.error != r.error) fail("the dry run and the operation disagree", dry.error, r.error);
  settle(o, r, true);
  if (!r) return;
  auto kind = mprog::Placement::Kind::remove;
  std::uint32_t k = 0;
  if (attaching) {
    k = check_attached(q, o, q.prog.object->id, nullptr);
    kind = (q.flags & mprog::flag::replace) ? mprog::Placement::Kind::replace
                                            : mprog::Placement::Kind::insert;
  } else {
    k = check_detached(q, o, nullptr);
  }
  if (where.kind != kind || where.index != k) fail("the dry run placed it elsewhere", where.index, k);
}

void World::link(const Op& op) {
  Outcome o = begin();
  mprog::Link* l = nullptr;
  if ((op.arg & 0x80) && !links_.empty()) {
    l = links_[op.second.index % links_.size()].get();  // an existing link object, again
  } else {
    if (links_.size() >= kMaxLinks) return;
    const auto id = static_cast<std::uint32_t>(kFirstLinkId + links_.size());
    links_.push_back(std::make_unique<mprog::Link>(mprog::Link{id, program(op.prog, o.before), nullptr}));
    o.attached_before.push_back(false);
    o.prog_before.push_back(links_.back()->prog);
    l = links_.back().get();
  }
  const bool was_attached = l->attached();
  mprog::Request q = request(op, o.before, o.before.revision);
  if (op.prog.source != Source::failed) q.prog = l->prog;
  q.replace = {};
  const mprog::Result r = bundle_->attach(*l, q);
  note(op, r);
  if (was_attached && r.error != -EBUSY) fail("attaching an attached link again", r.error);
  settle(o, r, true);
  if (!r) return;
  if (l->bundle != bundle_.get()) fail("an attached link does not point at its bundle");
  check_attached(q, o, l->prog->id, l);
}

void World::link_detach(const Op& op) {
  Outcome o = begin();
  mprog::Ref<mprog::Link> ref = mprog::Ref<mprog::Link>::failed(op.link.error);
  if (op.link.source != Source::failed) {
    ref = link_object(op.link, o.before);
    if (!ref.object) return;  // no link made yet
  }
  const bool was_attached = ref.object && ref.object->attached();
  const mprog::Result r = mprog::detach(ref);
  note(op, r);
  if (ref.error ? r.error != ref.error : !r) fail("link detach result", r.error);
  settle(o, r, was_attached);
  if (!r) return;
  if (ref.object->attached()) fail("a detached link is still attached");
  if (was_attached) check_detached(mprog::Request{}, o, ref.object);
}

void World::update(const Op& op) {
  Outcome o = begin();
  mprog::Ref<mprog::Link> ref = mprog::Ref<mprog::Link>::failed(op.link.error);
  if (op.link.source != Source::failed) {
    ref = link_object(op.link, o.before);
    if (!ref.object) return;
  }
  const mprog::Ref<mprog::Program> next = prog_ref(op.prog, o.before, false);
  const mprog::Ref<mprog::Program> old = prog_ref(op.second, o.before, true);
  std::uint64_t uflags = (op.raw_flags & 1) ? mprog::flag::replace : 0;
  if (op.raw_flags & 0x80) uflags |= std::uint64_t{1} << (op.arg % 64);
  mprog::Link* l = ref.object;
  const bool was_attached = l && l->attached();
  mprog::Program* const prog_before = l ? l->prog : nullptr;
  const mprog::Result r = mprog::update(ref, next, uflags, old);
  note(op, r);
  const bool changes = r && next.object != prog_before;
  settle(o, r, changes);
  if (!r) return;
  if (ref.error || next.error || old.error) fail("update succeeded despite a failed lookup");
  if (uflags & ~mprog::flag::replace) fail("update succeeded with unknown flags");
  if (!(uflags & mprog::flag::replace) && old.object) fail("update took an old program without REPLACE");
  if ((uflags & mprog::flag::replace) && old.object != prog_before) fail("update REPLACE with the wrong old program");
  if (!was_attached) fail("updated a detached link");
  if (l->prog != next.object) fail("the link does not hold its new program");
  if (!changes) return;
  if (o.before.index_of(next.object->id) >= 0) fail("update made a duplicate", next.object->id);
  const int at = o.before.index_of_link(l->id);
  for (std::uint32_t i = 0; i < o.after.count; ++i) {
    const bool mine = static_cast<int>(i) == at;
    const mprog::QueryEntry& x = o.after[i];
    const mprog::QueryEntry& y = o.before[i];
    if (x.link_id != y.link_id || pins_of(x) != pins_of(y) ||
        x.prog_id != (mine ? next.object->id : y.prog_id))
      fail("update changed something other than its link's program", i);
  }
}

void World::query(const Op& op) {
  Outcome o = begin();
  check_short_query(*bundle_, o.before, op.arg % (mprog::kSlots + 2));
  settle(o, {}, false);
}

void World::fill(const Op& op) {
  const std::uint32_t target = op.arg % mprog::kSlots;
  const bool by_link = op.raw_flags & 1;
  State s = observe(*bundle_);
  std::uint32_t next = 0;
  while (s.count < target && next < kPrograms) {
    for (; next < kPrograms && s.index_of(next + 1) >= 0; ++next) {}
    if (next == kPrograms || (by_link && links_.size() >= kMaxLinks)) return;
    Op add;
    add.kind = by_link ? Kind::link : Kind::attach;
    add.prog = {Source::pool, static_cast<std::uint8_t>(next), 0};
    add.second = {Source::none, 0, 0};
    const std::uint64_t generation = bundle_->generation();
    by_link ? link(add) : by_program(add, true);
    if (bundle_->generation() == generation) return;  // refused (a v2 FIRST|LAST holder)
    s = observe(*bundle_);
  }
}

void World::reset() {
  Outcome o = begin();
  bundle_->reset();
  note(Op{Kind::reset}, {});
  settle(o, {}, true);
  if (o.after.count != 0) fail("reset left programs in the chain", o.after.count);
}

// ---------------------------------------------------------------- transactions

mprog::Link* World::shadow_link(const mprog::Link* a) {
  for (auto& l : shadow_links_)
    if (l->id == a->id) {
      l->prog = a->prog;
      return l.get();
    }
  shadow_links_.push_back(std::make_unique<mprog::Link>(mprog::Link{a->id, a->prog, nullptr}));
  return shadow_links_.back().get();
}

// A fresh bundle holding the same chain: appended in order, pins included (FIRST holder
// first, LAST holder last, so every append lands where it stood).
void World::rebuild_shadow(const State& s) {
  shadow_.reset();
  shadow_links_.clear();
  shadow_ = std::make_unique<mprog::Bundle>(dialect_);
  for (std::uint32_t i = 0; i < s.count; ++i) {
    mprog::Request q;
    q.prog = &programs_[s[i].prog_id - 1];
    q.flags = pins_of(s[i]);
    mprog::Result r;
    if (s[i].link_id) {
      mprog::Link* b = shadow_link(links_[s[i].link_id - kFirstLinkId].get());
      b->prog = q.prog.object;
      r = shadow_->attach(*b, q);
    } else {
      r = shadow_->attach(q);
    }
    if (!r) fail("a chain the core built cannot be rebuilt by appending", i, r.error);
  }
  if (!same_chain(observe(*shadow_), s)) fail("the rebuilt chain differs from the original");
}

mprog::Request World::shadow_request(const mprog::Request& q) {
  mprog::Request out = q;
  if (q.relative.link) out.relative = mprog::Relative::of(shadow_link(q.relative.link));
  return out;
}

void World::tx_stage(const Op& op, bool is_attach) {
  if (!tx_) {
    const State s = observe(*bundle_);
    tx_.emplace(*bundle_);
    tx_base_revision_ = s.revision;
    changed_since_tx_ = false;
    rebuild_shadow(s);
  }
  Outcome o = begin();
  const State view = observe(*shadow_);  // the transaction's chain, by construction
  const mprog::Request q = request(op, view, tx_base_revision_);
  mprog::Request qs = shadow_request(q);
  qs.expected_revision = resolve(op.rev, view.revision, op.arg);
  const std::uint32_t operations = tx_->operations();
  const mprog::Result r = is_attach ? tx_->attach(q) : tx_->detach(q);
  const mprog::Result rs = is_attach ? shadow_->attach(qs) : shadow_->detach(qs);
  note(op, r);
  if (r.error != rs.error) fail("a transaction and a bundle decide an operation differently", r.error, rs.error);
  if (tx_->operations() != operations + (r ? 1 : 0)) fail("transaction operation count");
  if (tx_->size() != shadow_->size()) fail("transaction size differs from the shadow's", tx_->size(), shadow_->size());
  check_state(*shadow_, observe(*shadow_), kPrograms);
  settle(o, {}, false);  // nothing reaches the bundle before commit
}

void World::tx_end(const Op& op) {
  if (!tx_) return;
  Outcome o = begin();
  mprog::Result r;
  bool changes = false;
  if (!(op.raw_flags & 1)) {
    const std::uint64_t expected = resolve(op.rev, tx_base_revision_, op.arg);
    const bool must_fail = changed_since_tx_ || (expected && expected != tx_base_revision_);
    changes = tx_->operations() > 0;
    r = tx_->commit(expected);
    if (must_fail ? r.error != -ESTALE : !r) fail("commit result", r.error, must_fail);
  }
  note(op, r);
  settle(o, r, changes);
  if (r && changes && !same_chain(o.after, observe(*shadow_)))
    fail("commit installed another chain than the shadow's");
  tx_.reset();
  shadow_.reset();
  shadow_links_.clear();
}

}  // namespace mprog_fuzz
