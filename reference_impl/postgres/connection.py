"""The one place that owns the PostgreSQL connection rules of the reference stores.

* autocommit at the driver level, transactions started explicitly; a single
  operation's writes run at READ COMMITTED, and every operation that reads a
  row to decide a write says which PostgreSQL tool keeps it race-free (a
  conditional UPDATE, an upsert, ``FOR UPDATE`` or ``FOR UPDATE SKIP LOCKED``);
  a caller's ``atomic()`` block, whose reads and writes nobody here can see in
  advance, runs at SERIALIZABLE instead;
* reads run in ``REPEATABLE READ READ ONLY`` transactions, so several SELECTs
  of one operation see one snapshot, as a deferred SQLite transaction does;
* one connection per thread; nested :meth:`PgDatabase.atomic` calls become
  savepoints;
* every statement arrives in SQLite's SQL and is translated (once per process)
  by :func:`storecheck.conformance.sqlschema.to_postgres`;
* text parameters and results go through :mod:`.text`'s NUL escape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors, sql as pg_sql
from storecheck.conformance.errors import (
    Busy,
    ConstraintKind,
    ConstraintViolation,
    StorageCause,
    StorageFailed,
)
from storecheck.conformance.sqlschema import FtsTable, to_postgres
from storecheck.reference_impl.engine.sql import nested_savepoint
from storecheck.reference_impl.postgres import text

_Result = TypeVar("_Result")
_CONSTRAINT_KINDS: tuple[tuple[type[psycopg.Error], ConstraintKind], ...] = (
    (pg_errors.ForeignKeyViolation, ConstraintKind.FOREIGN_KEY),
    (pg_errors.UniqueViolation, ConstraintKind.UNIQUE),
    (pg_errors.CheckViolation, ConstraintKind.CHECK),
    (pg_errors.NotNullViolation, ConstraintKind.NOT_NULL),
)
# Lost races the server resolved by aborting us: the spec's Busy ("try again").
_CONTENTION = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
               pg_errors.LockNotAvailable)
_BEGIN_SERIALIZABLE = "BEGIN ISOLATION LEVEL SERIALIZABLE"
_STORAGE_CAUSES: tuple[tuple[type[psycopg.Error], StorageCause], ...] = (
    (pg_errors.DiskFull, StorageCause.DISK_FULL),
    (pg_errors.DataCorrupted, StorageCause.CORRUPT),
    (pg_errors.IndexCorrupted, StorageCause.CORRUPT),
    (pg_errors.ReadOnlySqlTransaction, StorageCause.READ_ONLY),
    (pg_errors.IoError, StorageCause.IO_ERROR),
    (pg_errors.InvalidSchemaName, StorageCause.CANNOT_OPEN),
)


def translate(exc: psycopg.Error, spec: str, operation: str, value: Any = None) -> Exception:
    """The spec error for a driver error, or the driver error itself if it has none."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for error_class, kind in _CONSTRAINT_KINDS:
        if isinstance(exc, error_class):
            return ConstraintViolation(spec, operation, kind, message, value)
    if isinstance(exc, _CONTENTION):
        return Busy(spec, operation, message, value)
    for error_class, cause in _STORAGE_CAUSES:
        if isinstance(exc, error_class):
            return StorageFailed(spec, operation, cause, message, value)
    if isinstance(exc, psycopg.OperationalError) and (exc.sqlstate or "08").startswith("08"):
        return StorageFailed(spec, operation, StorageCause.CANNOT_OPEN, message, value)
    return exc


class PgConnection:
    """A psycopg connection that runs the reference's SQLite statements.

    A transaction's ``BEGIN`` waits in :attr:`pending_begin` and goes to the server in
    one pipeline with the transaction's first statement: one round trip saved per
    transaction, a third of a one-statement read's.
    """

    def __init__(self, raw: psycopg.Connection[Any], fts: frozenset[FtsTable]) -> None:
        self.raw = raw
        self.fts = fts
        self.pending_begin: str | None = None

    def execute(self, sql: str, parameters: Any = None, /) -> psycopg.Cursor[Any]:
        first, *rest = to_postgres(sql, self.fts)
        cursor = self._first(lambda: self.raw.cursor().execute(first, parameters or None))
        for statement in rest:
            cursor.execute(statement, parameters or None)
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Any]:
        (statement,) = to_postgres(sql, self.fts)
        batch = list(parameters)
        cursor = self.raw.cursor()
        if batch:
            self._first(lambda: cursor.executemany(statement, batch))
        return cursor

    def execute_native(self, sql: str | pg_sql.Composed, parameters: Any = None) -> psycopg.Cursor[Any]:
        """Run a statement written for PostgreSQL (the engine-specific ones)."""
        return self._first(lambda: self.raw.execute(sql, parameters or None))

    def begin_with_first_statement(self, begin: str) -> None:
        self.pending_begin = begin

    def began(self) -> bool:
        """Whether the transaction reached the server (a block that ran no statement has
        nothing to end)."""
        return self.pending_begin is None

    def _first(self, run: Callable[[], _Result]) -> _Result:
        """``run()``, after the pending ``BEGIN`` if there is one, in the same round trip."""
        begin, self.pending_begin = self.pending_begin, None
        if begin is None:
            return run()
        with self.raw.pipeline():
            self.raw.execute(begin)
            return run()


def relation_exists(conn: PgConnection, name: str) -> bool:
    """Whether the location's schema (the search_path) holds a table, view or index ``name``."""
    row = conn.execute_native("SELECT to_regclass(%s)", (name,)).fetchone()
    return row is not None and row[0] is not None


class PgDatabase:
    """Per-thread connections to one location (a schema) under the rules above."""

    def __init__(self, conninfo: str, fts: frozenset[FtsTable] = frozenset()) -> None:
        self.conninfo = conninfo
        self.fts = fts
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._all_lock = threading.Lock()
        self._closed = False

    def connection(self) -> PgConnection:
        conn: PgConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise psycopg.InterfaceError("the store is closed")
            raw = psycopg.connect(self.conninfo, autocommit=True)
            text.install(raw.adapters)
            conn = PgConnection(raw, self.fts)
            self._local.conn = conn
            self._local.depth = 0
            with self._all_lock:
                self._all.append(raw)
        return conn

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            for raw in self._all:
                raw.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def atomic(self, *, write: bool = True, serializable: bool = False) -> Iterator[PgConnection]:
        """A transaction, or a savepoint inside the thread's open transaction.

        ``serializable`` starts the transaction at SERIALIZABLE (a caller's ``atomic()``
        block: see :meth:`.store.PostgresStore.atomic`); otherwise a write runs at READ
        COMMITTED with the locks its operation names.
        """
        conn = self.connection()
        if self._local.depth:
            with nested_savepoint(self._local, conn.execute_native):
                yield conn
            return
        conn.begin_with_first_statement(
            _BEGIN_SERIALIZABLE if serializable else "BEGIN" if write
            else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            if conn.began() and not conn.raw.closed:
                conn.execute_native("ROLLBACK")
            raise
        else:
            if conn.began():
                conn.execute_native("COMMIT")
        finally:
            conn.pending_begin = None
            self._local.depth = 0

    def read_only(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement as written (no translation) in a read-only transaction."""
        with self.atomic(write=False) as conn:
            return [tuple(row) for row in conn.execute_native(sql, tuple(params))]
