"""Stores that fail their caller when the storage under them misbehaves.

Each is a shape real stores ship: a WAL left to a checkpoint that never
catches up with the writers, driver errors passed through untranslated,
every OperationalError read as "locked, retry", a store that adopts any file
it is pointed at, an integrity check that raises on the damage it exists to
report.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from storecheck.conformance.errors import Busy
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.engine import Database, Migrator, connection as engine_connection
from storecheck.reference_impl.engine.checkpoint import Checkpointer
from storecheck.reference_impl.engine.sql import Connection, spec_errors
from storecheck.reference_impl.session_history import SqliteSessionHistory

from tests.mutants import sqlite_mutant_backends


class PassiveOnlyCheckpointer(Checkpointer):
    """PASSIVE checkpoints only: they never block anyone, and never let the WAL start over."""

    def _restart(self, conn: sqlite3.Connection) -> None:
        return None


class PassiveOnlyDatabase(Database):
    def __init__(self, path: str, rules: Any = None) -> None:
        super().__init__(path, rules)
        if self._checkpointer is not None:
            self._checkpointer = PassiveOnlyCheckpointer(self._connect, path)


class WalNeverRestarted(SqliteSessionHistory):
    database_class = PassiveOnlyDatabase


def _constraints_only(exc: sqlite3.Error, spec: str, operation: str, value: Any = None) -> Exception:
    mapped = engine_connection.translate(exc, spec, operation, value)
    return exc if type(mapped).__name__ == "StorageFailed" else mapped


class StorageErrorsRaisedRaw(SqliteConversations):
    """Constraint and lock errors translated; "database or disk is full" reaches the caller
    as the driver raised it."""

    def _storage(self, operation: str, value: Any = None) -> Any:
        return spec_errors(sqlite3.Error, _constraints_only, self.spec, operation, value)


def _operational_is_busy(exc: sqlite3.Error, spec: str, operation: str, value: Any = None) -> Exception:
    if isinstance(exc, sqlite3.OperationalError):
        return Busy(spec, operation, str(exc), value)
    return engine_connection.translate(exc, spec, operation, value)


class FullDiskReportedAsBusy(SqliteSessionHistory):
    """Every OperationalError is "the database is locked, try again", a full disk too."""

    def _storage(self, operation: str, value: Any = None) -> Any:
        return spec_errors(sqlite3.Error, _operational_is_busy, self.spec, operation, value)


class AdoptingMigrator(Migrator):
    def _refuse_foreign(self, conn: Connection) -> None:
        return None


class OpensAnyFile(SqliteConversations):
    """Whatever file it is pointed at, it adds its tables to it."""

    migrator_class = AdoptingMigrator

    def _look_before_touching(self, goal: int) -> bool:
        return False


class IntegrityCheckRaises(SqliteSessionHistory):
    """``verify_integrity`` runs the checks and lets the damage escape as the driver's error."""

    def verify_integrity(self) -> list[str]:
        conn = self.db.connection()
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        return [str(row[0]) for row in rows if row[0] != "ok"] + [
            f"{table} row {rowid}" for table, rowid, _, _ in conn.execute("PRAGMA foreign_key_check")]


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "wal_never_restarted": (WalNeverRestarted, "acid"),
    "storage_errors_raised_raw": (StorageErrorsRaisedRaw, "acid"),
    "full_disk_reported_as_busy": (FullDiskReportedAsBusy, "acid"),
    "opens_any_file": (OpensAnyFile, "badinput"),
    "integrity_check_raises": (IntegrityCheckRaises, "badinput"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
