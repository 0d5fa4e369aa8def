// mprog._core.record and label_check (record.hpp): one op of the vocabulary to its 16-byte
// record, and whether the labels it names exist.
//
// What Python would do is the rule, down to the odd input: a missing key or a value of the
// wrong type (what `op[key]`, a table lookup or struct.pack would raise KeyError, TypeError
// or struct.error for) means "no record" (None); only an op that is not a mapping or has no
// hashable "op" raises, as indexing it does. Each field a record holds is packed as struct's
// "<BBBBIHHHH" packs it: an int, a bool or anything with __index__, in range.
#include "record.hpp"

#include <cstdint>
#include <cstring>
#include <tuple>

#include "mprog/replay.hpp"

namespace mprog::python {
namespace {

namespace py = pybind11;
using replay::Arg;
using replay::Expect;
using replay::kNoId;
using replay::kNone;
using replay::Op;
using replay::Opcode;

// Opcodes of the executor alone (executor.cpp, mprog.batch.QUERY ...).
constexpr std::uint8_t kQuery = 8, kTxBegin = 9, kTxAttach = 10, kTxDetach = 11,
                       kTxCommit = 12, kTxDiscard = 13;
// The vocabulary's op kinds that have a record (mprog.batch._ENCODERS's keys): each gets
// the code of the switch in encode().
enum Kind : long {
  kNewProg, kAttach, kLink, kDetach, kUpdate, kLinkDetach, kLinkClose, kProgClose, kQueryOp,
  kTxBeginOp, kTxAttachOp, kTxDetachOp, kTxCommitOp, kTxDiscardOp
};

// What reading a value gave: the value, "no record" (Python raised KeyError, TypeError or
// struct.error, which record() answers with None), or another error (set, propagated).
enum class Got { value, cannot, error };

// The interned strings and lookup tables, made once (the module lives as long as Python).
struct Names {
  PyObject *op, *as, *prog, *flags, *expected_revision, *kind, *relative, *ref, *value,
      *replace, *tx, *link, *new_prog, *old_prog, *count, *effective, *cgroup, *get, *prog_kind,
      *id_prog, *id_link, *dialect;
  PyObject* kinds;      // op kind -> Kind
  PyObject* expect;     // expected_revision kind -> Expect (mprog.batch._EXPECT_BY_LABEL)
  PyObject* relatives;  // relative kind -> Arg, for those naming a label (_BY_LABEL)
  PyObject* counts;     // query count kind -> executor's CountKind (_COUNT_BY_LABEL)
};

PyObject* intern(const char* s) { return PyUnicode_InternFromString(s); }

PyObject* table(std::initializer_list<std::pair<const char*, long>> entries) {
  PyObject* d = PyDict_New();
  for (const auto& [key, value] : entries) {
    PyObject* v = PyLong_FromLong(value);
    PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
  }
  return d;
}

const Names& names() {
  static const Names n = [] {
    Names m{};
    m.op = intern("op");
    m.as = intern("as");
    m.prog = intern("prog");
    m.flags = intern("flags");
    m.expected_revision = intern("expected_revision");
    m.kind = intern("kind");
    m.relative = intern("relative");
    m.ref = intern("ref");
    m.value = intern("value");
    m.replace = intern("replace");
    m.tx = intern("tx");
    m.link = intern("link");
    m.new_prog = intern("new_prog");
    m.old_prog = intern("old_prog");
    m.count = intern("count");
    m.effective = intern("effective");
    m.cgroup = intern("cgroup");
    m.dialect = intern("dialect");
    m.get = intern("get");
    m.prog_kind = intern("prog");
    m.id_prog = intern("id_prog");
    m.id_link = intern("id_link");
    m.kinds = table({{"new_prog", kNewProg}, {"attach", kAttach}, {"link", kLink},
                     {"detach", kDetach}, {"update", kUpdate}, {"link_detach", kLinkDetach},
                     {"link_close", kLinkClose}, {"prog_close", kProgClose},
                     {"query", kQueryOp}, {"tx_begin", kTxBeginOp},
                     {"tx_attach", kTxAttachOp}, {"tx_detach", kTxDetachOp},
                     {"tx_commit", kTxCommitOp}, {"tx_discard", kTxDiscardOp}});
    m.expect = table({{"zero", static_cast<long>(Expect::any)},
                      {"current", static_cast<long>(Expect::current)},
                      {"future", static_cast<long>(Expect::stale)},
                      {"stale", static_cast<long>(Expect::previous)}});
    m.relatives = table({{"prog", static_cast<long>(Arg::program)},
                         {"link", static_cast<long>(Arg::link)},
                         {"id_prog", static_cast<long>(Arg::program_id)},
                         {"id_link", static_cast<long>(Arg::link_id)}});
    m.counts = table({{"none", 0}, {"zero", 1}, {"short", 2}, {"exact", 3}, {"larger", 4},
                      {"value", 5}});
    return m;
  }();
  return n;
}

// After a failed call: KeyError and TypeError mean "no record" (cleared), others propagate.
Got failed() {
  if (PyErr_ExceptionMatches(PyExc_KeyError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
    PyErr_Clear();
    return Got::cannot;
  }
  return Got::error;
}

// obj[key]; `out` borrows from obj where obj is a dict, else holds a reference in `keep`.
Got item(PyObject* obj, PyObject* key, PyObject*& out, py::object& keep) {
  if (PyDict_CheckExact(obj)) {
    out = PyDict_GetItemWithError(obj, key);
    if (out != nullptr) return Got::value;
    return PyErr_Occurred() ? failed() : Got::cannot;  // a missing key: KeyError
  }
  keep = py::reinterpret_steal<py::object>(PyObject_GetItem(obj, key));
  out = keep.ptr();
  return out != nullptr ? Got::value : failed();
}

// obj.get(key) (None if absent).
Got get(PyObject* obj, PyObject* key, PyObject*& out, py::object& keep) {
  if (PyDict_CheckExact(obj)) {
    out = PyDict_GetItemWithError(obj, key);
    if (out == nullptr && PyErr_Occurred()) return failed();
    if (out == nullptr) out = Py_None;
    return Got::value;
  }
  keep = py::reinterpret_steal<py::object>(
      PyObject_CallMethodObjArgs(obj, names().get, key, nullptr));
  out = keep.ptr();
  return out != nullptr ? Got::value : failed();
}

// One of the tables' .get(key): the number, or -1 if absent (an unhashable key: TypeError).
Got lookup(PyObject* table, PyObject* key, long& out) {
  PyObject* v = PyDict_GetItemWithError(table, key);
  if (v == nullptr) {
    if (PyErr_Occurred()) return failed();
    out = -1;
    return Got::value;
  }
  out = PyLong_AsLong(v);
  return Got::value;
}

// struct's packing of an integer field of `max` at most: an int (or __index__) in range.
Got packed(PyObject* v, unsigned long long max, unsigned long long& out) {
  if (!PyLong_Check(v) && !PyIndex_Check(v)) return Got::cannot;  // "not an integer"
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(v));
  if (!index) return failed();
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (n == -1 && PyErr_Occurred()) return failed();
  if (overflow || n < 0 || static_cast<unsigned long long>(n) > max) return Got::cannot;
  out = static_cast<unsigned long long>(n);
  return Got::value;
}

Got u16(PyObject* v, std::uint16_t& out) {
  unsigned long long n = 0;
  const Got g = packed(v, 0xFFFF, n);
  out = static_cast<std::uint16_t>(n);
  return g;
}

// An exact int in [lo, hi], or `also` (mprog.batch._holds_flags, _holds_raw).
bool exact_int_in(PyObject* v, long long lo, long long hi, long long also, long long& out) {
  if (!PyLong_CheckExact(v)) return false;
  int overflow = 0;
  out = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (overflow) return false;
  return (lo <= out && out <= hi) || out == also;
}

#define READ(expr)                         \
  do {                                     \
    const Got got_ = (expr);               \
    if (got_ != Got::value) return got_;   \
  } while (0)

// op[key], an argument spec, and its "kind" (left nullptr where the spec is None).
struct Spec {
  PyObject* spec = nullptr;
  PyObject* kind = nullptr;
  py::object keep[2];
  Got read(PyObject* op, PyObject* key) {
    READ(item(op, key, spec, keep[0]));
    if (spec == Py_None) return Got::value;
    return item(spec, names().kind, kind, keep[1]);
  }
};

// op["flags"]: a plain int that fits the record's u32 (mprog.batch._holds_flags).
Got flags(PyObject* op, Op& rec) {
  py::object keep;
  PyObject* v;
  READ(item(op, names().flags, v, keep));
  long long f = 0;
  if (!exact_int_in(v, 0, 0xFFFFFFFFLL, 0, f)) return Got::cannot;
  rec.flags = static_cast<std::uint32_t>(f);
  return Got::value;
}

// op["expected_revision"]["kind"], one of those a record says (not a literal value).
Got expected_revision(PyObject* op, Op& rec) {
  Spec revision;
  READ(revision.read(op, names().expected_revision));
  if (revision.kind == nullptr) return Got::cannot;  // None["kind"]: TypeError
  long expect = -1;
  READ(lookup(names().expect, revision.kind, expect));
  if (expect < 0) return Got::cannot;
  rec.expect = static_cast<Expect>(expect);
  return Got::value;
}

// op[key], a label: struct's "H" (an int, a bool or __index__, in 0..65535).
Got label(PyObject* op, PyObject* key, std::uint16_t& out) {
  py::object keep;
  PyObject* v;
  READ(item(op, key, v, keep));
  return u16(v, out);
}

// op[key], a label or None (a detach's program, update's old program): kNone for None.
Got optional_label(PyObject* op, PyObject* key, std::uint16_t& out) {
  py::object keep;
  PyObject* v;
  READ(item(op, key, v, keep));
  if (v == Py_None) {
    out = kNone;
    return Got::value;
  }
  return u16(v, out);
}

// An attach, link or detach's flags, expected revision and relative (mprog.batch._placement).
Got placement(PyObject* op, Op& rec) {
  const Names& n = names();
  READ(flags(op, rec));
  READ(expected_revision(op, rec));
  Spec relative;
  READ(relative.read(op, n.relative));
  if (relative.spec == Py_None) return Got::value;
  long labelled = -1;
  READ(lookup(n.relatives, relative.kind, labelled));
  if (labelled >= 0) {  // a program or link by label, or its id
    rec.relative_kind = static_cast<Arg>(labelled);
    return label(relative.spec, n.ref, rec.relative);
  }
  py::object keep;
  PyObject* value;
  READ(get(relative.spec, n.value, value, keep));
  long long raw = 0;
  if (!exact_int_in(value, 0, kNone - 1, kNoId, raw)) return Got::cannot;
  if (raw == kNoId) {
    rec.relative_kind = Arg::no_id;
  } else {
    rec.relative_kind = Arg::value;
    rec.relative = static_cast<std::uint16_t>(raw);
  }
  return Got::value;
}

// An attach's replace: None, or a program by label (any other kind: no record).
Got replace(PyObject* op, Op& rec) {
  const Names& n = names();
  Spec replace;
  READ(replace.read(op, n.replace));
  if (replace.spec == Py_None) return Got::value;
  const int is_prog = PyObject_RichCompareBool(replace.kind, n.prog_kind, Py_EQ);
  if (is_prog < 0) return failed();
  if (!is_prog) return Got::cannot;  // a replace by id or raw value: op by op
  return label(replace.spec, n.ref, rec.other);
}

// A query's count: its kind (in the expect field) and a value's count (in the flags), if
// it asks the chain's own list (not a cgroup's, not the effective array).
Got count(PyObject* op, Op& rec) {
  const Names& n = names();
  Spec c;
  READ(c.read(op, n.count));
  if (c.kind == nullptr) return Got::cannot;  // None["kind"]: TypeError
  PyObject *spec = c.spec, *value = nullptr, *effective;
  py::object k3, k4;
  long how = -1;
  READ(lookup(n.counts, c.kind, how));
  if (PyDict_CheckExact(spec)) {  // spec.get("value", 0): nullptr for 0
    value = PyDict_GetItemWithError(spec, n.value);
    if (value == nullptr && PyErr_Occurred()) return failed();
  } else {
    py::object zero = py::int_(0);
    k3 = py::reinterpret_steal<py::object>(
        PyObject_CallMethodObjArgs(spec, n.get, n.value, zero.ptr(), nullptr));
    if (!k3) return failed();
    value = k3.ptr();
  }
  if (how < 0) return Got::cannot;
  READ(get(op, n.effective, effective, k4));
  const int truthy = PyObject_IsTrue(effective);
  if (truthy < 0) return failed();
  const int has_cgroup = PySequence_Contains(op, n.cgroup);
  if (has_cgroup < 0) return failed();
  if (truthy || has_cgroup) return Got::cannot;
  rec.expect = static_cast<Expect>(how);
  long long v = 0;
  if (value != nullptr && !exact_int_in(value, 0, 0xFFFFFFFFLL, 0, v)) return Got::cannot;
  rec.flags = static_cast<std::uint32_t>(v);  // struct's "I"
  return Got::value;
}

// An attach or detach, on the bundle or staged in a transaction (its label in the link
// field): the opcode, then the placement.
Got placed(PyObject* op, bool staged, Opcode direct, std::uint8_t staged_code, Op& rec) {
  rec.code = staged ? static_cast<Opcode>(staged_code) : direct;
  if (staged) READ(label(op, names().tx, rec.link));
  return placement(op, rec);
}

Got encode(PyObject* op, long kind, Op& rec) {
  const Names& n = names();
  switch (kind) {
    case kNewProg: {
      // A program of a dialect the op names (not the trial's): made op by op, by the
      // interpreters (the executor makes the trial's).
      PyObject* dialect = nullptr;
      py::object keep;
      READ(get(op, n.dialect, dialect, keep));
      if (dialect != Py_None) return Got::cannot;
      rec.code = Opcode::new_program;
      return label(op, n.as, rec.prog);
    }
    case kAttach:
    case kTxAttachOp:
      READ(placed(op, kind == kTxAttachOp, Opcode::attach, kTxAttach, rec));
      READ(replace(op, rec));
      return label(op, n.prog, rec.prog);
    case kDetach:
    case kTxDetachOp:
      READ(placed(op, kind == kTxDetachOp, Opcode::detach, kTxDetach, rec));
      return optional_label(op, n.prog, rec.prog);
    case kLink:
      rec.code = Opcode::link;
      READ(placement(op, rec));
      READ(label(op, n.prog, rec.prog));
      return label(op, n.as, rec.link);
    case kUpdate:
      rec.code = Opcode::update;
      READ(flags(op, rec));
      READ(label(op, n.new_prog, rec.prog));
      READ(optional_label(op, n.old_prog, rec.other));
      return label(op, n.link, rec.link);
    case kLinkDetach:
    case kLinkClose:
      rec.code = kind == kLinkDetach ? Opcode::link_detach : Opcode::close_link;
      return label(op, n.link, rec.link);
    case kProgClose:
      rec.code = Opcode::close_program;
      return label(op, n.prog, rec.prog);
    case kQueryOp:
      rec.code = static_cast<Opcode>(kQuery);
      return count(op, rec);
    case kTxBeginOp:
      rec.code = static_cast<Opcode>(kTxBegin);
      READ(expected_revision(op, rec));
      return label(op, n.as, rec.link);
    case kTxCommitOp:
    case kTxDiscardOp:
      rec.code = static_cast<Opcode>(kind == kTxCommitOp ? kTxCommit : kTxDiscard);
      return label(op, n.tx, rec.link);
    default:
      return Got::cannot;
  }
}

#undef READ

PyObject* record(PyObject*, PyObject* op) {
  const Names& n = names();
  py::object keep;
  PyObject* kind_name = nullptr;
  if (PyDict_CheckExact(op)) {
    kind_name = PyDict_GetItemWithError(op, n.op);
    if (kind_name == nullptr) {
      if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, n.op);
      return nullptr;
    }
  } else {
    keep = py::reinterpret_steal<py::object>(PyObject_GetItem(op, n.op));
    if (!keep) return nullptr;  // what op["op"] raises
    kind_name = keep.ptr();
  }
  PyObject* code = PyDict_GetItemWithError(n.kinds, kind_name);  // unhashable: TypeError
  if (code == nullptr) {
    if (PyErr_Occurred()) return nullptr;
    Py_RETURN_NONE;  // an op no record says (closing the bundle, a cgroup op)
  }
  Op rec;  // a field the op has no use for holds its default (no program: kNone)
  Got got;
  try {
    got = encode(op, PyLong_AsLong(code), rec);
  } catch (py::error_already_set& e) {  // only from making a Python object (out of memory)
    e.restore();
    return nullptr;
  }
  if (got == Got::error) return nullptr;
  if (got == Got::cannot) Py_RETURN_NONE;
  char bytes[sizeof(Op)];
  std::memcpy(bytes, &rec, sizeof(Op));
  return PyBytes_FromStringAndSize(bytes, sizeof(Op));
}

// ---- whether an op names only labels that exist (BatchedTrial's check before it queues)

// obj[key] as Python evaluates it (a new reference; nullptr with the error set).
PyObject* at(PyObject* obj, PyObject* key) {
  if (PyDict_CheckExact(obj)) {
    PyObject* v = PyDict_GetItemWithError(obj, key);
    if (v != nullptr) {
      Py_INCREF(v);
      return v;
    }
    if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
    return nullptr;
  }
  return PyObject_GetItem(obj, key);
}

// `op[key] in labels` (1, 0, or -1 with the error set: a key missing, an unhashable value).
int has(PyObject* op, PyObject* key, PyObject* labels) {
  py::object v = py::reinterpret_steal<py::object>(at(op, key));
  return v ? PySet_Contains(labels, v.ptr()) : -1;
}

// Whether op[key] names a known label or none at all: an int among `labels`, or None, or bad
// input (a dict, which a record leaves aside). -1 with the error set.
int names_known(PyObject* op, PyObject* key, PyObject* labels) {
  py::object v = py::reinterpret_steal<py::object>(at(op, key));
  if (!v) return -1;
  if (PyLong_CheckExact(v.ptr())) return PySet_Contains(labels, v.ptr());
  return v.is_none() || PyDict_CheckExact(v.ptr());
}

// A spec's kind is `a` or `b` (1, 0, -1).
int kind_is(PyObject* kind, PyObject* a, PyObject* b) {
  const int r = PyObject_RichCompareBool(kind, a, Py_EQ);
  return r != 0 ? r : PyObject_RichCompareBool(kind, b, Py_EQ);
}

// known() for an op that places a program (attach, link, detach, tx_attach, tx_detach):
// its program, a link's new label, its relative and its replace name what exists.
int placement_known(PyObject* op, long kind, const LabelSets& l) {
  const Names& n = names();
  int r = names_known(op, n.prog, l.progs);
  if (r != 1) return r;
  if (kind == kLink) {
    py::object as = py::reinterpret_steal<py::object>(at(op, n.as));
    if (!as) return -1;
    r = PyObject_RichCompareBool(as.ptr(), PyList_GET_ITEM(l.made, 1), Py_EQ);
    if (r != 1) return r;
    r = PySet_Contains(l.links, as.ptr());
    if (r != 0) return r < 0 ? r : 0;
  }
  py::object spec = py::reinterpret_steal<py::object>(at(op, n.relative));
  if (!spec) return -1;
  if (!spec.is_none()) {
    py::object kind_of = py::reinterpret_steal<py::object>(at(spec.ptr(), n.kind));
    if (!kind_of) return -1;
    for (const auto& [a, b, labels] : {std::tuple{n.prog_kind, n.id_prog, l.progs},
                                       std::tuple{n.link, n.id_link, l.links}}) {
      r = kind_is(kind_of.ptr(), a, b);
      if (r < 0) return r;
      if (r == 1) {
        r = has(spec.ptr(), n.ref, labels);
        if (r != 1) return r;
      }
    }
  }
  PyObject* replace;
  py::object keep;
  if (get(op, n.replace, replace, keep) == Got::error) return -1;  // op.get("replace")
  if (replace == nullptr || replace == Py_None) return 1;
  py::object kind_of = py::reinterpret_steal<py::object>(at(replace, n.kind));
  if (!kind_of) return -1;
  r = PyObject_RichCompareBool(kind_of.ptr(), n.prog_kind, Py_EQ);
  if (r != 1) return r < 0 ? r : 1;  // a replace by id: a record leaves it aside
  return has(replace, n.ref, l.progs);
}

// Whether op names only labels that exist and makes (new_prog, link) the next ones: what
// Trial._skips(op) says no to, for an op a record says (with or without arguments aside),
// plus the rule that labels are positions in the executor's lists. 1, 0, -1.
int known(PyObject* op, const LabelSets& l) {
  const Names& n = names();
  py::object kind_name = py::reinterpret_steal<py::object>(at(op, n.op));
  if (!kind_name) return -1;
  PyObject* code = PyDict_GetItemWithError(n.kinds, kind_name.ptr());
  if (code == nullptr && PyErr_Occurred()) return -1;
  const long kind = code == nullptr ? -1 : PyLong_AsLong(code);
  switch (kind) {
    case kNewProg: {
      py::object as = py::reinterpret_steal<py::object>(at(op, n.as));
      if (!as) return -1;
      const int r = PyObject_RichCompareBool(as.ptr(), PyList_GET_ITEM(l.made, 0), Py_EQ);
      if (r != 1) return r;
      const int there = PySet_Contains(l.progs, as.ptr());
      return there < 0 ? there : !there;
    }
    case kLinkDetach:
    case kLinkClose:
      return has(op, n.link, l.links);
    case kProgClose: {
      // Only an int is a program's label (Trial._skips: a bool is none, and every backend
      // refuses it with TypeError): anything else op by op, where that is answered.
      py::object prog = py::reinterpret_steal<py::object>(at(op, n.prog));
      if (!prog) return -1;
      return PyLong_CheckExact(prog.ptr()) ? PySet_Contains(l.progs, prog.ptr()) : 0;
    }
    case kUpdate: {
      int r = has(op, n.link, l.links);
      if (r == 1) r = names_known(op, n.new_prog, l.progs);
      if (r == 1) r = names_known(op, n.old_prog, l.progs);
      return r;
    }
    case kQueryOp:
      return 1;
    case kTxBeginOp:
    case kTxCommitOp:
    case kTxDiscardOp:
    case kTxAttachOp:
    case kTxDetachOp: {
      if (l.transactions != Py_True) return 0;
      if (kind == kTxBeginOp) {
        const int there = has(op, n.as, l.txs);
        return there < 0 ? there : !there;
      }
      const int r = has(op, n.tx, l.txs);
      if (r != 1 || kind == kTxCommitOp || kind == kTxDiscardOp) return r;
      return placement_known(op, kind, l);
    }
    default:  // attach, link, detach (and an op no record says: its "prog" is read)
      return placement_known(op, kind, l);
  }
}

PyObject* label_check_call(PyObject* self, PyObject* op) {
  const LabelSets l{PyTuple_GET_ITEM(self, 0), PyTuple_GET_ITEM(self, 1),
                    PyTuple_GET_ITEM(self, 2), PyTuple_GET_ITEM(self, 3),
                    PyTuple_GET_ITEM(self, 4)};
  const int r = labels_known(op, l);
  if (r < 0) return nullptr;
  if (r) Py_RETURN_TRUE;
  Py_RETURN_FALSE;
}

PyMethodDef label_check_call_def = {
    "known", label_check_call, METH_O,
    "known(op) -> bool: whether op names only labels that exist and makes the next ones."};

PyObject* label_check(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 5 || !PyAnySet_Check(args[0]) || !PyAnySet_Check(args[1]) ||
      !PyAnySet_Check(args[2]) || !PyList_CheckExact(args[3]) ||
      PyList_GET_SIZE(args[3]) != 2 || !PyBool_Check(args[4])) {
    PyErr_SetString(PyExc_TypeError,
                    "label_check(progs: set, links: set, txs: set, made: [int, int], "
                    "transactions: bool)");
    return nullptr;
  }
  py::tuple self(5);
  for (int i = 0; i < 5; ++i) self[i] = py::reinterpret_borrow<py::object>(args[i]);
  return PyCFunction_NewEx(&label_check_call_def, self.ptr(), module);
}

PyMethodDef label_check_def = {
    "label_check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(label_check)),
    METH_FASTCALL,
    "label_check(progs, links, txs, made, transactions) -> known(op): the engine's check, "
    "before it queues an op, that the op names only labels that exist (the sets, read at "
    "each call) and makes the next ones (made: [programs, links], read at each call)."};

PyMethodDef record_def = {
    "record", record, METH_O,
    "record(op) -> bytes | None: the 16-byte record of a vocabulary op, by label "
    "(mprog.batch.record)."};

}  // namespace

PyObject* record_op(PyObject* op) { return record(nullptr, op); }

int labels_known(PyObject* op, const LabelSets& labels) {
  try {
    return known(op, labels);
  } catch (py::error_already_set& e) {
    e.restore();
    return -1;
  }
}

void bind_record(py::module_& m) {
  PyObject* f = PyCFunction_NewEx(&record_def, nullptr, m.attr("__name__").ptr());
  if (f == nullptr) throw py::error_already_set();
  m.add_object("record", py::reinterpret_steal<py::object>(f));
  PyObject* check = PyCFunction_NewEx(&label_check_def, nullptr, m.attr("__name__").ptr());
  if (check == nullptr) throw py::error_already_set();
  m.add_object("label_check", py::reinterpret_steal<py::object>(check));
}

}  // namespace mprog::python
