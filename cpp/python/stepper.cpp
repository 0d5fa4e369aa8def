// mprog._core._Stepper (stepper.hpp): BatchedTrial.step's usual way, in the C API.
//
// Each step below is a line of BatchedTrial.step or BatchedTrial._after_model, in their
// order; the comments name them. A Stepper holds what the rule reads through `self` (the
// trial's lists, sets and view, the model's bound methods) and the three values the rule
// keeps in it (`batching`, the model's last state, the model's time since the last flush:
// BatchedTrial's properties of those names read them here). It holds the trial itself only
// weakly (the trial holds the Stepper), and calls the trial's own methods for the rest.
#include "stepper.hpp"

#include <structmember.h>

#include "record.hpp"

namespace mprog::python {
namespace {

namespace py = pybind11;

struct Stepper {
  PyObject_HEAD
  // kept by the rule (BatchedTrial's properties batching, _state, _model_seconds)
  char batching;
  PyObject* state;
  double model_seconds;
  // read at construction from the trial (none is ever replaced by the trial)
  PyObject* trial;  // a weak reference
  PyObject *rule, *after_model, *flush, *learn_labels;  // the trial class's functions
  PyObject *apply, *model_state, *handles;              // the model interpreter's methods
  PyObject* model;
  PyObject* clock;  // the rule's clock (batched.perf_counter): the model's time is read on it
  PyObject *first, *second;  // the two backends' names
  PyObject *view, *ops, *answers, *queue;
  PyObject *progs, *links, *txs, *made, *transactions;  // what known(op) reads
  char check_protocol, full;
  Py_ssize_t timed_every, max_queue;
};

// The interned strings and the vocabulary's sets, made once.
struct Names {
  PyObject *op, *as, *ok, *new_prog, *link, *violations, *order, *slot_links, *progs;
  PyObject *handle_ops, *read_only, *learns, *empty, *one;
};

const Names& names() {
  static const Names n = [] {
    Names m{};
    m.op = PyUnicode_InternFromString("op");
    m.as = PyUnicode_InternFromString("as");
    m.ok = PyUnicode_InternFromString("ok");
    m.new_prog = PyUnicode_InternFromString("new_prog");
    m.link = PyUnicode_InternFromString("link");
    m.violations = PyUnicode_InternFromString("violations");
    m.order = PyUnicode_InternFromString("order");
    m.slot_links = PyUnicode_InternFromString("slot_links");
    m.progs = PyUnicode_InternFromString("progs");
    // the sets the rule tests kinds against, taken from where it takes them
    const py::module_ interpreter = py::module_::import("mprog.ops.interpreter");
    const py::module_ vocabulary = py::module_::import("mprog.ops.vocabulary");
    const py::module_ trial = py::module_::import("mprog.differential.trial");
    m.handle_ops = py::object(interpreter.attr("HANDLE_OPS")).release().ptr();
    m.read_only = py::object(vocabulary.attr("READ_ONLY")).release().ptr();
    m.learns = py::object(trial.attr("LEARNS")).release().ptr();
    m.empty = PyTuple_New(0);
    m.one = PyLong_FromLong(1);
    return m;
  }();
  return n;
}

// The trial (a strong reference, held through the calls below), or null with
// ReferenceError set once it is gone.
py::object trial_of(Stepper* s) {
#if PY_VERSION_HEX >= 0x030D0000  // (PyWeakref_GetObject is deprecated from 3.13 on)
  PyObject* trial = nullptr;
  if (PyWeakref_GetRef(s->trial, &trial) < 0) return {};
  py::object held = py::reinterpret_steal<py::object>(trial);
#else
  py::object held = py::reinterpret_borrow<py::object>(PyWeakref_GetObject(s->trial));
  if (held.is_none()) held = py::object();
#endif
  if (!held) PyErr_SetString(PyExc_ReferenceError, "the trial of this Stepper is gone");
  return held;
}

// The rule for the whole op: BatchedTrial.step(trial, op).
PyObject* rule(Stepper* s, PyObject* op) {
  const py::object trial = trial_of(s);
  if (!trial) return nullptr;
  PyObject* args[] = {trial.ptr(), op};
  return PyObject_Vectorcall(s->rule, args, 2, nullptr);
}

// The rule after the model ran: BatchedTrial._after_model(trial, op, rec, (), answer).
// Steals rec and answer.
PyObject* after_model(Stepper* s, PyObject* op, PyObject* rec, PyObject* answer) {
  PyObject* out = nullptr;
  if (const py::object trial = trial_of(s)) {
    PyObject* args[] = {trial.ptr(), op, rec, names().empty, answer};
    out = PyObject_Vectorcall(s->after_model, args, 5, nullptr);
  }
  Py_DECREF(rec);
  Py_DECREF(answer);
  return out;
}

// op[key] for an op that is a dict (see step): borrowed, or null with KeyError set.
PyObject* field(PyObject* op, PyObject* key) {
  PyObject* value = PyDict_GetItemWithError(op, key);
  if (value == nullptr && !PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
  return value;
}

// An exact int's value, or false (anything else: the rule decides).
bool small_int(PyObject* v, long long& out) {
  if (!PyLong_CheckExact(v)) return false;
  int overflow = 0;
  out = PyLong_AsLongLongAndOverflow(v, &overflow);
  return overflow == 0 && !(out == -1 && PyErr_Occurred());
}

// The usual change, as the rule tests it without a call: a success of an op that is not
// read-only that stepped the revision by one or emptied the chain (revision 1, count 0).
// -1 with an error set.
int usual_change(PyObject* kind, PyObject* answer, PyObject* before, PyObject* state) {
  const Names& n = names();
  int r = PyObject_RichCompareBool(PyList_GET_ITEM(answer, 0), n.ok, Py_EQ);
  if (r != 1) return r;
  r = PySet_Contains(n.read_only, kind);
  if (r != 0) return r < 0 ? r : 0;
  long long revision, count, was;
  if (!small_int(PyTuple_GET_ITEM(state, 0), revision) ||
      !small_int(PyTuple_GET_ITEM(state, 1), count) ||
      !small_int(PyTuple_GET_ITEM(before, 0), was))
    return PyErr_Occurred() ? -1 : 0;
  return revision == was + 1 || (count == 0 && revision == 1);
}

int append_new(PyObject* list, PyObject* item) {  // appends, steals item
  const int r = item == nullptr ? -1 : PyList_Append(list, item);
  Py_XDECREF(item);
  return r;
}

// made[i] += 1
int count_made(PyObject* made, Py_ssize_t i) {
  PyObject* one_more = PyNumber_Add(PyList_GET_ITEM(made, i), names().one);
  return one_more == nullptr ? -1 : PyList_SetItem(made, i, one_more);
}

// What the rule learns of an op in LEARNS: a new program's label (its rule, without the
// call, as the rule does), a link's next label, the rest through Trial._learn_labels.
int learn(Stepper* s, PyObject* op, PyObject* kind, PyObject* answer) {
  const Names& n = names();
  const int new_prog = PyObject_RichCompareBool(kind, n.new_prog, Py_EQ);
  if (new_prog < 0) return -1;
  if (new_prog) {
    if (count_made(s->made, 0) < 0) return -1;
    const int ok = PyObject_RichCompareBool(PyList_GET_ITEM(answer, 0), n.ok, Py_EQ);
    if (ok <= 0) return ok;
    PyObject* label = field(op, n.as);
    if (label == nullptr) return -1;
    if (PySet_Add(s->progs, label) < 0) return -1;
    py::object progs = py::reinterpret_steal<py::object>(PyObject_GetAttr(s->view, n.progs));
    return progs ? PyList_Append(progs.ptr(), label) : -1;
  }
  const int link = PyObject_RichCompareBool(kind, n.link, Py_EQ);
  if (link < 0 || (link && count_made(s->made, 1) < 0)) return -1;
  const py::object trial = trial_of(s);
  if (!trial) return -1;
  PyObject* args[] = {trial.ptr(), op, answer};
  PyObject* done = PyObject_Vectorcall(s->learn_labels, args, 3, nullptr);
  Py_XDECREF(done);
  return done == nullptr ? -1 : 0;
}

// The rest of the rule's step once the model answered, where all is usual (BatchedTrial.step
// and _after_model, with no trace checked in full). Steals rec and answer.
PyObject* after_usual(Stepper* s, PyObject* op, PyObject* rec_, PyObject* answer_,
                      Py_ssize_t position) {
  const Names& n = names();
  py::object rec = py::reinterpret_steal<py::object>(rec_);
  py::object answer = py::reinterpret_steal<py::object>(answer_);
  const auto to_rule = [&] { return after_model(s, op, rec.release().ptr(),
                                                answer.release().ptr()); };
  if (!PyList_CheckExact(answer.ptr()) || PyList_GET_SIZE(answer.ptr()) < 1)
    return to_rule();  // (the interpreter answers with a list: ["ok", ...], ["err", ...])
  // if model.violations and self.check_protocol: (the rule reports it)
  if (s->check_protocol) {
    py::object violations = py::reinterpret_steal<py::object>(
        PyObject_GetAttr(s->model, n.violations));
    if (!violations) return nullptr;
    const int any = PyObject_IsTrue(violations.ptr());
    if (any < 0) return nullptr;
    if (any) return to_rule();
  }
  py::object state = py::reinterpret_steal<py::object>(PyObject_CallNoArgs(s->model_state));
  if (!state) return nullptr;
  PyObject* before = s->state;
  if (!PyTuple_CheckExact(state.ptr()) || PyTuple_GET_SIZE(state.ptr()) < 1 ||
      !PyTuple_CheckExact(before) || PyTuple_GET_SIZE(before) < 1)
    return to_rule();
  PyObject* kind = field(op, n.op);
  if (kind == nullptr) return nullptr;
  const bool is_open = PyTuple_GET_SIZE(state.ptr()) > 1;  // ("closed",) once the bundle is
  const bool moved = state.ptr() != before;
  if (moved && is_open && PyTuple_GET_SIZE(before) > 1) {
    const int usual = usual_change(kind, answer.ptr(), before, state.ptr());
    if (usual < 0) return nullptr;
    if (!usual) return to_rule();  // _transition's checks
  }
  py::object handles = py::reinterpret_borrow<py::object>(n.empty);
  if (is_open) {
    const int named = PySet_Contains(n.handle_ops, kind);
    if (named < 0) return nullptr;
    if (named) {
      handles = py::reinterpret_steal<py::object>(PyObject_CallOneArg(s->handles, op));
      if (!handles) return nullptr;
    }
  }
  // Nothing is changed above this line; from here on the op is the trial's.
  if (moved) {  // self._state = state; the generator's view of the chain
    Py_SETREF(s->state, state.inc_ref().ptr());
    PyObject* order = is_open ? PyTuple_GET_ITEM(state.ptr(), 2) : n.empty;
    PyObject* slot_links = is_open ? PyTuple_GET_ITEM(state.ptr(), 3) : n.empty;
    if (PyObject_SetAttr(s->view, n.order, order) < 0 ||
        PyObject_SetAttr(s->view, n.slot_links, slot_links) < 0)
      return nullptr;
  }
  py::object answers = py::reinterpret_steal<py::object>(PyDict_New());
  if (!answers || PyDict_SetItem(answers.ptr(), s->first, answer.ptr()) < 0 ||
      PyDict_SetItem(answers.ptr(), s->second, answer.ptr()) < 0)
    return nullptr;
  // self._queue.append((rec, answer, state, handles, len(self.ops), None))
  py::object index = py::reinterpret_steal<py::object>(PyLong_FromSsize_t(position));
  if (!index || append_new(s->queue, PyTuple_Pack(6, rec.ptr(), answer.ptr(), state.ptr(),
                                                  handles.ptr(), index.ptr(), Py_None)) < 0)
    return nullptr;
  if (PyList_Append(s->ops, op) < 0 || PyList_Append(s->answers, answers.ptr()) < 0)
    return nullptr;
  const int learns = PySet_Contains(n.learns, kind);
  if (learns < 0) return nullptr;
  if (learns && learn(s, op, kind, answer.ptr()) < 0) return nullptr;
  if (PyList_GET_SIZE(s->queue) >= s->max_queue) {
    const py::object trial = trial_of(s);
    if (!trial) return nullptr;
    py::object done =
        py::reinterpret_steal<py::object>(PyObject_CallOneArg(s->flush, trial.ptr()));
    if (!done) return nullptr;
  }
  return answers.release().ptr();
}

// The clock's reading in seconds, or -1 with an error set.
double now(Stepper* s) {
  py::object t = py::reinterpret_steal<py::object>(PyObject_CallNoArgs(s->clock));
  if (!t) return -1;
  const double seconds = PyFloat_AsDouble(t.ptr());
  if (seconds == -1 && PyErr_Occurred()) return -1;
  if (seconds < 0) {
    PyErr_SetString(PyExc_ValueError, "Stepper: the clock read a negative time");
    return -1;
  }
  return seconds;
}

PyObject* step(PyObject* self, PyObject* op) {
  auto* s = reinterpret_cast<Stepper*>(self);
  if (!trial_of(s)) return nullptr;  // (its lists are the trial's: no trial, no step)
  if (!s->batching || s->full || !PyDict_CheckExact(op)) return rule(s, op);
  PyObject* rec = record_op(op);
  if (rec == nullptr) return nullptr;
  if (rec == Py_None) {  // arguments left aside, or no record at all: the rule's way
    Py_DECREF(rec);
    return rule(s, op);
  }
  const LabelSets labels{s->progs, s->links, s->txs, s->made, s->transactions};
  const int known = labels_known(op, labels);
  if (known != 1) {
    Py_DECREF(rec);
    return known < 0 ? nullptr : rule(s, op);
  }
  const Py_ssize_t position = PyList_GET_SIZE(s->ops);
  PyObject* answer;
  if (position % s->timed_every) {
    answer = PyObject_CallOneArg(s->apply, op);
  } else {  // the model's time, on a sample of its ops (batched.TIMED_EVERY)
    const double t0 = now(s);
    answer = t0 < 0 ? nullptr : PyObject_CallOneArg(s->apply, op);
    const double t1 = answer == nullptr ? -1 : now(s);
    if (t1 < 0) Py_CLEAR(answer);
    else s->model_seconds += (t1 - t0) * static_cast<double>(s->timed_every);
  }
  if (answer == nullptr) {
    Py_DECREF(rec);
    return nullptr;
  }
  return after_usual(s, op, rec, answer, position);
}

PyMethodDef methods[] = {
    {"step", step, METH_O,
     "step(op) -> answers: BatchedTrial.step for the trial, the usual way in C."},
    {nullptr, nullptr, 0, nullptr}};

PyMemberDef members[] = {
    {"batching", T_BOOL, offsetof(Stepper, batching), 0,
     "False once labels stop being list positions (BatchedTrial.batching)."},
    {"state", T_OBJECT_EX, offsetof(Stepper, state), 0,
     "The model's state after the last op (BatchedTrial._state)."},
    {"model_seconds", T_DOUBLE, offsetof(Stepper, model_seconds), 0,
     "The model's time since the last flush (BatchedTrial._model_seconds)."},
    {nullptr, 0, 0, 0, nullptr}};

// The Stepper's references, in one place for traverse, clear and dealloc.
template <typename F>
void each_reference(Stepper* s, F&& f) {
  for (PyObject** p : {&s->state, &s->trial, &s->rule, &s->after_model, &s->flush,
                       &s->learn_labels, &s->apply, &s->model_state, &s->handles, &s->model,
                       &s->clock,
                       &s->first, &s->second, &s->view, &s->ops, &s->answers, &s->queue,
                       &s->progs, &s->links, &s->txs, &s->made, &s->transactions})
    f(p);
}

int traverse(PyObject* self, visitproc visit, void* arg) {
  int r = 0;
  each_reference(reinterpret_cast<Stepper*>(self), [&](PyObject** p) {
    if (r == 0 && *p != nullptr) r = visit(*p, arg);
  });
  return r == 0 ? visit(reinterpret_cast<PyObject*>(Py_TYPE(self)), arg) : r;
}

int clear(PyObject* self) {
  each_reference(reinterpret_cast<Stepper*>(self), [](PyObject** p) { Py_CLEAR(*p); });
  return 0;
}

void dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

// Stepper(trial, timed_every, max_queue, clock): everything else is read from the trial,
// which has made its lists, sets, view, model and queue (BatchedTrial.__init__).
PyObject* make(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  PyObject *trial, *clock;
  Py_ssize_t timed_every, max_queue;
  static const char* keywords[] = {"trial", "timed_every", "max_queue", "clock", nullptr};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OnnO:Stepper", const_cast<char**>(keywords),
                                   &trial, &timed_every, &max_queue, &clock))
    return nullptr;
  if (timed_every < 1 || max_queue < 1) {
    PyErr_SetString(PyExc_ValueError, "Stepper: timed_every and max_queue must be positive");
    return nullptr;
  }
  if (!PyCallable_Check(clock)) {
    PyErr_SetString(PyExc_TypeError, "Stepper: clock must be callable");
    return nullptr;
  }
  py::object self = py::reinterpret_steal<py::object>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  auto* s = reinterpret_cast<Stepper*>(self.ptr());
  try {
    const py::handle t(trial);
    const py::object cls = py::type::of(t);
    const py::object model = t.attr("model");
    const py::tuple names = t.attr("names");
    if (names.size() != 2) throw py::value_error("Stepper: a trial of two backends");
    const auto take = [](const py::object& o) { return o.inc_ref().ptr(); };
    const auto list = [&](const char* name) {
      py::object o = t.attr(name);
      if (!PyList_CheckExact(o.ptr())) throw py::type_error(std::string(name) + ": a list");
      return take(o);
    };
    const auto set = [&](const char* name) {
      py::object o = t.attr(name);
      if (Py_TYPE(o.ptr()) != &PySet_Type) throw py::type_error(std::string(name) + ": a set");
      return take(o);
    };
    s->batching = 1;
    s->state = take(py::tuple());  // until the trial sets the model's first state
    s->model_seconds = 0.0;
    s->trial = PyWeakref_NewRef(trial, nullptr);
    if (s->trial == nullptr) throw py::error_already_set();
    s->rule = take(cls.attr("step"));
    s->after_model = take(cls.attr("_after_model"));
    s->flush = take(cls.attr("flush"));
    s->learn_labels = take(cls.attr("_learn_labels"));
    s->apply = take(model.attr("apply"));
    s->model_state = take(model.attr("state"));
    s->handles = take(model.attr("handles"));
    s->model = take(model);
    s->clock = take(py::reinterpret_borrow<py::object>(clock));
    s->first = take(names[0]);
    s->second = take(names[1]);
    s->view = take(t.attr("view"));
    s->ops = list("ops");
    s->answers = list("answers");
    s->queue = list("_queue");
    s->progs = set("prog_labels");
    s->links = set("link_labels");
    s->txs = set("tx_labels");
    s->made = list("_made");
    if (PyList_GET_SIZE(s->made) != 2) throw py::value_error("Stepper: _made is [programs, links]");
    s->transactions = take(py::bool_(t.attr("transactions")));
    s->check_protocol = py::bool_(t.attr("check_protocol")) ? 1 : 0;
    s->full = py::bool_(t.attr("full")) ? 1 : 0;
    s->timed_every = timed_every;
    s->max_queue = max_queue;
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    py::set_error(PyExc_TypeError, e.what());
    return nullptr;
  }
  return self.release().ptr();
}

PyType_Slot slots[] = {
    {Py_tp_doc, const_cast<char*>(
                    "_Stepper(trial, timed_every, max_queue, clock): BatchedTrial.step's usual way, in C "
                    "(the rule stays in Python; see stepper.hpp).")},
    {Py_tp_new, reinterpret_cast<void*>(make)},
    {Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(clear)},
    {Py_tp_methods, methods},
    {Py_tp_members, members},
    {0, nullptr}};

PyType_Spec spec = {"mprog._core._Stepper", sizeof(Stepper), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};

}  // namespace

void bind_stepper(py::module_& m) {
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  m.add_object("_Stepper", py::reinterpret_steal<py::object>(type));
}

}  // namespace mprog::python
