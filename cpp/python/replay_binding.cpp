// mprog._core.replay(ops, programs, links=0, dialect="upstream", errnos=False).
//
// `ops` is any C-contiguous buffer of 16-byte mprog::replay::Op records (python/mprog/batch.py
// builds them). The replay runs without the GIL: it touches no Python object.
#include "replay_binding.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "mprog/naming.hpp"
#include "mprog/replay.hpp"

namespace mprog::python {
namespace py = pybind11;
namespace {

Dialect parse_dialect(const std::string& d) {
  if (auto known = naming::dialect(d)) return *known;
  throw py::value_error("unknown dialect '" + d + "' (expected 'upstream' or 'v2')");
}

py::dict replay(py::handle ops, std::uint32_t programs, std::uint32_t links,
                const std::string& dialect, bool want_errnos) {
  using replay::Op;
  Bytes bytes(ops);
  if (bytes.size() % sizeof(Op))
    throw py::value_error("ops must be a whole number of 16-byte records");
  const std::size_t n = bytes.size() / sizeof(Op);
  const Op* trace = reinterpret_cast<const Op*>(bytes.data());
  std::vector<Op> aligned;
  if (reinterpret_cast<std::uintptr_t>(trace) % alignof(Op)) {
    aligned.resize(n);
    std::memcpy(aligned.data(), bytes.data(), n * sizeof(Op));
    trace = aligned.data();
  }
  replay::Session session(parse_dialect(dialect), programs, links);
  std::vector<std::int32_t> errnos(want_errnos ? n : 0);
  replay::Counts counts;
  std::size_t done = 0;
  try {
    py::gil_scoped_release unlocked;
    counts = session.apply(trace, n, want_errnos ? errnos.data() : nullptr, &done);
  } catch (const std::invalid_argument& e) {
    throw py::value_error("op " + std::to_string(done) + ": " + e.what());
  }

  py::dict by_errno;
  for (std::size_t e = 0; e < counts.by_errno.size(); ++e)
    if (counts.by_errno[e]) by_errno[py::int_(e)] = counts.by_errno[e];
  py::list chain;
  for (const replay::ChainSlot& s : session.chain())
    chain.append(py::make_tuple(s.prog, s.link == replay::kNone ? py::object(py::none())
                                                                 : py::object(py::int_(s.link))));
  py::dict out;
  out["ops"] = counts.ops;
  out["counts"] = by_errno;
  out["revision"] = session.bundle().revision();
  out["chain"] = chain;
  out["errnos"] = want_errnos ? py::object(py::bytes(reinterpret_cast<const char*>(errnos.data()),
                                                     n * sizeof(std::int32_t)))
                              : py::object(py::none());
  return out;
}

}  // namespace

void bind_replay(py::module_& m) {
  m.def("replay", &replay, py::arg("ops"), py::arg("programs"), py::arg("links") = 0,
        py::arg("dialect") = "upstream", py::arg("errnos") = false,
        "Apply a trace of 16-byte ops (see mprog.batch) to a new bundle in one call.\n"
        "Returns {'ops', 'counts' (errno -> n, 0 = success), 'revision', 'chain' ((prog, link)\n"
        "indices in order), 'errnos' (int32 per op, if asked)}.");
}

}  // namespace mprog::python
