// The rules of a chain's dialect: what Bundle and Transaction ask before every change.
#pragma once

#include "plan.hpp"
#include "upstream.hpp"

namespace mprog {

// The view by value, and v2's view and plan in locals of their own: only the (out-of-line)
// v2 call takes their addresses, so on the upstream path all of them stay in registers.
inline Result plan_attach(ChainView b, const Request& r, Link* link, Plan& plan) {
  if (b.dialect() != Dialect::v2) return upstream::plan_attach(b, r, link, plan);
  const ChainView v2_view = b;
  Plan v2_plan;
  const Result result = v2::plan_attach(v2_view, r, link, v2_plan);
  plan = v2_plan;
  return result;
}
inline Result plan_detach(ChainView b, const Request& r, Link* link, Plan& plan) {
  if (b.dialect() != Dialect::v2) return upstream::plan_detach(b, r, link, plan);
  const ChainView v2_view = b;
  Plan v2_plan;
  const Result result = v2::plan_detach(v2_view, r, link, v2_plan);
  plan = v2_plan;
  return result;
}

}  // namespace mprog
