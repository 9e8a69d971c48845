"""``isolation``: what two concurrent ``atomic()`` blocks may see of each other.

The contract (:meth:`storecheck.conformance.backend.Transactional.atomic`) is
serializability: whatever two blocks do at once, every committed block sees and
leaves what it would had the blocks run one at a time in some order, and a block
that cannot be ordered fails with :class:`Busy`, having written nothing, for the
caller to retry.

Each :class:`Scenario` here is one classic anomaly written with a spec's own
operations: two blocks, the steps of each, and the points where one waits for the
other (a signal with a timeout, since the other may be held up by this block's
own lock, as it is on a store that runs one writer at a time).  The checks retry
a block that failed with Busy, then judge the observations of the committed
attempts and the final state against the outcomes of the two serial orders: one
expected value would wrongly fail a store that orders the blocks the other way.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Protocol

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.backend import EngineSessions
from storecheck.conformance.checks import expect, fast_switching, run_threads, worker_pool, worker_processes
from storecheck.conformance.errors import Busy, StoreError
from storecheck.conformance.hermitage import ENGINES, Cell, Engine, differences, measure

PEER_WAIT_S = 0.25
"""How long a block waits at a rendezvous for the other block before going on without it.
A peer that has not arrived by then is held up, by this block's lock or the scheduler;
either way the round still runs, only without the interleaving it aimed at."""
ATTEMPTS = 8
"""Attempts per block: the first, then retries after Busy (the caller's part of the
contract); a block that never commits fails the check."""
ROUNDS = 2
"""Rounds of each scenario, on fresh records: one round can miss the interleaving."""


class Signals(Protocol):
    def signal(self, name: str) -> None: ...
    def wait(self, name: str) -> bool: ...


SIGNAL_NAMES = ("read-0", "read-1", "first-read", "written")


class Rendezvous:
    """The named one-shot signals of one round, shared by its two blocks (threads or
    processes: the events come from the caller's ``multiprocessing`` context)."""

    def __init__(self, make_event: Callable[[], Any]) -> None:
        self.events = {name: make_event() for name in SIGNAL_NAMES}

    def signal(self, name: str) -> None:
        self.events[name].set()

    def wait(self, name: str) -> bool:
        return bool(self.events[name].wait(PEER_WAIT_S))


class Alone:
    """A retried block's signals: its peer has finished, so nothing is waited for."""

    def signal(self, name: str) -> None:
        pass

    def wait(self, name: str) -> bool:
        return False


class IsolationAdapter(Protocol):
    """What a spec's isolation suite supplies: integer *registers* stored through the
    spec's operations, and *groups* whose members a filtered read counts."""

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]: ...
    def read(self, store: Any, register: Any) -> int: ...
    def write(self, store: Any, register: Any, value: int) -> None: ...
    def group(self, store: Any, tag: str, members: int) -> Any: ...
    def add_member(self, store: Any, group: Any, index: int) -> None: ...
    def count(self, store: Any, group: Any) -> int: ...


@dataclass(frozen=True)
class Round:
    """The records one round of a scenario uses (picklable, for worker processes)."""

    scenario: str
    x: Any = None
    y: Any = None
    group: Any = None


class Scenario:
    """One anomaly: two blocks (``block(0, ...)`` and ``block(1, ...)``), what the round
    starts with, and every outcome a serial order of the two blocks allows."""

    name: ClassVar[str]
    operation: ClassVar[str]
    """The spec operations the scenario goes through, for the failure message."""

    def prepare(self, adapter: IsolationAdapter, store: Any, tag: str) -> Round:
        raise NotImplementedError

    def block(self, role: int, adapter: IsolationAdapter, store: Any, records: Round,
              signals: Signals) -> Any:
        raise NotImplementedError

    def final(self, adapter: IsolationAdapter, store: Any, records: Round) -> Any:
        raise NotImplementedError

    def serial_outcomes(self) -> list[tuple[Any, Any, Any]]:
        """(block 0's observation, block 1's observation, final state) for order 0-1 and 1-0."""
        raise NotImplementedError

    writer_announces_commit: ClassVar[bool] = False
    """Block 1 signals "written" once committed, for a block 0 that reads after it."""

    def after_commit(self, role: int, signals: Signals) -> None:
        if self.writer_announces_commit and role == 1:
            signals.signal("written")


class LostUpdate(Scenario):
    """Both blocks read a register, meet, and write it back incremented: it must end +2
    (or one block fails with Busy and, retried, reads the other's write)."""

    name = "lost update"
    operation = "atomic: read then write one register"

    def prepare(self, adapter: IsolationAdapter, store: Any, tag: str) -> Round:
        (x,) = adapter.registers(store, tag, [10])
        return Round(self.name, x=x)

    def block(self, role: int, adapter: IsolationAdapter, store: Any, records: Round,
              signals: Signals) -> Any:
        seen = adapter.read(store, records.x)
        signals.signal(f"read-{role}")
        signals.wait(f"read-{1 - role}")
        adapter.write(store, records.x, seen + 1)
        return seen

    def final(self, adapter: IsolationAdapter, store: Any, records: Round) -> Any:
        return adapter.read(store, records.x)

    def serial_outcomes(self) -> list[tuple[Any, Any, Any]]:
        return [(10, 11, 12), (11, 10, 12)]


class ReadSkew(Scenario):
    """Block 1 writes two registers; block 0 reads one before that block and the other
    after it committed: it must see both writes or neither."""

    name = "read skew"
    operation = "atomic: read two registers while another block writes both"
    writer_announces_commit = True

    def prepare(self, adapter: IsolationAdapter, store: Any, tag: str) -> Round:
        x, y = adapter.registers(store, tag, [10, 20])
        return Round(self.name, x=x, y=y)

    def block(self, role: int, adapter: IsolationAdapter, store: Any, records: Round,
              signals: Signals) -> Any:
        if role == 0:
            first = adapter.read(store, records.x)
            signals.signal("first-read")
            signals.wait("written")
            return (first, adapter.read(store, records.y))
        signals.wait("first-read")
        adapter.write(store, records.x, 11)
        adapter.write(store, records.y, 21)
        return None

    def final(self, adapter: IsolationAdapter, store: Any, records: Round) -> Any:
        return (adapter.read(store, records.x), adapter.read(store, records.y))

    def serial_outcomes(self) -> list[tuple[Any, Any, Any]]:
        return [((10, 20), None, (11, 21)), ((11, 21), None, (11, 21))]


class WriteSkew(Scenario):
    """Two registers hold 1 each and must never both be 0: each block reads both and,
    seeing the sum 2, sets its own to 0.  One of them must see the other's write."""

    name = "write skew"
    operation = "atomic: check an invariant over two registers, then write one"

    def prepare(self, adapter: IsolationAdapter, store: Any, tag: str) -> Round:
        x, y = adapter.registers(store, tag, [1, 1])
        return Round(self.name, x=x, y=y)

    def block(self, role: int, adapter: IsolationAdapter, store: Any, records: Round,
              signals: Signals) -> Any:
        seen = (adapter.read(store, records.x), adapter.read(store, records.y))
        signals.signal(f"read-{role}")
        signals.wait(f"read-{1 - role}")
        if sum(seen) >= 2:
            adapter.write(store, records.x if role == 0 else records.y, 0)
        return seen

    def final(self, adapter: IsolationAdapter, store: Any, records: Round) -> Any:
        return (adapter.read(store, records.x), adapter.read(store, records.y))

    def serial_outcomes(self) -> list[tuple[Any, Any, Any]]:
        return [((1, 1), (0, 1), (0, 1)), ((1, 0), (1, 1), (1, 0))]


class Phantom(Scenario):
    """Block 0 counts a group's members twice; block 1 adds a member between the two
    counts and commits: both counts must be equal."""

    name = "phantom"
    operation = "atomic: count by a filter twice while another block adds a match"
    writer_announces_commit = True

    def prepare(self, adapter: IsolationAdapter, store: Any, tag: str) -> Round:
        return Round(self.name, group=adapter.group(store, tag, 1))

    def block(self, role: int, adapter: IsolationAdapter, store: Any, records: Round,
              signals: Signals) -> Any:
        if role == 0:
            first = adapter.count(store, records.group)
            signals.signal("first-read")
            signals.wait("written")
            return (first, adapter.count(store, records.group))
        signals.wait("first-read")
        adapter.add_member(store, records.group, 1)
        return None

    def final(self, adapter: IsolationAdapter, store: Any, records: Round) -> Any:
        return adapter.count(store, records.group)

    def serial_outcomes(self) -> list[tuple[Any, Any, Any]]:
        return [((1, 1), None, 2), ((2, 2), None, 2)]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (LostUpdate(), ReadSkew(), WriteSkew(),
                                                      Phantom())}


@dataclass(frozen=True)
class BlockResult:
    """A block's observation on the attempt that committed, and every attempt that failed."""

    observation: Any
    retried: tuple[str, ...]
    committed: bool


def _back_off(attempt: int) -> None:
    """A jittered pause before attempt ``attempt + 1``, longer each time."""
    time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))


def retrying_busy(block: Callable[[], Any]) -> Any:
    """``block()`` (which opens its own ``atomic()``), run again after Busy as the contract
    tells a caller to, up to :data:`ATTEMPTS` times in all."""
    for attempt in range(ATTEMPTS - 1):
        try:
            return block()
        except Busy:
            _back_off(attempt)
    return block()


def run_block(scenario: Scenario, role: int, adapter: IsolationAdapter, store: Any,
              records: Round, signals: Signals) -> BlockResult:
    """Run one block until it commits, retrying after Busy as the contract tells a caller."""
    failures: list[str] = []
    for attempt in range(ATTEMPTS):
        current: Signals = signals if attempt == 0 else Alone()
        try:
            with store.atomic():
                seen = scenario.block(role, adapter, store, records, current)
        except Busy as exc:
            failures.append(f"Busy: {exc}")
            current.signal("written")  # a failed writer must not keep the reader waiting
            _back_off(attempt)
            continue
        scenario.after_commit(role, current)
        return BlockResult(seen, tuple(failures), True)
    return BlockResult(None, tuple(failures), False)


def judge(scenario: Scenario, results: Sequence[BlockResult], final: Any,
          where: str) -> str | None:
    """What was wrong with one round, or None when it ended as a serial order would."""
    for role, result in enumerate(results):
        if not result.committed:
            return (f"{scenario.name} ({where}): block {role} did not commit in {ATTEMPTS} "
                    f"attempts, retried after Busy: {list(result.retried[-2:])}")
    observed = (results[0].observation, results[1].observation, final)
    if observed in scenario.serial_outcomes():
        return None
    retried = "".join(f", block {role} retried {len(r.retried)}x after Busy"
                      for role, r in enumerate(results) if r.retried)
    return (f"{scenario.name} ({where}, {scenario.operation}): (block 0 saw, block 1 saw, final) "
            f"was {observed}{retried}; the serial orders give {scenario.serial_outcomes()}")


def expect_serializable(spec: str, problems: Sequence[str | None]) -> None:
    found = [problem for problem in problems if problem is not None]
    names = sorted({problem.split(" (", 1)[0] for problem in found})
    expect(not found, spec, "atomic", "concurrent atomic() blocks to be serializable (or to "
           f"fail with Busy and commit when retried); anomalies: {', '.join(names)}",
           "; ".join(found[:4]))


def _guarded(call: Callable[[], BlockResult], spec: str, scenario: Scenario) -> BlockResult:
    try:
        return call()
    except StoreError as exc:
        raise AssertionError(
            f"{spec}.{scenario.operation}: a concurrent atomic() block may fail only with "
            f"Busy (retryable, nothing written); got {type(exc).__name__}: {exc}") from exc


def rounds_of(adapter: IsolationAdapter, store: Any, tag: str) -> list[Round]:
    return [SCENARIOS[name].prepare(adapter, store, f"{tag}-{number}-{name.replace(' ', '-')}")
            for number in range(ROUNDS) for name in SCENARIOS]


def isolation_in_threads(spec: str, adapter: IsolationAdapter, store: Any) -> None:
    """Every scenario, each round's two blocks in two threads sharing ``store``."""
    problems: list[str | None] = []
    for records in rounds_of(adapter, store, "threads"):
        scenario = SCENARIOS[records.scenario]
        signals = Rendezvous(threading.Event)
        results: list[BlockResult | None] = [None, None]

        def run(role: int, scenario: Scenario = scenario, records: Round = records,
                signals: Rendezvous = signals, results: list[Any] = results) -> None:
            results[role] = _guarded(partial(run_block, scenario, role, adapter, store,
                                             records, signals), spec, scenario)

        with fast_switching():
            run_threads(run, [(0,), (1,)])
        finished = [r for r in results if r is not None]
        problems.append(judge(scenario, finished, scenario.final(adapter, store, records),
                              "threads sharing one store"))
    expect_serializable(spec, problems)


_barrier: Any = None
_signals: list[Rendezvous] = []


def _keep(barrier: Any, signals: list[Rendezvous]) -> None:
    global _barrier, _signals
    _barrier, _signals = barrier, signals


def _process_blocks(backend: Any, spec: str, location: str, adapter: IsolationAdapter,
                    plan: list[Round], role: int) -> list[BlockResult]:
    store = backend.open(spec, location)
    try:
        results = []
        for records, signals in zip(plan, _signals, strict=True):
            scenario = SCENARIOS[records.scenario]
            _barrier.wait()
            results.append(_guarded(partial(run_block, scenario, role, adapter, store, records,
                                            signals), spec, scenario))
        return results
    finally:
        store.close()


def isolation_in_processes(backend: Any, spec: str, location: str, adapter: IsolationAdapter,
                           store: Any, timeout: float = 240.0) -> None:
    """Every scenario, each round's two blocks in two worker processes with a store each;
    the workers start once and meet at a barrier before every round."""
    plan = rounds_of(adapter, store, "processes")
    context = worker_processes()
    barrier = context.Barrier(2, timeout=timeout)
    signals = [Rendezvous(context.Event) for _ in plan]
    with worker_pool(2, _keep, (barrier, signals)) as pool:
        jobs = [pool.apply_async(_process_blocks, (backend, spec, location, adapter, plan, role))
                for role in (0, 1)]
        per_role = [job.get(timeout=timeout) for job in jobs]
    problems = [judge(SCENARIOS[records.scenario], [per_role[0][index], per_role[1][index]],
                      SCENARIOS[records.scenario].final(adapter, store, records),
                      "worker processes")
                for index, records in enumerate(plan)]
    expect_serializable(spec, problems)


ISOLATION_TABLE_PROPERTY = "storecheck_isolation_table"
"""The user property that carries a backend's measured anomaly table to the report."""
_measured: dict[tuple[str, str], list[Cell]] = {}


def anomaly_table(backend: str, store: Any) -> tuple[Engine, list[Cell]]:
    """Hermitage's table for the backend's engine, measured once per backend and session
    (every spec's suite asks; the engine is the same)."""
    dialect = getattr(store, "sql_dialect", "")
    engine = ENGINES.get(dialect)
    if engine is None:
        pytest.skip(f"no isolation levels known for sql_dialect {dialect!r} (known: "
                    f"{', '.join(ENGINES)})")
    if not isinstance(store, EngineSessions):
        pytest.skip("the store has no engine_session() (EngineSessions), so its engine's "
                    "isolation levels cannot be measured")
    key = (backend, dialect)
    if key not in _measured:
        _measured[key] = measure(engine, store.engine_session)
    return engine, _measured[key]


class IsolationSuite:
    """Every spec's isolation checks; a suite module subclasses it as ``TestIsolation``
    and implements :class:`IsolationAdapter`'s methods with the spec's operations."""

    spec: ClassVar[str]

    @pytest.mark.requires(caps.TRANSACTIONS)
    @pytest.mark.operation("atomic")
    def test_concurrent_blocks_of_threads_are_serializable(self, store: Any) -> None:
        isolation_in_threads(self.spec, self, store)  # type: ignore[arg-type]

    @pytest.mark.requires(caps.TRANSACTIONS, caps.MULTI_PROCESS)
    @pytest.mark.operation("atomic")
    def test_concurrent_blocks_of_processes_are_serializable(
        self, backend: Any, fresh_location: str, store: Any
    ) -> None:
        isolation_in_processes(backend.backend, self.spec, fresh_location,
                               self, store)  # type: ignore[arg-type]

    @pytest.mark.requires(caps.SQL_INTROSPECTION)
    @pytest.mark.operation("engine isolation levels")
    def test_engine_anomaly_table_matches_the_published_one(
        self, backend: Any, store: Any, record_property: Callable[[str, object], None]
    ) -> None:
        """Hermitage's anomaly tests at every isolation level the store's engine offers: the
        table (reported) must equal the one published for the engine, so that a server
        that speaks the dialect but isolates differently is named cell by cell."""
        engine, cells = anomaly_table(backend.backend.name, store)
        record_property(ISOLATION_TABLE_PROPERTY, {
            "engine": engine.dialect, "source": engine.source,
            "cells": [{"anomaly": cell.anomaly, "level": cell.level, "verdict": cell.verdict,
                       "how": list(cell.how),
                       "published": "prevented" if engine.reference[(cell.anomaly, cell.level)]
                       else "exhibited"} for cell in cells]})
        mismatched = differences(engine, cells)
        expect(not mismatched, self.spec, "engine isolation levels",
               f"the {engine.dialect} engine's anomaly table to equal the published one "
               "(the isolation levels section of the terminal report shows both)",
               "; ".join(mismatched[:4]))
