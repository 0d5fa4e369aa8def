// mprog._core.Executor (executor.hpp): records run through BundleObject and the link methods.
//
// Every op goes through the binding's own code (BundleObject::attach_result, link_result,
// detach_result, update_link_result, detach_link_result, LinkObject::close,
// ProgramObject::close) with Python objects as arguments, exactly as a Python call passes
// them; only the core's refusal comes back as a Result instead of an exception (Refusal::keep).
// Queries read the core's query as BundleObject::query does (QueryTooSmall's partial result
// too); the ops of a transaction go through Bundle.transaction and TransactionObject's
// *_result methods (the refusal handed back, as the bundle's). An argument a record cannot
// hold (bad input, a literal revision, wide flags, a raw id) is passed as the object the
// caller put beside the record (arg(): mprog.batch.record_aside).
// Per op the executor then builds what mprog.ops.Interpreter builds for a backend:
//   answer:  ["ok", None] / ["ok", label] / ["err", "ENAME"] / ["raise", "TypeError"] / ...
//   state:   (revision, count, program labels, link labels, program flags, link flags), or
//            ("closed",); one tuple object reused while the chain does not change
//   handles: the handles the op named: (link state,) / (closed,) / ()
// Labels are list positions: programs[i] is the program labelled i, links[j] the link
// labelled j (None where its link op failed).
#include "executor.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "bundle_object.hpp"
#include "links.hpp"
#include "mprog/replay.hpp"
#include "objects.hpp"
#include "replay_binding.hpp"
#include "transaction_object.hpp"

namespace mprog::python {
namespace {

using replay::Arg;
using replay::Expect;
using replay::kNone;
using replay::Op;
using replay::Opcode;

[[noreturn]] void malformed(const std::string& what) {
  throw std::invalid_argument("malformed record: " + what);
}

// Opcodes of the executor alone (mprog.batch: QUERY, TX_*), past replay::Opcode's: a query
// and the ops of a transaction, which a Session has no use for (see the header comment for
// how they run). A transaction is named by label in Op::link; a query's count by
// its kind in Op::expect (CountKind) and, for CountKind::value, its value in Op::flags.
constexpr std::uint8_t kQuery = 8, kTxBegin = 9, kTxAttach = 10, kTxDetach = 11,
                       kTxCommit = 12, kTxDiscard = 13;

// The arguments a record may leave aside (mprog.batch.ASIDE_*), a bit each of Op::reserved.
constexpr std::uint8_t kAsideProg = 1, kAsideFlags = 2, kAsideRelative = 4, kAsideOther = 8,
                       kAsideRevision = 16;

// mprog.ops.Interpreter._count's kinds.
enum class CountKind : std::uint8_t { none, zero, shorter, exact, larger, value };

// Labels by id: the ids an executor sees are near each other (ids are handed out in order
// and a trace makes its objects one after another), so most live in a flat array from the
// first id seen; an id far from it goes to a map.
class Labels {
 public:
  void set(std::uint32_t id, std::size_t label) {
    if (flat_.empty() && map_.empty()) base_ = id;
    const std::uint64_t at = static_cast<std::uint64_t>(id) - base_;
    if (id >= base_ && at < kFlat) {
      if (at >= flat_.size()) flat_.resize(static_cast<std::size_t>(at) + 1, kAbsent);
      flat_[static_cast<std::size_t>(at)] = label;
    } else {
      map_[id] = label;
    }
  }
  // The label of `id`, or kAbsent.
  std::size_t find(std::uint32_t id) const {
    const std::uint64_t at = static_cast<std::uint64_t>(id) - base_;
    if (id >= base_ && at < flat_.size()) return flat_[static_cast<std::size_t>(at)];
    if (map_.empty()) return kAbsent;
    auto it = map_.find(id);
    return it == map_.end() ? kAbsent : it->second;
  }
  static constexpr std::size_t kAbsent = ~std::size_t{0};

 private:
  static constexpr std::uint64_t kFlat = 1u << 16;
  std::uint32_t base_ = 0;
  std::vector<std::size_t> flat_;
  std::unordered_map<std::uint32_t, std::size_t> map_;
};

class Executor {
 public:
  Executor(py::object bundle, py::dict errnames, py::dict txs)
      : txs(std::move(txs)), bundle_(std::move(bundle)), b_(&bundle_.cast<BundleObject&>()),
        errnames_(std::move(errnames)),
        ok_(py::reinterpret_steal<py::str>(PyUnicode_InternFromString("ok"))), empty_(0), closed_(py::make_tuple("closed")) {
    if (b_->cgroup()) throw py::value_error("the executor runs chains (upstream, v2), not cgroups");
    py::list ok_none(2);
    ok_none[0] = ok_;
    ok_none[1] = py::none();
    ok_none_ = std::move(ok_none);
    chain_full_ = py::module_::import("mprog.errors").attr("ChainFull");
  }

  // Runs the records; (answers, states, handles), one entry per record, or up to and
  // including the first record that names an object the core does not have, whose answer is
  // ["malformed", why].
  //
  // With `expected` (the model's (answers, states, handles) for the same records) the
  // comparison is made here, op by op: None if every op agrees, else the lists up to and
  // including the first op that differs. The core's state and handles are compared with the
  // model's where they are, without making the core's Python objects (same_state,
  // same_handles); they are made only for the op that differs. The entries before it agreed,
  // so they are the model's own (equal) objects.
  //
  // With `snapshots` too (the model's Interpreter.snapshot() after each record: a trace
  // checked in full), an op agrees only if the core's handles and the bundle's revision, len
  // and iteration equal the model's snapshot as well (its chain is the state compared
  // above): everything the core's own snapshot would hold.
  py::object run(py::handle records, const std::optional<py::tuple>& expected = std::nullopt,
                 const std::optional<py::list>& snapshots = std::nullopt) {
    Bytes bytes(records);
    if (bytes.size() % sizeof(Op)) throw py::value_error("records must be 16 bytes each");
    const std::size_t n = bytes.size() / sizeof(Op);
    if (snapshots && (!expected || snapshots->size() != n))
      throw py::value_error("snapshots: one per record, with expected");
    if (!expected) {
      learn_labels();
      return run_all(bytes, n);
    }
    if (expected->size() != 3) throw py::value_error("expected: (answers, states, handles)");
    const Lists lists{bytes, (*expected)[0].cast<py::list>(), (*expected)[1].cast<py::list>(),
                      (*expected)[2].cast<py::list>()};
    if (lists.answers.size() != n || lists.states.size() != n || lists.handles.size() != n)
      throw py::value_error("expected: one answer, state and handles per record");
    learn_labels();
    return compared(lists, n, snapshots);
  }

  // run(records, expected, snapshots) with the records and the model's outcomes in one list,
  // an entry per op: (record, answer, state, handles, ...) (items after these are the
  // caller's). What the engine queues, one append per op.
  py::object check(const py::list& queue, const std::optional<py::list>& snapshots) {
    const std::size_t n = queue.size();
    for (const py::handle entry : queue) {
      PyObject* e = entry.ptr();
      if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 4 || !PyBytes_Check(PyTuple_GET_ITEM(e, 0)) ||
          PyBytes_GET_SIZE(PyTuple_GET_ITEM(e, 0)) != sizeof(Op))
        throw py::value_error("queue: (16-byte record, answer, state, handles, ...) per op");
    }
    if (snapshots && snapshots->size() != n)
      throw py::value_error("snapshots: one per entry of the queue");
    learn_labels();
    return compared(Queue{queue}, n, snapshots);
  }

  // Whether the core reads as the model's state (Interpreter.state()) and snapshot say: the
  // end of a trace, without the core's own snapshot.
  bool agrees(const py::tuple& model_state, const py::dict& snapshot) {
    learn_labels();
    if (b_->closed()) return equal(closed_.ptr(), model_state.ptr()) && matches(snapshot);
    now_.read(b_->core());
    Verdict v = walk_state(model_state.ptr(), now_, no_prior_);
    if (v == Unsure) v = equal(state().ptr(), model_state.ptr()) ? Same : Differ;
    return v == Same && matches(snapshot);
  }

  // Close the links, then the programs, it made (as Interpreter.close closes a backend's,
  // where the interpreter had to be handed them first, and closed each through a Python
  // call): what failed, as "<name>: l<label>.close(): <class>: <message>".
  py::list close_made(const std::string& name) {
    py::list problems;
    const auto each = [&](const py::list& made, const char* kind, auto&& close) {
      for (std::size_t label = 0; label < made.size(); ++label) {
        const py::handle obj = made[label];
        if (obj.is_none()) continue;
        try {
          close(obj);
        } catch (py::error_already_set& e) {
          problems.append(name + ": " + kind + std::to_string(label) + ".close(): " +
                          py::str(e.type().attr("__name__")).cast<std::string>() + ": " +
                          py::str(e.value()).cast<std::string>());
        }
      }
    };
    each(links, "l", [](py::handle obj) { unwrap<LinkObject>(obj).close(); });
    each(programs, "p", [](py::handle obj) { unwrap<ProgramObject>(obj).close(); });
    return problems;
  }

  py::list programs, links;
  py::dict txs;  // transactions by label (shared with the core's interpreter)

 private:
  static Op record(const Bytes& bytes, std::size_t i) {
    Op op;
    std::memcpy(&op, bytes.data() + i * sizeof(Op), sizeof(Op));  // any alignment
    return op;
  }

  // Where compared() reads the records and the model's outcomes: run()'s records and three
  // lists, or check()'s queue. up_to(i): the three lists of ops 0 .. i-1.
  struct Lists {
    const Bytes& bytes;
    py::list answers, states, handles;
    Op op(std::size_t i) const { return record(bytes, i); }
    PyObject* answer(std::size_t i) const { return PyList_GET_ITEM(answers.ptr(), i); }
    PyObject* state(std::size_t i) const { return PyList_GET_ITEM(states.ptr(), i); }
    PyObject* handle(std::size_t i) const { return PyList_GET_ITEM(handles.ptr(), i); }
    PyObject* side(std::size_t) const { return nullptr; }  // records alone: nothing aside
    std::array<py::list, 3> up_to(std::size_t i) const {
      const py::slice before(0, static_cast<py::ssize_t>(i), 1);
      return {answers[before], states[before], handles[before]};
    }
  };
  struct Queue {
    const py::list& queue;
    PyObject* item(std::size_t i, int k) const {
      return PyTuple_GET_ITEM(PyList_GET_ITEM(queue.ptr(), i), k);
    }
    Op op(std::size_t i) const {
      Op op;
      std::memcpy(&op, PyBytes_AS_STRING(item(i, 0)), sizeof(Op));
      return op;
    }
    PyObject* answer(std::size_t i) const { return item(i, 1); }
    PyObject* state(std::size_t i) const { return item(i, 2); }
    PyObject* handle(std::size_t i) const { return item(i, 3); }
    // The arguments the record left aside (its sixth item, if any: a tuple, or None).
    PyObject* side(std::size_t i) const {
      PyObject* e = PyList_GET_ITEM(queue.ptr(), i);
      return PyTuple_GET_SIZE(e) > 5 ? PyTuple_GET_ITEM(e, 5) : nullptr;
    }
    std::array<py::list, 3> up_to(std::size_t i) const {
      std::array<py::list, 3> out{py::list(i), py::list(i), py::list(i)};
      for (std::size_t j = 0; j < i; ++j)
        for (int k = 0; k < 3; ++k) out[k][j] = py::reinterpret_borrow<py::object>(item(j, k + 1));
      return out;
    }
  };

  // The comparison of run() and check(): None if every op agrees with the model's outcomes,
  // else the lists up to and including the first op that differs (see run()).
  template <typename Source>
  py::object compared(const Source& want, std::size_t n, const std::optional<py::list>& snapshots) {
    agreed_.mine = nullptr;  // a state object of this call's lists
    for (std::size_t i = 0; i < n; ++i) {
      const Op op = want.op(i);
      py::object answer;
      const bool known = applied(op, i, answer, want.side(i));
      PyObject* const want_state = want.state(i);
      bool same = known && (answer.is(labelled_) ? same_labelled(want.answer(i))
                                                 : equal(answer.ptr(), want.answer(i)));
      const bool closed = b_->closed();
      if (same && closed) {
        same = equal(empty_.ptr(), want.handle(i)) && equal(closed_.ptr(), want_state);
      } else if (same) {
        same = same_handles(op, want.handle(i)) && same_state(want_state);
      }
      if (same && snapshots) same = matches((*snapshots)[i]);
      if (same) continue;
      // The lists up to this op: the model's where they agreed, then the core's.
      auto [answers, states, handles] = want.up_to(i);
      answers.append(this->answer(answer));
      states.append(!known ? py::object(py::none()) : closed ? py::object(closed_) : state());
      handles.append(!known ? py::object(py::none()) : closed ? py::object(empty_)
                                                              : named_handles(op));
      return py::make_tuple(answers, states, handles);
    }
    return py::none();
  }

  // Runs record i: its answer as the interpreter normalizes it, or false (the answer then
  // ["malformed", why]) for a record naming an object the core does not have. After an
  // earlier op on which core and model disagreed (a link the model made and the core
  // refused), that is the trail of a divergence: the lists stop there, so the caller
  // compares what ran and reports the earlier op. With nothing before it to blame, the
  // caller raises.
  bool applied(const Op& op, std::size_t i, py::object& answer, PyObject* side = nullptr) {
    side_ = side;  // the arguments record i left aside, read by arg() while it runs
    try {
      answer = apply(op);
    } catch (py::error_already_set& e) {
      answer = raised(e);
    } catch (const py::builtin_exception& e) {  // raise_value_error, raise_type_error
      e.set_error();
      py::error_already_set as_raised;
      answer = raised(as_raised);
    } catch (const std::invalid_argument& e) {
      py::list why(2);
      why[0] = py::str("malformed");
      why[1] = py::str("record " + std::to_string(i) + ": " + e.what());
      answer = std::move(why);
      return false;
    }
    return true;
  }

  // run() without `expected`: every op's answer, state and handles as Python objects.
  py::object run_all(const Bytes& bytes, std::size_t n) {
    py::list answers(n), states(n), handles(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Op op = record(bytes, i);
      py::object answer;
      if (!applied(op, i, answer)) {
        answers[i] = std::move(answer);
        states[i] = py::none();
        handles[i] = py::none();
        const py::slice ran(0, static_cast<py::ssize_t>(i + 1), 1);
        return py::make_tuple(answers[ran], states[ran], handles[ran]);
      }
      answers[i] = this->answer(answer);
      const bool closed = b_->closed();
      states[i] = closed ? py::object(closed_) : state();
      handles[i] = closed ? py::object(empty_) : named_handles(op);
    }
    return py::make_tuple(answers, states, handles);
  }

  // Python's ==, as the interpreter's lists are compared (identity first).
  static bool equal(PyObject* core, PyObject* model) {
    if (core == model) return true;
    const int r = PyObject_RichCompareBool(core, model, Py_EQ);
    if (r < 0) throw py::error_already_set();
    return r == 1;
  }

  // Comparisons made on C values where the model's object has an exact built-in type (what
  // its interpreter makes): what Python's == says of the core's object and `model`, or
  // Unsure where only the core's Python object can say (the caller then makes it and asks
  // Python's ==). Never a different verdict than Python's ==.
  enum Verdict { Differ = 0, Same = 1, Unsure = 2 };

  static Verdict same_int(PyObject* model, std::uint64_t value) {
    // CPython keeps one object per small int: most labels, flags and counts are found so
    static const std::array<PyObject*, 257> small = [] {
      std::array<PyObject*, 257> out{};
      for (long i = 0; i < 257; ++i) out[i] = PyLong_FromLong(i);  // held for good
      return out;
    }();
    if (value < small.size() && model == small[value]) return Same;
    if (!PyLong_CheckExact(model)) return Unsure;
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(model, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return Unsure;
    }
    return v >= 0 && static_cast<std::uint64_t>(v) == value ? Same : Differ;
  }

  static Verdict same_bool(PyObject* model, bool value) {
    if (!PyBool_Check(model)) return Unsure;  // bool has no subclasses
    return (model == Py_True) == value ? Same : Differ;
  }

  // A label as prog_label/link_label make it: an int, None for no link, "?id" (Unsure: the
  // string is made and compared) for an object the executor has no label for.
  static Verdict same_label(PyObject* model, const Labels& labels, std::uint32_t id,
                            bool none_for_zero) {
    if (none_for_zero && id == 0) {
      if (model == Py_None) return Same;
      return PyLong_CheckExact(model) || PyUnicode_CheckExact(model) ? Differ : Unsure;
    }
    const std::size_t label = labels.find(id);
    if (label == Labels::kAbsent) return Unsure;
    if (model == Py_None) return Differ;
    return same_int(model, label);
  }

  // The core's chain as query reads it (members of the executor: a QueryEntry array is
  // zeroed where it is made).
  struct Chain {
    PyObject* mine = nullptr;  // the model's state found equal to it (borrowed: the caller's)
    QueryHead head;
    std::uint32_t n = 0;
    QueryEntry entries[kSlots];

    void read(const Bundle& core) {
      core.query(head, entries, kSlots);
      n = head.count < kSlots ? head.count : static_cast<std::uint32_t>(kSlots);
    }
    bool same_as(const Chain& other) const {
      return head.revision == other.head.revision && head.count == other.head.count &&
             std::memcmp(entries, other.entries, n * sizeof(QueryEntry)) == 0;
    }
    void keep(const Chain& other, PyObject* state) {
      mine = state;
      head = other.head;
      n = other.n;
      std::memcpy(entries, other.entries, n * sizeof(QueryEntry));
    }
  };

  // Whether the core's chain equals the model's state (Interpreter.state(), a 6-tuple), as
  // state() == `mine` would say, without making state(). While neither the model's state
  // object nor the core's chain changed since they last agreed, they still agree.
  bool same_state(PyObject* mine) {
    const Bundle& core = b_->core();
    // (most ops change no chain: the bundle's generation, stepped by every publish, says so
    // without reading the chain)
    if (mine == agreed_.mine && core.generation() == agreed_generation_) return true;
    Chain& now = now_;
    now.read(core);
    if (mine == agreed_.mine && now.same_as(agreed_)) {
      agreed_generation_ = core.generation();
      return true;
    }
    Verdict v = walk_state(mine, now, agreed_);
    if (v == Unsure) v = equal(state().ptr(), mine) ? Same : Differ;
    if (v == Differ) return false;
    agreed_.keep(now, mine);
    agreed_generation_ = core.generation();
    return true;
  }

  // The four columns of a state (program labels, link labels, program flags, link flags) as
  // arrays, if it is a 6-tuple of exact tuples of n items each.
  static bool columns_of(PyObject* state, std::uint32_t n, PyObject* const* (&out)[4]) {
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 6) return false;
    for (int k = 0; k < 4; ++k) {
      PyObject* column = PyTuple_GET_ITEM(state, 2 + k);
      if (!PyTuple_CheckExact(column) || PyTuple_GET_SIZE(column) != static_cast<Py_ssize_t>(n))
        return false;
      out[k] = &PyTuple_GET_ITEM(column, 0);
    }
    return true;
  }

  Verdict walk_state(PyObject* mine, const Chain& c, const Chain& prior) const {
    if (!PyTuple_CheckExact(mine)) return Unsure;
    if (PyTuple_GET_SIZE(mine) != 6) return Differ;
    Verdict v = same_int(PyTuple_GET_ITEM(mine, 0), c.head.revision);
    if (v != Same) return v;
    v = same_int(PyTuple_GET_ITEM(mine, 1), c.head.count);
    if (v != Same) return v;
    PyObject* const* has[4];
    for (int k = 0; k < 4; ++k) {
      PyObject* column = PyTuple_GET_ITEM(mine, 2 + k);
      if (!PyTuple_CheckExact(column)) return Unsure;
      if (PyTuple_GET_SIZE(column) != static_cast<Py_ssize_t>(c.n)) return Differ;
      has[k] = &PyTuple_GET_ITEM(column, 0);
    }
    // An entry equal to one of the chain when it last agreed, whose four model objects are
    // the very objects it agreed with then, agrees again: only what lies between the common
    // prefix and the common suffix is compared (an op adds, removes or replaces a few).
    std::uint32_t from = 0, to = c.n;
    PyObject* const* had[4];
    if (prior.mine && columns_of(prior.mine, prior.n, had)) {
      auto kept = [&](std::uint32_t j, std::uint32_t k) {
        return std::memcmp(&c.entries[j], &prior.entries[k], sizeof(QueryEntry)) == 0 &&
               has[0][j] == had[0][k] && has[1][j] == had[1][k] && has[2][j] == had[2][k] &&
               has[3][j] == had[3][k];
      };
      const std::uint32_t both = std::min(c.n, prior.n);
      while (from < both && kept(from, from)) ++from;
      while (to > from && c.n - to < prior.n && kept(to - 1, prior.n - 1 - (c.n - to))) --to;
    }
    Verdict out = Same;  // a Differ anywhere is final; an Unsure only if nothing differs
    auto take = [&out](Verdict x) {
      if (x == Differ) out = Differ;
      else if (x == Unsure && out == Same) out = Unsure;
      return out != Differ;
    };
    for (std::uint32_t j = from; j < to; ++j) {
      const QueryEntry& e = c.entries[j];
      if (!take(same_label(has[0][j], prog_label_, e.prog_id, false)) ||
          !take(same_label(has[1][j], link_label_, e.link_id, true)) ||
          !take(same_int(has[2][j], e.prog_flags)) || !take(same_int(has[3][j], e.link_flags)))
        return Differ;
    }
    return out;
  }

  // Whether named_handles(op) == `mine`, without making it where the model's is plain.
  bool same_handles(const Op& op, PyObject* mine) const {
    Verdict v = walk_handles(op, mine);
    if (v == Unsure) v = equal(named_handles(op).ptr(), mine) ? Same : Differ;
    return v == Same;
  }

  Verdict walk_handles(const Op& op, PyObject* mine) const {
    if (!PyTuple_CheckExact(mine)) return Unsure;
    switch (op.code) {
      case Opcode::link:
      case Opcode::update:
      case Opcode::link_detach:
      case Opcode::close_link: {
        if (op.link >= links.size() || links[op.link].is_none())
          return PyTuple_GET_SIZE(mine) == 0 ? Same : Differ;
        if (PyTuple_GET_SIZE(mine) != 1) return Differ;
        return walk_link_state(unwrap<LinkObject>(links[op.link]),
                               PyTuple_GET_ITEM(mine, 0));
      }
      case Opcode::close_program:
        if (PyTuple_GET_SIZE(mine) != 1) return Differ;
        return same_bool(PyTuple_GET_ITEM(mine, 0),
                         unwrap<ProgramObject>(program(op.prog)).closed);
      default:
        return PyTuple_GET_SIZE(mine) == 0 ? Same : Differ;
    }
  }

  // link_state(l) == `mine` ([attached, closed, program label]).
  Verdict walk_link_state(const LinkObject& l, PyObject* mine) const {
    if (!PyList_CheckExact(mine)) return Unsure;
    if (PyList_GET_SIZE(mine) != 3) return Differ;
    const Verdict attached = same_bool(PyList_GET_ITEM(mine, 0), l.core.attached());
    if (attached != Same) return attached;
    const Verdict closed = same_bool(PyList_GET_ITEM(mine, 1), l.closed);
    if (closed != Same) return closed;
    PyObject* label = PyList_GET_ITEM(mine, 2);
    if (l.prog.is_none()) return label == Py_None ? Same : Unsure;
    if (label == Py_None) return Differ;
    return same_label(label, prog_label_, as_program(l.prog).core.id, false);
  }

  // Objects the caller appended (made op by op in Python) get their labels too.
  void learn_labels() {
    for (; known_programs_ < programs.size(); ++known_programs_) {
      py::handle p = programs[known_programs_];
      if (!p.is_none()) prog_label_.set(unwrap<ProgramObject>(p).core.id, known_programs_);
      have_state_ = false;  // an id may read differently now
    }
    for (; known_links_ < links.size(); ++known_links_) {
      py::handle l = links[known_links_];
      if (!l.is_none()) link_label_.set(unwrap<LinkObject>(l).core.id, known_links_);
      have_state_ = false;
    }
  }

  py::object program(std::uint16_t i) const {
    if (i >= programs.size()) malformed("no program " + std::to_string(i));
    return programs[i];
  }
  py::object link(std::uint16_t i) const {
    if (i >= links.size() || links[i].is_none()) malformed("no link " + std::to_string(i));
    return links[i];
  }

  // The argument `bit` names if record left it aside (mprog.batch.record_aside: the
  // record's fourth byte has a bit per argument, the entry's side tuple holds them in the
  // order of the bits, each the object the core's interpreter would pass), else what
  // `said()` makes of the record's own field.
  template <typename Said>
  py::object arg(const Op& op, std::uint8_t bit, Said said) const {
    if (!(op.reserved & bit)) return said();
    if (side_ == nullptr || !PyTuple_Check(side_)) malformed("arguments aside, no side tuple");
    const auto at = static_cast<Py_ssize_t>(__builtin_popcount(op.reserved & (bit - 1u)));
    if (at >= PyTuple_GET_SIZE(side_)) malformed("the side tuple is too short");
    return py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(side_, at));
  }
  py::object program_arg(const Op& op) const {
    return arg(op, kAsideProg, [&] { return program(op.prog); });
  }
  py::object optional_program_arg(const Op& op) const {
    return arg(op, kAsideProg, [&] { return optional_program(op.prog); });
  }
  py::object flags_arg(const Op& op) const {
    return arg(op, kAsideFlags, [&] { return py::object(py::int_(op.flags)); });
  }
  py::object relative_arg(const Op& op) const {
    return arg(op, kAsideRelative, [&] { return relative(op); });
  }
  py::object other_arg(const Op& op) const {
    return arg(op, kAsideOther, [&] { return optional_program(op.other); });
  }
  py::object revision_arg(const Op& op) const {
    return arg(op, kAsideRevision, [&] { return expected(op.expect); });
  }

  // As mprog.ops.Interpreter._target passes a relative.
  py::object relative(const Op& op) const {
    switch (op.relative_kind) {
      case Arg::none: return py::none();
      case Arg::program: return program(op.relative);
      case Arg::link: return link(op.relative);
      case Arg::value: return py::int_(op.relative);
      case Arg::program_id: return py::int_(unwrap<ProgramObject>(program(op.relative)).core.id);
      case Arg::link_id: return py::int_(unwrap<LinkObject>(link(op.relative)).core.id);
      case Arg::no_id: return py::int_(replay::kNoId);
    }
    malformed("unknown relative kind");
  }

  // As mprog.ops.Interpreter._revision reads it (the bundle's revision: ValueError if closed).
  py::object expected(Expect e) const {
    switch (e) {
      case Expect::any: return py::int_(0);
      case Expect::current: return py::int_(b_->revision());
      case Expect::stale: return py::int_(b_->revision() + 1);
      case Expect::previous: return py::int_(replay::previous_revision(b_->revision()));
    }
    malformed("unknown expected-revision mode");
  }

  py::object optional_program(std::uint16_t i) const {
    return i == kNone ? py::object(py::none()) : program(i);
  }

  py::object transaction(std::uint16_t label) const {
    py::int_ key(label);
    if (!txs.contains(key)) malformed("no transaction " + std::to_string(label));
    return txs[key];
  }

  // The interpreter's normalized query result of the first n entries: ids as labels, flag
  // arrays as lists.
  py::dict normalized(const QueryHead& head, const QueryEntry* entries, std::uint32_t n) const {
    auto [progs, link_labels, prog_flags, link_flags] = columns<py::list>(entries, n);
    py::dict out;
    out["revision"] = py::int_(head.revision);
    out["count"] = py::int_(head.count);
    out["progs"] = std::move(progs);
    out["links"] = std::move(link_labels);
    out["prog_flags"] = std::move(prog_flags);
    out["link_flags"] = std::move(link_flags);
    return out;
  }

  // A query's first n entries as four sequences (a list each for an answer, a tuple each for
  // a state): program labels, link labels, program flags, link flags.
  template <typename Seq>
  std::array<Seq, 4> columns(const QueryEntry* entries, std::uint32_t n) const {
    std::array<Seq, 4> out{Seq(n), Seq(n), Seq(n), Seq(n)};
    for (std::uint32_t i = 0; i < n; ++i) {
      out[0][i] = prog_label(entries[i].prog_id);
      out[1][i] = link_label(entries[i].link_id);
      out[2][i] = py::int_(entries[i].prog_flags);
      out[3][i] = py::int_(entries[i].link_flags);
    }
    return out;
  }

  // As mprog.ops.Interpreter runs {"op": "query", "count": ...}: Bundle.query's answer (a
  // QueryResult, or QueryTooSmall (ENOSPC) with the entries that fit), read from the core's
  // query as BundleObject::query reads it, without making the Python objects first.
  py::object query(const Op& op) {
    std::uint32_t capacity = static_cast<std::uint32_t>(kSlots);  // count=None: all of them
    switch (static_cast<CountKind>(op.expect)) {
      case CountKind::none: break;
      case CountKind::zero: capacity = 0; break;
      case CountKind::value: capacity = op.flags; break;
      case CountKind::shorter: case CountKind::exact: case CountKind::larger: {
        const std::uint32_t total = b_->size();  // ValueError if the bundle is closed
        const auto kind = static_cast<CountKind>(op.expect);
        capacity = kind == CountKind::exact    ? total
                   : kind == CountKind::larger ? total + 1 + total / 2
                   : std::max<std::uint32_t>(1, total - 1 - total / 3);
        break;
      }
      default: malformed("unknown query count kind");
    }
    b_->revision();  // the bundle is open (ValueError first, as query() checks it)
    QueryHead head;
    QueryEntry entries[kSlots];
    const Result res = b_->core().query(head, entries, capacity);
    const std::uint32_t n = std::min(capacity, head.count);
    py::list out(res ? 2 : 3);
    if (res) {
      out[0] = ok_;
      out[1] = normalized(head, entries, n);
      return std::move(out);
    }
    py::dict partial;
    partial["count"] = py::int_(head.count);
    partial["partial"] = normalized(head, entries, n);
    out[0] = py::str("err");
    out[1] = error(res.error).cast<py::list>()[1];
    out[2] = std::move(partial);
    return std::move(out);
  }

  // The ops of a transaction, through Bundle.transaction and the Transaction's methods.
  py::object transaction_op(const Op& op) {
    switch (static_cast<std::uint8_t>(op.code)) {
      case kTxBegin: {
        py::object rev = revision_arg(op);
        txs[py::int_(op.link)] = bundle_.attr("transaction")(rev);
        return labelled(op.link);
      }
      case kTxAttach: {
        py::object tx = transaction(op.link), prog = program_arg(op), flags = flags_arg(op),
                   rel = relative_arg(op), replace = other_arg(op), rev = revision_arg(op);
        return outcome(tx.cast<TransactionObject&>().attach_result(
            ProgramArg(prog), FlagsArg(flags), RelativeArg(rel), RelativeArg(replace),
            IntArg(rev), Refusal::keep));
      }
      case kTxDetach: {
        py::object tx = transaction(op.link), prog = optional_program_arg(op),
                   flags = flags_arg(op), rel = relative_arg(op), rev = revision_arg(op);
        return outcome(tx.cast<TransactionObject&>().detach_result(
            OptionalProgramArg(prog), FlagsArg(flags), RelativeArg(rel), IntArg(rev),
            Refusal::keep));
      }
      case kTxCommit:
        return outcome(transaction(op.link).cast<TransactionObject&>().commit_result(
            Refusal::keep));
      case kTxDiscard: transaction(op.link).cast<TransactionObject&>().discard(); return ok_none_;
    }
    malformed("unknown opcode");
  }

  py::object apply(const Op& op) {
    const Refusal keep = Refusal::keep;
    const auto code = static_cast<std::uint8_t>(op.code);
    if (code == kQuery) return query(op);
    if (code >= kTxBegin && code <= kTxDiscard) return transaction_op(op);
    switch (op.code) {
      case Opcode::new_program: {
        if (op.prog != programs.size()) malformed("programs are made as 0, 1, ... in order");
        // As the interpreter makes them: Program(name="p<label>"), of the default kind.
        auto* made = new ProgramObject(py::str("p" + std::to_string(op.prog)), py::none(),
                                       upstream_);
        py::object p = py::cast(made, py::return_value_policy::take_ownership);
        prog_label_.set(made->core.id, op.prog);  // (p owns it now; no caster to find it)
        programs.append(p);
        known_programs_ = programs.size();
        return labelled(op.prog);
      }
      case Opcode::attach: {
        py::object prog = program_arg(op), flags = flags_arg(op), rel = relative_arg(op),
                   replace = other_arg(op), rev = revision_arg(op);
        return outcome(b_->attach_result(ProgramArg(prog), FlagsArg(flags), RelativeArg(rel),
                                         RelativeArg(replace), IntArg(rev), keep));
      }
      case Opcode::link: {
        if (op.link != links.size()) malformed("links are made as 0, 1, ... in order");
        links.append(py::none());  // the label is taken whatever happens (as in the vocabulary)
        known_links_ = links.size();
        py::object prog = program_arg(op), flags = flags_arg(op), rel = relative_arg(op),
                   rev = revision_arg(op), made;
        const Result r = b_->link_result(ProgramArg(prog), FlagsArg(flags), RelativeArg(rel),
                                         IntArg(rev), made, keep);
        if (!r) return error(r.error, r.why == Why::chain_full);
        link_label_.set(unwrap<LinkObject>(made).core.id, op.link);
        links[op.link] = made;
        return labelled(op.link);
      }
      case Opcode::detach: {
        py::object prog = optional_program_arg(op), flags = flags_arg(op),
                   rel = relative_arg(op), rev = revision_arg(op);
        return outcome(b_->detach_result(OptionalProgramArg(prog), FlagsArg(flags),
                                         RelativeArg(rel), IntArg(rev), keep));
      }
      case Opcode::update: {
        py::object l = link(op.link), prog = program_arg(op), flags = flags_arg(op),
                   old = other_arg(op);
        return outcome(update_link_result(unwrap<LinkObject>(l), ProgramArg(prog),
                                          IntArg(flags), OptionalProgramArg(old), keep));
      }
      case Opcode::link_detach:
        return outcome(detach_link_result(unwrap<LinkObject>(link(op.link)), keep));
      case Opcode::close_link:
        unwrap<LinkObject>(link(op.link)).close();
        return ok_none_;
      case Opcode::close_program:
        unwrap<ProgramObject>(program(op.prog)).close();
        return ok_none_;
    }
    malformed("unknown opcode");
  }

  // apply()'s answer for an op that made label `label`: a marker, ["ok", label] made (by
  // answer()) only where it is handed back; compared() compares it on C values.
  py::object labelled(std::size_t label) {
    made_ = label;
    return labelled_;
  }
  py::object answer(py::object a) const { return a.is(labelled_) ? ok_label(made_) : a; }

  // Whether ["ok", made_] == `mine`.
  bool same_labelled(PyObject* mine) const {
    Verdict v = Unsure;
    if (PyList_CheckExact(mine)) {
      v = PyList_GET_SIZE(mine) != 2              ? Differ
          : PyList_GET_ITEM(mine, 0) == ok_.ptr() ? same_int(PyList_GET_ITEM(mine, 1), made_)
                                                  : Unsure;
    }
    return v == Unsure ? equal(ok_label(made_).ptr(), mine) : v == Same;
  }

  py::object ok_label(std::size_t label) const {
    py::list out(2);
    out[0] = ok_;
    out[1] = py::int_(label);
    return std::move(out);
  }

  py::object outcome(const Result& r) {
    return r ? py::object(ok_none_) : error(r.error, r.why == Why::chain_full);
  }

  // ["err", "ENAME"], and "full" after it for a full chain whose errno also says something
  // else (upstream's ERANGE), as mprog.ops.Interpreter tells a ChainFull apart.
  py::object error(int negative, bool full = false) {
    full = full && -negative == ERANGE;
    const int key_of = full ? negative - (1 << 16) : negative;
    auto it = errors_.find(key_of);
    if (it == errors_.end()) {
      py::object key = py::int_(-negative);
      py::object name = errnames_.contains(key) ? py::object(errnames_[key]) : key;
      py::list answer(2);
      answer[0] = py::str("err");
      answer[1] = name;
      if (full) answer.append(py::str("full"));
      it = errors_.emplace(key_of, std::move(answer)).first;
    }
    return it->second;
  }

  // What mprog.ops.Interpreter.apply makes of an exception.
  py::list raised(py::error_already_set& e) const {
    py::list out(2);
    if (e.matches(PyExc_OSError)) {
      py::object err = e.value().attr("errno");
      out[0] = py::str("err");
      out[1] = !err.is_none() && errnames_.contains(err) ? py::object(errnames_[err]) : err;
      if (py::isinstance(e.value(), chain_full_) && py::int_(ERANGE).equal(err))
        out.append(py::str("full"));
      return out;
    }
    const bool argument = e.matches(PyExc_TypeError) || e.matches(PyExc_ValueError);
    out[0] = py::str(argument ? "raise" : "crash");
    out[1] = e.type().attr("__name__");
    return out;
  }

  py::object prog_label(std::uint32_t id) const {
    const std::size_t label = prog_label_.find(id);
    return label != Labels::kAbsent ? py::object(py::int_(label))
                                   : py::object(py::str("?" + std::to_string(id)));
  }
  py::object link_label(std::uint32_t id) const {
    if (id == 0) return py::none();
    const std::size_t label = link_label_.find(id);
    return label != Labels::kAbsent ? py::object(py::int_(label))
                                   : py::object(py::str("?" + std::to_string(id)));
  }

  // Interpreter.state(): rebuilt only when the chain (read as query reads it) changed.
  py::object state() {
    QueryHead head;
    QueryEntry entries[kSlots];
    b_->core().query(head, entries, kSlots);
    const std::uint32_t n = head.count < kSlots ? head.count : static_cast<std::uint32_t>(kSlots);
    if (have_state_ && head.revision == head_.revision && head.count == head_.count &&
        std::memcmp(entries, entries_, n * sizeof(QueryEntry)) == 0)
      return state_;
    auto [progs, link_labels, prog_flags, link_flags] = columns<py::tuple>(entries, n);
    state_ = py::make_tuple(head.revision, head.count, progs, link_labels, prog_flags, link_flags);
    head_ = head;
    std::memcpy(entries_, entries, n * sizeof(QueryEntry));
    have_state_ = true;
    return state_;
  }

  // Whether the core's programs, links and bundle read as the model's snapshot says
  // (Interpreter.snapshot's "progs", "links" and "self"; its "chain" is the state).
  bool matches(py::handle snapshot) {
    // Handles are read through the objects the executor's lists hold (objects_of) and the
    // chain's order from the core: a trace checked in full compares a snapshot after every
    // op, so only a value that is not plain (Unsure) makes the core's Python object for
    // Python's == to decide.
    const py::dict snap = py::reinterpret_borrow<py::dict>(snapshot);
    const py::dict progs = snap[progs_key_], link_states = snap[links_key_];
    const std::vector<const ProgramObject*>& prog_objs = objects_of(programs, prog_items_,
                                                                    prog_objs_);
    const std::vector<const LinkObject*>& link_objs = objects_of(links, link_items_, link_objs_);
    if (present(prog_objs) != PyDict_GET_SIZE(progs.ptr())) return false;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(progs.ptr(), &pos, &key, &value)) {
      const std::size_t i = index_of(key);
      if (i >= prog_objs.size() || prog_objs[i] == nullptr) return false;
      const bool mine = prog_objs[i]->closed;
      if (!sure(same_bool(value, mine), py::bool_(mine), value)) return false;
    }
    if (present(link_objs) != PyDict_GET_SIZE(link_states.ptr())) return false;
    pos = 0;
    while (PyDict_Next(link_states.ptr(), &pos, &key, &value)) {
      const std::size_t i = index_of(key);
      if (i >= link_objs.size() || link_objs[i] == nullptr) return false;
      const Verdict v = walk_link_state(*link_objs[i], value);
      if (v == Differ || (v == Unsure && !link_state(*link_objs[i]).equal(py::handle(value)))) return false;
    }
    if (b_->closed()) return true;  // the state says so; a closed bundle's "self" is fixed
    const py::dict self = snap[self_key_];
    const py::object revision = self[revision_key_], len = self[len_key_];
    if (!sure(same_int(revision.ptr(), b_->revision()), py::int_(b_->revision()), revision) ||
        !sure(same_int(len.ptr(), b_->size()), py::int_(b_->size()), len))
      return false;
    const py::list listed = self[list_key_];
    order_.read(b_->core());  // the order Bundle.__iter__ gives: the chain's
    if (listed.size() != order_.n) return false;
    for (std::uint32_t i = 0; i < order_.n; ++i) {
      const std::uint32_t id = order_.entries[i].prog_id;
      PyObject* label = PyList_GET_ITEM(listed.ptr(), static_cast<Py_ssize_t>(i));
      const Verdict v = same_label(label, prog_label_, id, false);
      if (v == Differ || (v == Unsure && !equal(prog_label(id).ptr(), label))) return false;
    }
    return true;
  }

  // A label key as a position (a plain int read directly; anything else as pybind11 reads a
  // size_t, which refuses what is no such int).
  static std::size_t index_of(PyObject* key) {
    if (PyLong_CheckExact(key)) {
      const Py_ssize_t i = PyLong_AsSsize_t(key);
      if (i >= 0) return static_cast<std::size_t>(i);
      PyErr_Clear();  // negative or too large: the cast below says so
    }
    return py::handle(key).cast<std::size_t>();
  }

  template <typename T>
  static Py_ssize_t present(const std::vector<const T*>& objects) {
    return std::count_if(objects.begin(), objects.end(), [](const T* o) { return o != nullptr; });
  }

  // The objects `list` holds (nullptr for None), by position: kept as the list grows, each
  // held in `items` (so no other object takes its address); made again from the list if an
  // item was replaced or removed.
  template <typename T>
  static const std::vector<const T*>& objects_of(const py::list& list,
                                                 std::vector<py::object>& items,
                                                 std::vector<const T*>& objects) {
    const auto n = static_cast<std::size_t>(PyList_GET_SIZE(list.ptr()));
    std::size_t same = 0;
    while (same < items.size() && same < n &&
           PyList_GET_ITEM(list.ptr(), static_cast<Py_ssize_t>(same)) == items[same].ptr())
      ++same;
    items.resize(same);
    objects.resize(same);
    for (std::size_t i = same; i < n; ++i) {
      py::handle item = PyList_GET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i));
      items.push_back(py::reinterpret_borrow<py::object>(item));
      objects.push_back(item.is_none() ? nullptr : &unwrap<T>(item));
    }
    return objects;
  }

  // A verdict, or where it is Unsure, Python's == of the core's object and the model's.
  static bool sure(Verdict v, const py::object& core, py::handle model) {
    return v == Unsure ? equal(core.ptr(), model.ptr()) : v == Same;
  }

  // Interpreter._link_state: [attached, closed, program label].
  py::list link_state(const LinkObject& l) const {
    py::list s(3);
    s[0] = py::bool_(l.core.attached());
    s[1] = py::bool_(l.closed);
    s[2] = l.prog.is_none() ? py::object(py::none()) : prog_label(as_program(l.prog).core.id);
    return s;
  }

  // Interpreter.handles(op): the link an op named ([attached, closed, program label]), or a
  // closed program's handle.
  py::object named_handles(const Op& op) const {
    switch (op.code) {
      case Opcode::link:
      case Opcode::update:
      case Opcode::link_detach:
      case Opcode::close_link: {
        if (op.link >= links.size() || links[op.link].is_none()) return empty_;
        return py::make_tuple(link_state(unwrap<LinkObject>(links[op.link])));
      }
      case Opcode::close_program:
        return py::make_tuple(py::bool_(unwrap<ProgramObject>(program(op.prog)).closed));
      default:
        return empty_;
    }
  }

  PyObject* side_ = nullptr;  // the arguments the running record left aside (borrowed)
  py::object bundle_;  // held: the executor outlives no bundle it runs
  BundleObject* b_;
  py::dict errnames_;  // errno -> name (errno.errorcode)
  py::str ok_;  // interned, as the interpreter's "ok" is
  py::str upstream_{"upstream"};  // the kind of every program new_program makes
  py::object labelled_ = py::reinterpret_steal<py::object>(PyList_New(0));  // labelled()'s marker
  std::size_t made_ = 0;  // the label of the last labelled() answer
  py::object ok_none_;  // ["ok", None], shared by every op that succeeds without a label
  py::tuple empty_, closed_;
  py::object chain_full_;  // mprog.errors.ChainFull
  std::unordered_map<int, py::object> errors_;  // negative errno -> ["err", name], shared
  Labels prog_label_, link_label_;  // id -> label
  std::size_t known_programs_ = 0, known_links_ = 0;
  bool have_state_ = false;
  py::object state_;
  QueryHead head_;
  QueryEntry entries_[kSlots];
  Chain now_, agreed_;  // same_state's: the chain now, and when it last equalled the model's
  std::uint64_t agreed_generation_ = 0;  // the core bundle's generation when agreed_ was read
  Chain order_;  // matches()': the chain's order
  // objects_of(): the objects the lists hold, and the items they were read from (held)
  std::vector<py::object> prog_items_, link_items_;
  std::vector<const ProgramObject*> prog_objs_;
  std::vector<const LinkObject*> link_objs_;
  const Chain no_prior_;  // agrees(): nothing agreed before
  // Interpreter.snapshot()'s keys
  py::str progs_key_{"progs"}, links_key_{"links"}, self_key_{"self"},
      revision_key_{"revision"}, len_key_{"len"}, list_key_{"list"};
};

}  // namespace
}  // namespace mprog::python

MPROG_PY_INITIALIZED_ONLY(mprog::python::Executor)

namespace mprog::python {

void bind_executor(py::module_& m) {
  py::class_<Executor>(m, "Executor",
                       "Batch records (mprog.batch) run against one chain Bundle through the "
                       "binding's own methods; see python/mprog/differential/batched.py.")
      .def(py::init([](BundleObject& bundle, py::dict errnames, std::optional<py::dict> txs) {
             // the Python object that owns `bundle` (held by the executor)
             return new Executor(py::cast(&bundle, py::return_value_policy::reference),
                                 std::move(errnames), txs ? std::move(*txs) : py::dict());
           }),
           py::arg("bundle"), py::arg("errnames"), py::arg("txs") = py::none(),
           "bundle: a chain Bundle (upstream or v2); errnames: errno -> name "
           "(errno.errorcode); txs: the dict of transactions by label to use (a new one if "
           "None).")
      .def("run", [](Executor& e, const py::buffer& records,
                     const std::optional<py::tuple>& expected,
                     const std::optional<py::list>& snapshots) {
             return e.run(records, expected, snapshots);
           },
           py::arg("records"), py::arg("expected") = py::none(),
           py::arg("snapshots") = py::none(),
           "Run the records: (answers, states, handles), one entry per record, as "
           "mprog.ops.Interpreter builds them; a record naming an object the core does not "
           "have ends the lists, its answer ['malformed', why]. With expected (the same "
           "three lists for these records), compared here: None if all agree, else the "
           "lists up to the first op that differs. With snapshots (the model's "
           "Interpreter.snapshot() after each record), an op agrees only if the core's "
           "programs, links and bundle read as that snapshot says too.")
      .def("check", &Executor::check, py::arg("queue"), py::arg("snapshots") = py::none(),
           "run(records, expected, snapshots) with one list: an entry per op, (record, "
           "answer, state, handles, ...) (the record and the model's outcomes; a sixth item, "
           "if any, is the tuple of the arguments the record leaves aside (mprog.batch."
           "record_aside); the fifth is the caller's). None if all agree, else (answers, "
           "states, handles) up to the first op that differs.")
      .def("agrees", &Executor::agrees, py::arg("state"), py::arg("snapshot"),
           "Whether the core's chain reads as state (Interpreter.state()) and its programs, "
           "links and bundle as snapshot (Interpreter.snapshot()) say.")
      .def("close_made", &Executor::close_made, py::arg("name"),
           "Close the links, then the programs, the executor made; returns what failed, as "
           "Interpreter.close words it for the backend `name`.")
      .def_readonly("programs", &Executor::programs, "Programs by label (appended to).")
      .def_readonly("links", &Executor::links, "Links by label (None: its link op failed).")
      .def_readonly("txs", &Executor::txs, "Transactions by label.");
}

}  // namespace mprog::python
