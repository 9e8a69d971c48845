"""Runs one Hermitage case at one isolation level on real sessions of an engine.

Each session is a connection driven by a thread of its own, so a step that
blocks on a lock holds up only its session, as it would hold up a person at a
terminal.  The orchestrator hands out the steps in the case's order and, after
each, waits until the step finished or is *blocked*: waiting on a lock by the
engine's own account where it gives one (PostgreSQL's ``pg_stat_activity``),
otherwise still running after :data:`BLOCKED_AFTER_S`.  A blocked session's
later steps queue behind it; after a COMMIT or ROLLBACK (which release locks)
the orchestrator waits again for every session that was held up.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storecheck.conformance.hermitage.cases import (
    BEGIN,
    COMMIT,
    FINAL,
    ROLLBACK,
    SETUP,
    Case,
    Committed,
    Left,
    Observation,
    Saw,
    Step,
)
from storecheck.conformance.hermitage.engines import Engine

BLOCKED_AFTER_S = 0.3
"""Without the engine's word, a statement still running after this long is blocked (a
SQLite statement of this table takes microseconds)."""
LOCK_WAIT_CONFIRM_S = 0.03
"""With the engine's word, it must still be waiting this long after the step began: a
session woken by a commit may report its old wait for a moment."""
DRAIN_S = 20.0
"""How long the sessions get to finish once every step was handed out (PostgreSQL breaks
a deadlock after a second; a SQLite session gives up after its busy timeout)."""
POLL_S = 0.005


@dataclass
class StepRun:
    step: Step
    done: threading.Event = field(default_factory=threading.Event)
    rows: list[tuple[Any, ...]] | None = None
    error: str | None = None
    skipped: bool = False
    blocked: bool = False


class Session:
    """One connection and the thread that runs its steps in order."""

    def __init__(self, number: int, connection: Any, engine: Engine, level: str) -> None:
        self.number = number
        self.connection = connection
        self.engine = engine
        self.level = level
        self.pid = engine.session_id(connection)
        self.failed: str | None = None
        self.runs: list[StepRun] = []
        self._queue: queue.Queue[StepRun | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"hermitage-T{number}")
        self._thread.start()

    def submit(self, step: Step) -> StepRun:
        run = StepRun(step)
        self.runs.append(run)
        self._queue.put(run)
        return run

    def pending(self) -> list[StepRun]:
        return [run for run in self.runs if not run.done.is_set()]

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(DRAIN_S)

    def _loop(self) -> None:
        while (run := self._queue.get()) is not None:
            try:
                self._run(run)
            finally:
                run.done.set()

    def _run(self, run: StepRun) -> None:
        sql = run.step.sql
        if sql == BEGIN:
            sql = self.engine.levels[self.level]
        elif self.failed is not None:
            run.skipped = True
            if sql in (COMMIT, ROLLBACK):
                self._quietly(ROLLBACK)
            return
        try:
            cursor = self.connection.cursor()
            cursor.execute(sql)
            run.rows = _rows(cursor)
        except Exception as exc:  # the engine's refusal is the observation
            run.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.failed = run.error

    def _quietly(self, sql: str) -> None:
        with contextlib.suppress(Exception):  # the transaction is gone either way
            self.connection.cursor().execute(sql)


@dataclass(frozen=True)
class Cell:
    """One anomaly at one level: whether it happened, and how it was kept out if not."""

    anomaly: str
    level: str
    exhibited: bool
    how: tuple[str, ...]
    """"blocked" and/or "aborted" for a prevented anomaly; empty when neither was needed."""
    errors: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return "exhibited" if self.exhibited else "prevented"

    def shown(self) -> str:
        return self.verdict + (f" ({', '.join(self.how)})" if self.how and not self.exhibited
                               else "")


def run_case(case: Case, level: str, engine: Engine, connect: Callable[[], Any]) -> Cell:
    """``case`` at ``level``: a fresh table, a session per transaction, every step in turn."""
    _execute_all(connect, SETUP)
    monitor = connect() if engine.waiting_sql else None
    numbers = sorted({step.session for step in case.steps})
    sessions = {n: Session(n, connect(), engine, level) for n in numbers}
    try:
        for step in case.steps:
            session = sessions[step.session]
            held_up = bool(session.pending())
            run = session.submit(step)
            if not held_up:
                _settle(run, session, engine, monitor)
            if step.sql in (COMMIT, ROLLBACK) or run.error:
                for other in sessions.values():
                    if other.pending():
                        _settle(other.pending()[0], other, engine, monitor)
        hung = _drain(sessions.values(), engine, monitor)
    finally:
        for session in sessions.values():
            session.stop()
            session.connection.close()
        if monitor is not None:
            monitor.close()
    final = _execute_all(connect, (FINAL,))
    return _judge(case, level, sessions, final, hung)


def _settle(run: StepRun, session: Session, engine: Engine, monitor: Any) -> None:
    started = time.monotonic()
    while not run.done.wait(POLL_S):
        waited = time.monotonic() - started
        if monitor is not None:
            if waited >= LOCK_WAIT_CONFIRM_S and engine.is_waiting(monitor, session.pid):
                run.blocked = True
                return
        elif waited >= BLOCKED_AFTER_S:
            run.blocked = True
            return


def _drain(sessions: Any, engine: Engine, monitor: Any) -> list[str]:
    deadline = time.monotonic() + DRAIN_S
    hung = []
    for session in sessions:
        for run in session.pending():
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                hung.append(f"T{session.number}: {run.step.sql}")
                engine.interrupt(monitor, session.connection, session.pid)
    return hung


def _execute_all(connect: Callable[[], Any], statements: tuple[str, ...]) -> list[tuple[Any, ...]]:
    connection = connect()
    try:
        rows: list[tuple[Any, ...]] = []
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)
            found = _rows(cursor)
            if found is not None:
                rows = found
        return rows
    finally:
        connection.close()


def _rows(cursor: Any) -> list[tuple[Any, ...]] | None:
    """The rows a statement returned, or None for a statement that returns none."""
    return [tuple(row) for row in cursor.fetchall()] if cursor.description else None


def _judge(case: Case, level: str, sessions: dict[int, Session], final: list[tuple[Any, ...]],
           hung: list[str]) -> Cell:
    runs = [run for session in sessions.values() for run in session.runs]
    seen = {run.step.label: run for run in runs if run.step.label}
    committed = {number for number, session in sessions.items()
                 if any(run.step.sql == COMMIT and not run.skipped and run.error is None
                        and run.done.is_set() for run in session.runs)}

    def holds(observation: Observation) -> bool:
        if isinstance(observation, Committed):
            return observation.session in committed
        if isinstance(observation, Left):
            return observation.row in final
        assert isinstance(observation, Saw)
        found = seen[observation.label]
        if found.rows is None:
            return False
        return found.rows == [] if observation.row is None else observation.row in found.rows

    exhibited = any(all(holds(o) for o in alternative) for alternative in case.exhibited_if)
    how = (("blocked",) if any(run.blocked for run in runs) else ()) + \
          (("aborted",) if any(s.failed for s in sessions.values()) else ())
    errors = tuple(f"T{run.step.session} {run.step.sql!r}: {run.error}" for run in runs
                   if run.error) + tuple(f"hung: {line}" for line in hung)
    return Cell(case.name, level, exhibited, how, errors)
