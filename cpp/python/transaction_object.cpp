#include "transaction_object.hpp"

#include <vector>

#include "raise.hpp"

namespace mprog::python {

TransactionObject::TransactionObject(py::object bundle, const IntArg& expected_revision)
    : bundle_(std::move(bundle)), tx_(open_core(bundle_)),
      expected_revision_(to_u64(expected_revision, "expected_revision")) {
  // The scratch chain points at every program and link the chain holds now; the chain may
  // let go of them while the transaction is open (a detach, a link closed, the bundle
  // closed), so the transaction holds them itself.
  for (std::uint32_t i = 0; i < tx_.size(); ++i) {
    held_.append(owner(ProgramObject::of(tx_.entry().programs[i])));
    if (Link* l = tx_.slot(i).link()) held_.append(owner(*static_cast<LinkObject*>(l->user)));
  }
}

Bundle& TransactionObject::open_core(py::handle bundle) {
  BundleObject& b = bundle.cast<BundleObject&>();
  b.check_open();
  return b.core();
}

void TransactionObject::check_open() const {
  if (done_) raise_value_error("the transaction is already committed or discarded");
  bundle().check_open();  // a bundle closed meanwhile takes nothing more
}

Result TransactionObject::attach_result(const ProgramArg& prog, const FlagsArg& flags,
                                        const RelativeArg& relative, const RelativeArg& replace,
                                        const IntArg& expected_revision, Refusal refusal) {
  check_open();
  Arguments a = bundle().arguments(flags, relative, replace, expected_revision, true);
  Request& r = a.request;
  r.prog = program_argument(prog, false);
  const Result res = tx_.attach(r);
  if (!res) {
    if (refusal == Refusal::keep) return res;
    raise_result(res, Context::of("attach", r, bundle().core(), a.anchor).locate(res, tx_));
  }
  held_.append(prog);  // the scratch chain points at it
  return res;
}

Result TransactionObject::detach_result(const OptionalProgramArg& prog, const FlagsArg& flags,
                                        const RelativeArg& relative,
                                        const IntArg& expected_revision, Refusal refusal) {
  check_open();
  Arguments a = bundle().arguments(flags, relative, py::none(), expected_revision, false);
  Request& r = a.request;
  r.prog = program_argument(prog, true);
  const Result res = tx_.detach(r);
  if (!res && refusal == Refusal::raise)
    raise_result(res, Context::of("detach", r, bundle().core(), a.anchor).locate(res, tx_));
  return res;
}

Result TransactionObject::commit_result(Refusal refusal) {
  check_open();
  BundleObject& b = bundle();
  // Hold what the new chain holds before letting go of what the old one held, so a program
  // in both never drops to zero references in between.
  std::vector<Program*> joining;
  for (std::uint32_t i = 0; i < tx_.size(); ++i)
    if (!tx_.slot(i).link()) joining.push_back(tx_.entry().programs[i]);
  for (Program* p : joining) hold(ProgramObject::of(p));
  std::vector<Program*> leaving;
  b.core().for_each_tuple([&](Program* p, const Link* link) {
    if (!link) leaving.push_back(p);
  });
  const Result res = tx_.commit(expected_revision_);
  if (!res) {
    for (Program* p : joining) release(ProgramObject::of(p));
    if (refusal == Refusal::keep) return res;
    Context c("transaction");
    c.expected_revision = expected_revision_;
    c.revision = b.revision();
    c.base_revision = tx_.base_revision();
    raise_result(res, c);
  }
  done_ = true;
  if (tx_.operations() == 0) {  // nothing was installed: undo the holds taken above
    for (Program* p : joining) release(ProgramObject::of(p));
    return res;
  }
  for (Program* p : leaving) release(ProgramObject::of(p));
  b.changed();
  return res;
}

py::list TransactionObject::programs() const {
  py::list out;
  for (std::uint32_t i = 0; i < tx_.size(); ++i)
    out.append(owner(ProgramObject::of(tx_.entry().programs[i])));
  return out;
}

}  // namespace mprog::python
