"""Stores whose ``atomic()`` blocks are not serializable, each a shape real stores ship."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from storecheck.reference_impl.app_meta import SqliteAppMeta
from storecheck.reference_impl.engine import Database
from storecheck.reference_impl.engine.connection import is_busy
from storecheck.reference_impl.session_history import SqliteSessionHistory

from tests.mutants import sqlite_mutant_backends


class _RestartsStaleWrites:
    """A connection that meets SQLITE_BUSY at a write inside a transaction the way busy
    handling is often written: start the transaction over, this time as BEGIN IMMEDIATE,
    reopen the savepoints, and run the write again.  The write lock is got; the snapshot
    the block's earlier reads came from is silently thrown away."""

    def __init__(self, raw: sqlite3.Connection, local: Any) -> None:
        self.raw = raw
        self.local = local

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return self.raw.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not (is_busy(exc) and self.raw.in_transaction and self.local.depth):
                raise
        self.raw.execute("ROLLBACK")
        self.raw.execute("BEGIN IMMEDIATE")
        for depth in range(1, self.local.depth):
            self.raw.execute(f"SAVEPOINT sp{depth}")
        return self.raw.execute(sql, parameters)


class RestartingDatabase(Database):
    def connection(self) -> Any:
        return _RestartsStaleWrites(super().connection(), self._local)


class DeferredBlockRestartsStaleWrite:
    """The caller's block starts with a deferred ``BEGIN`` (the first read takes the
    snapshot, the first write asks for the lock), and a write refused because the
    snapshot went stale is restarted rather than failed with Busy."""

    database_class: type[Database] = RestartingDatabase

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._tx("atomic", write=False):  # type: ignore[attr-defined]
            yield


class SessionsDeferredBlock(DeferredBlockRestartsStaleWrite, SqliteSessionHistory):
    pass


class AppMetaDeferredBlock(DeferredBlockRestartsStaleWrite, SqliteAppMeta):
    pass


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "session_history_deferred_block_restarts_stale_write": (SessionsDeferredBlock, "isolation"),
    "app_meta_deferred_block_restarts_stale_write": (AppMetaDeferredBlock, "isolation"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
