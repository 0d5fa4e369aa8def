# Type stubs for the pybind11 extension mprog._core (cpp/python/register_*.cpp).
# Hand-written: the binding's signatures name their types for help() (cpp/python/arguments.hpp)
# but are not importable annotations. Names, parameters and defaults are checked against the
# built extension by tests/test_stubs.py.
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, TypeVar, Union

from _typeshed import ReadableBuffer
from typing_extensions import Self

from .anchors import Anchor
from .explain import Explanation
from .query import QueryResult

# What a program's callable gets: the `ctx` given to Bundle.run. Its verdict is an int, and
# NEXT (-1) hands on to the next program.
_ProgramFn = Callable[[Any], int]
# How an operation names its relative (or, with REPLACE, the program to replace): a handle,
# an id (with the ID flag), or None. 0 without ID means "none", like the kernel's fd 0.
_Relative = Union["Program", "Link", int, None]
# Where the protocol takes flags, an anchor (Head(), Before(q), ...) may say them instead.
_Flags = Union[int, Anchor]
# A watcher: called with the chain before and after each committed change.
_Watcher = TypeVar("_Watcher", bound=Callable[[QueryResult, QueryResult], object])

class Program:
    """A program handle: a name, an optional callable, and an id that query reports."""

    def __init__(self, name: str = "", fn: Optional[_ProgramFn] = None,
                 dialect: str = "upstream") -> None: ...
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def dialect(self) -> str: ...
    @property
    def fn(self) -> Optional[_ProgramFn]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None:
        """Close the handle (like an fd)."""
    def __repr__(self) -> str: ...

class Link:
    """A link: owns the slot its program was attached to. Made by Bundle.link."""

    @property
    def id(self) -> int: ...
    @property
    def prog(self) -> Program: ...
    @property
    def attached(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def update(self, new_prog: Program, flags: int = 0,
               old_prog: Optional[Program] = None) -> None: ...
    def detach(self) -> None: ...
    def close(self) -> None:
        """Release the link; detaches it if attached."""
    def keep(self) -> Self:
        """Outlive the with block: the link stays until close() or until it is dropped."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    def __repr__(self) -> str: ...

class Transaction:
    """Several attach/detach operations committed as one change. Made by Bundle.transaction;
    a with block commits at its end, or discards if it raised."""

    def attach(self, prog: Program, flags: _Flags = 0, relative: _Relative = None,
               replace: _Relative = None, expected_revision: int = 0) -> None: ...
    def detach(self, prog: Optional[Program] = None, flags: _Flags = 0,
               relative: _Relative = None, expected_revision: int = 0) -> None: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...
    def programs(self) -> List[Program]: ...
    def __len__(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, exc_type: object, exc_value: object, traceback: object, /) -> None: ...

class Bundle:
    """A chain of up to 63 programs at one hook, with the kernel's bpf_mprog rules."""

    def __init__(self, dialect: str = "upstream", parent: Optional["Bundle"] = None) -> None: ...
    def attach(self, prog: Program, flags: _Flags = 0, relative: _Relative = None,
               replace: _Relative = None, expected_revision: int = 0) -> None: ...
    def link(self, prog: Program, flags: _Flags = 0, relative: _Relative = None,
             expected_revision: int = 0) -> Link: ...
    def detach(self, prog: Optional[Program] = None, flags: _Flags = 0,
               relative: _Relative = None, expected_revision: int = 0) -> None: ...
    def query(self, count: Optional[int] = None, effective: bool = False) -> QueryResult: ...
    def run(self, ctx: Any = None) -> int: ...
    def programs(self) -> List[Program]: ...
    def explain(self, op: str, prog: Optional[Program] = None, flags: _Flags = 0,
                relative: _Relative = None, replace: _Relative = None,
                expected_revision: int = 0) -> Explanation:
        """Dry run: what attach/detach would do now (an Explanation), changing nothing."""
    def watch(self, callback: _Watcher) -> _Watcher:
        """Call callback(old, new) (QueryResults) after every committed change."""
    def unwatch(self, callback: Callable[[QueryResult, QueryResult], object]) -> None: ...
    def transaction(self, expected_revision: int = 0) -> Transaction:
        """Operations applied as one change on commit (or at the end of a with block)."""
    @property
    def revision(self) -> int: ...
    @property
    def dialect(self) -> str: ...
    @property
    def parent(self) -> Optional["Bundle"]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Program]: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    def __repr__(self) -> str: ...

class Executor:
    """Batch records (mprog.batch) run against one chain Bundle through the binding's own
    methods; see python/mprog/differential/batched.py."""

    def __init__(self, bundle: Bundle, errnames: Dict[int, str],
                 txs: Optional[Dict[int, Any]] = None) -> None: ...
    def run(self, records: ReadableBuffer,
            expected: Optional[tuple[List[Any], List[Any], List[Any]]] = None,
            snapshots: Optional[List[Dict[str, Any]]] = None
            ) -> Optional[tuple[List[Any], List[Any], List[Any]]]:
        """Run the records: (answers, states, handles), one entry per record, as
        mprog.ops.Interpreter builds them. With expected (the same three lists), compared
        in C++: None if all agree, else the lists up to the first op that differs. With
        snapshots (the model's Interpreter.snapshot() after each record), an op agrees only
        if the core's programs, links and bundle read as that snapshot says too."""
    def check(self, queue: List[tuple[Any, ...]],
              snapshots: Optional[List[Dict[str, Any]]] = None
              ) -> Optional[tuple[List[Any], List[Any], List[Any]]]:
        """run(records, expected, snapshots) with one list: an entry per op, (record,
        answer, state, handles, ...) (the 16-byte record and the model's outcomes; a sixth
        item, if any, is the tuple of the arguments the record leaves aside, see
        mprog.batch.record_aside; the fifth is the caller's). None if all agree, else
        (answers, states, handles) up to the first op that differs."""
    def agrees(self, state: tuple[Any, ...], snapshot: Dict[str, Any]) -> bool:
        """Whether the core's chain reads as state (Interpreter.state()) and its programs,
        links and bundle as snapshot (Interpreter.snapshot()) say."""
    def close_made(self, name: str) -> List[str]:
        """Close the links, then the programs, the executor made; returns what failed, as
        Interpreter.close words it for the backend name."""
    @property
    def programs(self) -> List[Program]:
        """Programs by label (appended to)."""
    @property
    def links(self) -> List[Optional[Link]]:
        """Links by label (None: its link op failed)."""
    @property
    def txs(self) -> Dict[int, Any]:
        """Transactions by label."""

def handle_states(programs: List[Program], links: List[Link],
                  bundle: Optional[Bundle] = None
                  ) -> tuple[List[bool], List[tuple[bool, bool, Optional[int]]], Optional[List[int]]]:
    """(closed per program, (attached, closed, program id or None) per link, the ids of
    list(bundle) or None): what Program.closed, Link.attached/closed/prog and iter(bundle)
    say, read in one call (the engine's full snapshot)."""

def record(op: Mapping[str, Any]) -> Optional[bytes]:
    """The 16-byte record of one vocabulary op, by label, or None (mprog.batch.record)."""


class _Stepper:
    """BatchedTrial.step's usual way, in C, for one trial (the rule stays the trial's
    ``step``; see cpp/python/stepper.hpp)."""

    batching: bool
    state: tuple[Any, ...]
    model_seconds: float

    def __init__(self, trial: Any, timed_every: int, max_queue: int,
                 clock: Callable[[], float]) -> None: ...
    def step(self, op: Mapping[str, Any]) -> Dict[str, Any]: ...


def label_check(progs: set[int], links: set[int], txs: set[int], made: List[int],
                transactions: bool) -> Callable[[Mapping[str, Any]], bool]:
    """known(op): whether op names only labels in the sets and makes the next ones (made:
    [programs, links]); the sets and made are read at each call."""


def replay(ops: ReadableBuffer, programs: int, links: int = 0, dialect: str = "upstream",
           errnos: bool = False) -> Dict[str, Any]:
    """Apply a trace of 16-byte ops (see mprog.batch) to a new bundle in one call.
    Returns {'ops', 'counts' (errno -> n, 0 = success), 'revision', 'chain' ((prog, link)
    indices in order), 'errnos' (int32 per op, if asked)}."""

def _inject(*, error: Callable[..., Any], query_too_small: Callable[..., Any],
            query_result: Callable[..., Any], explanation: Callable[..., Any],
            to_request: Callable[..., Any], messages: Any,
            to_cgroup_request: Callable[..., Any]) -> None:
    """Called once by mprog/__init__.py: what the binding uses of the Python package."""
