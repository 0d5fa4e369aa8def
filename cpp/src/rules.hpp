// The rules of a chain's dialect: what Bundle and Transaction ask before every change.
#pragma once

#include "plan.hpp"
#include "upstream.hpp"

namespace mprog {

namespace rules_detail {

using Rule = Result(const ChainView&, const Request&, Link*, Plan&);

// The chain's dialect picks the rule. The view comes by value, and v2's view and plan are
// locals of their own: only the (out-of-line) v2 call takes their addresses, so on the
// upstream path (inline) all of them stay in registers.
template <Rule& Upstream, Rule& V2>
inline Result by_dialect(ChainView b, const Request& r, Link* link, Plan& plan) {
  if (b.dialect() != Dialect::v2) return Upstream(b, r, link, plan);
  const ChainView v2_view = b;
  Plan v2_plan;
  const Result result = V2(v2_view, r, link, v2_plan);
  plan = v2_plan;
  return result;
}

}  // namespace rules_detail

inline Result plan_attach(ChainView b, const Request& r, Link* link, Plan& plan) {
  return rules_detail::by_dialect<upstream::plan_attach, v2::plan_attach>(b, r, link, plan);
}
inline Result plan_detach(ChainView b, const Request& r, Link* link, Plan& plan) {
  return rules_detail::by_dialect<upstream::plan_detach, v2::plan_detach>(b, r, link, plan);
}

}  // namespace mprog
