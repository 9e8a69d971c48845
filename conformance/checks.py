"""Helpers the conformance suites share: outcomes, expectations, worker processes."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, ClassVar, Final, TypeVar

import pytest
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, StoreError
from storecheck.fixtures.values import in_offset

T = TypeVar("T")

REFUSED_BATCH: Final = 600
"""The size of a batch with one refused item in the ``acid`` checks: past 500, the chunk an
implementation commonly splits a large batch into, so that a store committing chunk by
chunk keeps the chunk before the refused item and is caught."""
REFUSED_AT: Final = 557
"""The refused item's position (counted from 1): inside the second chunk of 500."""


class SpecData:
    """What a suite shared by every spec needs from the spec's suite module: ``spec``,
    ``write(store, seed)`` (some data through the spec) and ``snapshot(store)``
    (everything the spec can read back, for before/after comparisons)."""

    spec: ClassVar[str]

    @staticmethod
    def snapshot(store: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def write(store: Any, seed: int) -> None:
        raise NotImplementedError


class SpecMismatch(AssertionError):
    """A backend did something the spec does not allow; the message says what was expected."""


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: StoreError | None = None

    def describe(self) -> str:
        if self.error is None:
            return f"returned {self.value!r}"[:400]
        kind = getattr(self.error, "kind", None)
        label = type(self.error).__name__ + (f"({kind.value})" if kind else "")
        return f"raised {label}: {self.error}"[:400]


def outcome(call: Callable[[], Any]) -> Outcome:
    """Run ``call``; spec errors become part of the outcome, anything else propagates."""
    try:
        return Outcome(value=call())
    except StoreError as exc:
        return Outcome(error=exc)


def expect(condition: bool, spec: str, operation: str, expected: str, got: object = "") -> None:
    if not condition:
        detail = f"; got {got!r}"[:400] if got != "" else ""
        raise SpecMismatch(f"{spec}.{operation}: expected {expected}{detail}")


BROKEN_SEPARATOR = " | "
"""Between the broken expectations of one check, in its message (see :class:`SpecMismatches`)."""


class SpecMismatches(SpecMismatch):
    """Several rules one check found broken, each in the spec's words, in the order met."""

    def __init__(self, broken: Sequence[str]) -> None:
        self.broken = tuple(broken)
        super().__init__(f"{len(self.broken)} expectations broken: " + BROKEN_SEPARATOR.join(
            f"({n}) {message}" for n, message in enumerate(self.broken, start=1)))


class Expectations:
    """The expectations of a check that goes on past a broken one, where going on still
    means something (the retry after a wrong attempt count): each broken one is kept."""

    def __init__(self) -> None:
        self.broken: list[str] = []

    def expect(self, condition: bool, spec: str, operation: str, expected: str,
               got: object = "") -> bool:
        """:func:`expect`, noted instead of raised; whether it held."""
        try:
            expect(condition, spec, operation, expected, got)
        except SpecMismatch as exc:
            self.broken.append(str(exc))
        return condition


@contextmanager
def soft_expectations() -> Iterator[Expectations]:
    """Collect a check's broken expectations and fail once at the end with them all; a
    hard :func:`expect` that fails inside ends the block and joins the list, and any other
    exception carries the list as a note."""
    found = Expectations()
    try:
        yield found
    except SpecMismatch as exc:
        raise _all_of([*found.broken, *getattr(exc, "broken", (str(exc),))]) from None
    except BaseException as exc:
        if found.broken:
            exc.add_note("expectations broken before it: " + BROKEN_SEPARATOR.join(found.broken))
        raise
    if found.broken:
        raise _all_of(found.broken)


def _all_of(broken: Sequence[str]) -> SpecMismatch:
    return SpecMismatch(broken[0]) if len(broken) == 1 else SpecMismatches(broken)


def expect_vacuum_shrinks(spec: str, store: Any, location: str) -> None:
    """``vacuum()`` on a store whose purge has just deleted most of what it held: fewer bytes
    after than before, and no more than the location's directory holds (the report is of
    the files, not an estimate)."""
    report = store.vacuum()
    on_disk = sum(entry.stat().st_size for entry in os.scandir(os.path.dirname(location))
                  if entry.is_file())
    expect(report.bytes_after < report.bytes_before, spec, "vacuum",
           "fewer bytes after vacuum than before", report)
    expect(report.bytes_after <= on_disk, spec, "vacuum", "the report to match the files",
           (report, on_disk))


def expect_error(
    spec: str,
    operation: str,
    call: Callable[[], Any],
    error: type[StoreError],
    kind: ConstraintKind | None = None,
) -> StoreError:
    """``call`` must raise ``error`` (and, for constraint violations, of ``kind``)."""
    wanted = error.__name__ + (f"({kind.value})" if kind else "")
    result = outcome(call)
    expect(result.error is not None, spec, operation, f"{wanted}", result.describe())
    assert result.error is not None
    expect(isinstance(result.error, error), spec, operation, wanted, result.describe())
    if kind is not None:
        assert isinstance(result.error, ConstraintViolation)
        expect(result.error.kind is kind, spec, operation, wanted, result.describe())
    return result.error


def start_time(delay: float = 2.0) -> float:
    """A wall-clock instant for worker processes to wait for, so that they overlap:
    spawning and importing takes a while and would otherwise stagger them."""
    return time.time() + delay


def wait_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.time()))


def worker_processes() -> Any:
    """The ``multiprocessing`` context of every worker process a check starts.

    A worker starts clean, as a separate program would: no thread, connection or open store
    of this process.  Where the platform has one, a fork server gives that at a fork's cost:
    a fresh interpreter of its own that imported what this process had of storecheck when
    the first worker started, holds nothing else, and forks each worker from that state.
    Spawning a fresh interpreter per worker pays its start and every import again (about
    half a second), and a kill check starts 20 to 100 workers.  Elsewhere workers are
    spawned.  Either way a worker runs with this process's import path, environment and
    working directory as they are when it starts (:func:`worker_pool`, :func:`start_killable`).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    from multiprocessing import forkserver

    if not forkserver._forkserver._forkserver_pid:  # type: ignore[attr-defined]
        # The server skips a module it cannot import (a worker imports what it unpickles);
        # test modules are left to the workers.
        context.set_forkserver_preload(sorted(
            name for name, module in list(sys.modules.items())
            if name.startswith("storecheck.") and module is not None
            and not name.rpartition(".")[2].startswith(("test_", "conftest"))))
    return context


@dataclass(frozen=True)
class _Surroundings:
    """What a spawned process would take from this one at its start."""

    path: list[str]
    environment: dict[str, str]
    directory: str

    @classmethod
    def now(cls) -> _Surroundings:
        return cls(list(sys.path), dict(os.environ), os.getcwd())

    def enter(self) -> None:
        sys.path[:] = self.path
        os.environ.clear()
        os.environ.update(self.environment)
        os.chdir(self.directory)


def worker_pool(processes: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple[Any, ...] = ()) -> Any:
    """A pool of :func:`worker_processes` with this process's surroundings."""
    return worker_processes().Pool(processes=processes, initializer=_start_pool_worker,
                                   initargs=(_Surroundings.now(), initializer, initargs))


def _start_pool_worker(surroundings: _Surroundings, initializer: Callable[..., Any] | None,
                       initargs: tuple[Any, ...]) -> None:
    surroundings.enter()
    if initializer is not None:
        initializer(*initargs)


def run_workers(target: Callable[..., Any], argument_lists: Sequence[tuple[Any, ...]],
                timeout: float = 240.0) -> list[Any]:
    """Run ``target(*args)`` in one worker process (:func:`worker_processes`) per argument
    tuple; return results in order.  An exception in a worker is re-raised here with its
    message."""
    with worker_pool(len(argument_lists)) as pool:
        pending = [pool.apply_async(target, args) for args in argument_lists]
        return [job.get(timeout=timeout) for job in pending]


class SpinStart:
    """Racers released into one call together, every one of them already running.

    A barrier wakes its waiters one by one through the operating system; on a loaded
    machine the first racer can finish its whole call before the last is scheduled, and
    the race is run in turn (a check-then-act store escaped a CI run that way).  After the
    barrier each racer counts itself in and spins, runnable, until every racer has: the
    calls start within a thread switch of each other.  The count is cumulative, one
    arrival per racer per round, so rounds never mix.  Built with a ``multiprocessing``
    context it releases worker processes (pass it to them when they start).
    """

    def __init__(self, racers: int, context: Any = None, timeout: float = 120.0) -> None:
        # A process context's primitives serve threads of one process as well.
        context = context or worker_processes()
        self.racers = racers
        self.timeout = timeout
        self._barrier = context.Barrier(racers, timeout=timeout)
        self._arrived = context.Value("q", 0)

    def wait(self, round_: int) -> None:
        """Return once every racer has reached round ``round_`` (counted from 0)."""
        self._barrier.wait()
        with self._arrived.get_lock():
            self._arrived.value += 1
        wanted = self.racers * (round_ + 1)
        deadline = time.monotonic() + self.timeout
        while self._arrived.value < wanted:
            if self._barrier.broken or time.monotonic() > deadline:
                raise threading.BrokenBarrierError
            time.sleep(0)

    def meet(self) -> None:
        """Wait for every racer, without the spinning start (the next :meth:`wait` gives it)."""
        self._barrier.wait()

    def abort(self) -> None:
        self._barrier.abort()


class HelperThreadFailed(AssertionError):
    """A helper thread of a check raised: the check fails with that thread's error."""


def run_threads(target: Callable[..., Any], argument_lists: Iterable[tuple[Any, ...]]) -> None:
    """One thread per argument tuple, released together by a barrier, and wait for every one.

    Without the barrier a thread can finish its whole loop before the next one
    starts on a busy machine, and a race the check looks for never happens.  An
    exception raised in any thread fails the check (pytest would only warn).
    """
    arguments = list(argument_lists)
    barrier = threading.Barrier(len(arguments))
    raised: list[tuple[int, BaseException]] = []

    def together(index: int, *args: Any) -> None:
        try:
            barrier.wait(timeout=120)
            target(*args)
        except BaseException as exc:
            barrier.abort()
            raised.append((index, exc))

    pool = [threading.Thread(target=together, args=(index, *args))
            for index, args in enumerate(arguments)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    _reraise("thread", raised)


def _reraise(where: str, raised: list[tuple[int, BaseException]]) -> None:
    genuine = [(i, exc) for i, exc in raised if not isinstance(exc, threading.BrokenBarrierError)]
    if not genuine:
        if raised:
            raise HelperThreadFailed(f"a {where} never reached the common start")
        return
    index, first = sorted(genuine, key=lambda item: item[0])[0]
    if isinstance(first, AssertionError):
        raise first
    raise HelperThreadFailed(
        f"{where} {index} raised {type(first).__module__}.{type(first).__name__}: {first}"[:600]
        + (f" (and {len(genuine) - 1} more)" if len(genuine) > 1 else "")
    ) from first


RACE_SWITCH_INTERVAL_S = 1e-5


@contextmanager
def fast_switching() -> Iterator[None]:
    """Python threads take turns every 5 ms by default, long enough for one caller to
    finish a whole check-then-act (or a writer a whole sequence of commits) before the
    next runs; switching often makes threads interleave inside an operation, as they
    would on separate cores."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(RACE_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


READER_START_TIMEOUT_S: Final = 10.0


def read_while(read: Callable[[], object], action: Callable[[], T]) -> T:
    """Run ``action`` while another thread calls ``read`` over and over; return its result.

    The threads switch often (:func:`fast_switching`), so reads land between the
    action's steps: by chance, not by a hook, and likely only for a store in this process.
    A store behind a pipe answers each read a round trip later, so a window shorter than
    that is seen by luck; the kill checks (:func:`kill_at_random_moments`) are the ones
    whose power against such a store is stated.  The action starts only once the reader
    has finished a first read: on a loaded machine a new thread can otherwise miss a short
    action altogether, and the check would pass without having looked.  An exception in
    the reader fails the check once the action is done.
    """
    done, reading = threading.Event(), threading.Event()
    raised: list[tuple[int, BaseException]] = []

    def loop() -> None:
        try:
            while not done.is_set():
                read()
                reading.set()
        except BaseException as exc:
            raised.append((0, exc))
        finally:
            reading.set()

    try:
        with fast_switching():
            reader = threading.Thread(target=loop)
            reader.start()
            try:
                reading.wait(READER_START_TIMEOUT_S)
                return action()
            finally:
                done.set()
                reader.join()
    finally:
        _reraise("reader thread", raised)


def every_page(fetch: Callable[[Any], Any], *, offset_minutes: int = 0,
               limit: int = 1000) -> list[Any]:
    """The pages of a keyset-paginated listing, at most ``limit`` of them.

    ``fetch(cursor)`` returns a page with ``items`` and ``next_cursor``; each
    cursor is handed back with every instant in it re-expressed at a UTC offset of
    ``offset_minutes`` (the same instant), as a client in another zone would.
    """
    pages: list[Any] = []
    cursor = None
    for _ in range(limit):
        page = fetch(cursor)
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor = replace(page.next_cursor, **{
            field.name: in_offset(getattr(page.next_cursor, field.name), offset_minutes)
            for field in fields(page.next_cursor)
            if isinstance(getattr(page.next_cursor, field.name), datetime)})
    return pages


def all_pages(fetch: Callable[[Any], Any], limit: int = 10_000) -> list[Any]:
    """Every item of a keyset-paginated listing; stops after ``limit`` pages so a broken
    cursor cannot loop."""
    pages = every_page(fetch, limit=limit)
    if pages[-1].next_cursor is not None:
        raise SpecMismatch(f"pagination did not end after {limit} pages")
    return [item for page in pages for item in page.items]


def progress(config: pytest.Config, message: str) -> None:
    """A line about a long step (seeding a dataset, starting a server), unless -q.

    Written past output capturing, which would otherwise hold it until the check ends.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < 0 or hasattr(config, "workerinput"):
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        reporter.ensure_newline()
        reporter.write_line(f"storecheck: {message}")


def start_killable(target: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Start ``target(*args)`` in a worker process that leads a process group of its own,
    so that :func:`sigkill` ends it together with every process it started: an ``exec:``
    backend's implementation process is the store itself, and it must die too."""
    worker = worker_processes().Process(
        target=_in_own_group, args=(_Surroundings.now(), target, *args))
    worker.start()
    return worker


def _in_own_group(surroundings: _Surroundings, target: Callable[..., Any], *args: Any) -> None:
    os.setpgid(0, 0)
    surroundings.enter()
    target(*args)


def sigkill(worker: Any) -> None:
    """SIGKILL a process of :func:`start_killable` and the processes it started.  One that
    has already ended is no error: a worker's parent is the fork server, which reaps it at
    once, so its pid may be gone before the kill comes (the work finished first)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(worker.pid, signal.SIGKILL)
            break
        except ProcessLookupError:  # no group made yet, or the process has ended
            continue
    worker.join()


def kill_midway(spec: str, operation: str, target: Callable[..., Any], args: tuple[Any, ...],
                *, within_s: float, torn: Callable[[], bool] = lambda: False) -> None:
    """Run ``target(*args, started)`` in a worker process and SIGKILL it mid-operation.

    ``target`` sets the ``started`` event it is given just before (or just after the first
    step of) the work to interrupt; the kill comes at once when ``torn()`` sees part of the
    work (a change made in pieces), else ``within_s`` seconds after the start.
    """
    started = worker_processes().Event()
    worker = start_killable(target, (*args, started))
    deadline = time.monotonic() + 60
    while not started.wait(0.05) and worker.is_alive() and time.monotonic() < deadline:
        pass
    expect(started.is_set(), spec, operation, "the worker process to start",
           "it exited first (its traceback is in the captured stderr)" if not worker.is_alive()
           else "no start signal within 60 s")
    kill_at = time.monotonic() + within_s
    while time.monotonic() < kill_at and not torn():
        pass
    sigkill(worker)


def kill_at_random_moments(spec: str, operation: str, target: Callable[..., Any],
                           args_of_round: Callable[[int], tuple[Any, ...]], kills: int,
                           within_s: float) -> None:
    """:func:`kill_midway` ``kills`` times, each worker running ``target(*args_of_round(n))``
    and killed at a moment drawn uniformly from its first ``within_s`` seconds of work.

    For a store that is a black box, whose statements no hook reaches: a window between two
    commits that takes a share ``s`` of each repetition of the operation is missed by every
    kill with probability ``(1 - s) ** kills`` (the profile's ``kills`` makes that small for
    ``s`` of a tenth).  ``within_s`` must span many repetitions, so that the moment's place
    within one repetition is as good as random.  The moments are seeded by ``kills``: a
    failing run repeats.
    """
    moments = random.Random(kills)
    for round_ in range(kills):
        kill_midway(spec, operation, target, args_of_round(round_),
                    within_s=moments.uniform(0.0, within_s))


READ_DEADLINE_S = 1.0
WRITER_HOLDS_S = 5.0
"""How long the writer keeps its transaction open at most: a read that waits for it takes
this long."""


def reads_beside_a_held_write(spec: str, reader: Any, writer: Any,
                              reads: Mapping[str, Callable[[Any], Any]],
                              write: Callable[[Any], Any]) -> None:
    """While ``writer`` holds a write transaction open (``write(writer)`` inside
    ``atomic()``), every read on ``reader`` answers within :data:`READ_DEADLINE_S` with
    the committed data: a read that takes the write lock queues behind every writer."""
    committed = {name: read(reader) for name, read in reads.items()}
    holding, done = threading.Event(), threading.Event()

    def hold_write_transaction() -> None:
        with writer.atomic():
            write(writer)
            holding.set()
            done.wait(WRITER_HOLDS_S)

    holder = threading.Thread(target=hold_write_transaction)
    holder.start()
    slow: dict[str, str] = {}
    try:
        expect(holding.wait(30), spec, "reads", "the writer to open its transaction")
        for name, read in reads.items():
            started = time.monotonic()
            try:
                result = read(reader)
            except Exception as exc:
                slow[name] = f"{type(exc).__name__} after {time.monotonic() - started:.2f} s"
                continue
            took = time.monotonic() - started
            if took > READ_DEADLINE_S or result != committed[name]:
                slow[name] = f"{took:.2f} s, {'same' if result == committed[name] else 'other'} data"
    finally:
        done.set()
        holder.join()
    expect(not slow, spec, "reads", f"every read within {READ_DEADLINE_S:g} s of a held write "
           "transaction, with the committed data only", slow)
