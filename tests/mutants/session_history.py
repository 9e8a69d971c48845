"""Deliberately broken variants of the reference ``session_history`` store.

Each is a small, realistic bug.  ``MUTANTS`` maps a backend attribute name to
the conformance category that must catch it; tests/test_mutants.py runs the
suite against every one (``--store=tests.mutants.session_history:NAME``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from storecheck.conformance.specs.session_history import (
    ChatMessage,
    Cursor,
    ImportResult,
    NewInstance,
    NewMessage,
    NewSession,
    Session,
    SessionPage,
    SessionQuery,
    SessionUpdate,
    Workspace,
    workspace_hash,
)
from storecheck.reference_impl.engine import (
    ConnectionRules,
    Database,
    InjectedFault,
    Migration,
    Migrator,
    split_statements,
)
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.session_history import MIGRATIONS, SqliteSessionHistory, rows as row_codec

from tests.mutants import NoRetryDatabase, edit_migration, sqlite_mutant_backends


class _WithMigrations(SqliteSessionHistory):
    edited: tuple[Migration, ...] = MIGRATIONS

    def __init__(self, path: str, *, schema_version: int | None = None) -> None:
        super().__init__(path, schema_version=schema_version, migrations=self.edited)


class NoCascadeOnWorkspaceDelete(_WithMigrations):
    edited = edit_migration(MIGRATIONS,
        1, "up", "REFERENCES workspaces(id) ON DELETE CASCADE", "REFERENCES workspaces(id)")

    def delete_workspace(self, workspace_id: int) -> None:
        with self._tx("delete_workspace", workspace_id) as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("DELETE FROM workspaces WHERE id = ?", (workspace_id,))


class FirstConnectionOnlyDatabase(Database):
    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        if getattr(self, "_opened_one", False):
            conn.execute("PRAGMA foreign_keys = OFF")
        self._opened_one = True
        return conn


class ForeignKeysOnFirstConnectionOnly(SqliteSessionHistory):
    database_class = FirstConnectionOnlyDatabase


class NonAtomicCreate(SqliteSessionHistory):
    def create_session(self, new: NewSession) -> Session:
        with self._tx("create_session", new.id) as conn:
            self._insert_session(conn, replace(new, instances=(), messages=()),
                                 updated_at=new.created_at)
        for instance in new.instances:
            self.add_instance(new.id, instance)
        for message in new.messages:
            self.append_message(new.id, message)
        return self.get_session(new.id)


class CheckDropped(_WithMigrations):
    edited = edit_migration(MIGRATIONS, 1, "up", "CHECK(type IN ('competition', 'ensemble', 'debate')),", "")


class SearchIgnoresStatusFilter(SqliteSessionHistory):
    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        return super().search_sessions(replace(query, status=None), limit, after)


class PaginationSkipsTies(SqliteSessionHistory):
    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        if after is not None:
            query = replace(query, created_to=after.created_at)
        return super().search_sessions(query, limit, None)


class UpdateReinsertsChildren(SqliteSessionHistory):
    def update_session(self, session_id: str, update: SessionUpdate) -> Session:
        result = super().update_session(session_id, update)
        with self._tx("update_session", session_id) as conn:
            instances = self.list_instances(session_id)
            conn.execute("DELETE FROM instances WHERE session_id = ?", (session_id,))
            for instance in instances:
                fields = {k: v for k, v in vars(instance).items() if k not in ("row_id", "session_id")}
                self._insert_instance(conn, session_id, _new_instance(fields))
        return result


def _new_instance(fields: dict[str, Any]) -> NewInstance:
    return NewInstance(**fields)


class DownMigrationLosesData(_WithMigrations):
    edited = edit_migration(MIGRATIONS,
        2, "down", "DROP INDEX IF EXISTS idx_chat_messages_session_order;",
        "DROP INDEX IF EXISTS idx_chat_messages_session_order;\nDELETE FROM session_runtime_mix;")


class MessagesOrderedById(SqliteSessionHistory):
    def list_messages(self, session_id: str) -> list[ChatMessage]:
        return sorted(super().list_messages(session_id), key=lambda m: m.id)


class LostUpdateOnStats(SqliteSessionHistory):
    def record_instance_stats(self, session_id: str, files_changed: int, lines_added: int,
                              lines_deleted: int) -> Session:
        current = self.get_session(session_id)  # read in one transaction ...
        with self._tx("record_instance_stats", session_id) as conn:  # ... write in another
            conn.execute(
                "UPDATE sessions SET total_files_changed = ?, total_lines_added = ?, "
                "total_lines_deleted = ? WHERE id = ?",
                ((current.total_files_changed or 0) + files_changed,
                 (current.total_lines_added or 0) + lines_added,
                 (current.total_lines_deleted or 0) + lines_deleted, session_id),
            )
        return self.get_session(session_id)


class NoRetryNoTimeoutDatabase(NoRetryDatabase):
    def __init__(self, path: str, rules: ConnectionRules | None = None) -> None:
        super().__init__(path, ConnectionRules(busy_timeout_ms=0))


class BusyErrorLeaks(SqliteSessionHistory):
    database_class = NoRetryNoTimeoutDatabase


class SearchByStringFormatting(SqliteSessionHistory):
    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        if query.text is None:
            return super().search_sessions(query, limit, after)
        with self._tx("search_sessions", query, write=False) as conn:
            found = conn.execute(
                "SELECT " + row_codec.SESSION_COLUMNS + " FROM sessions "
                "WHERE task LIKE '%" + query.text + "%' ORDER BY created_at DESC, id DESC"
            ).fetchall()
            items = tuple(row_codec.session(row, self._runtime_mix(conn, row[0]))
                          for row in found[:limit])
        return SessionPage(items, None)


class CommitEachStatementMigrator(Migrator):
    def _run(self, conn: Connection, step: Migration, script: str,
             fail_after: int | None) -> None:
        for count, statement in enumerate(split_statements(script), start=1):
            conn.execute(statement)
            conn.execute("COMMIT")  # "so a long migration does not hold the lock"
            conn.execute("BEGIN IMMEDIATE")
            if fail_after is not None and count >= fail_after:
                raise InjectedFault(f"fault injected after statement {count}")


class MigrationNotAtomic(SqliteSessionHistory):
    migrator_class = CommitEachStatementMigrator


class SlowGetSession(SqliteSessionHistory):
    """One call in ten takes a slow path (a cache miss, a chatty network hop): the median
    stays fast, the p99 does not."""

    calls = 0

    def get_session(self, session_id: str) -> Session:
        self.calls += 1
        if self.calls % 10 == 0:
            time.sleep(0.12)
        return super().get_session(session_id)


MUTANTS: dict[str, tuple[type[SqliteSessionHistory], str]] = {
    "no_cascade_on_workspace_delete": (NoCascadeOnWorkspaceDelete, "fk"),
    "fk_pragma_first_connection_only": (ForeignKeysOnFirstConnectionOnly, "fk"),
    "non_atomic_create": (NonAtomicCreate, "acid"),
    "check_dropped": (CheckDropped, "badinput"),
    "search_ignores_filter": (SearchIgnoresStatusFilter, "model"),
    "pagination_skips_ties": (PaginationSkipsTies, "model"),
    "update_reinserts_children": (UpdateReinsertsChildren, "model"),
    "down_migration_loses_data": (DownMigrationLosesData, "migration"),
    "messages_ordered_by_id": (MessagesOrderedById, "model"),
    "lost_update_on_stats": (LostUpdateOnStats, "concurrency"),
    "busy_error_leaks": (BusyErrorLeaks, "concurrency"),
    "search_by_string_formatting": (SearchByStringFormatting, "badinput"),
    "migration_not_atomic": (MigrationNotAtomic, "migration"),
    "slow_tail_reads": (SlowGetSession, "latency"),
}

globals().update(sqlite_mutant_backends(MUTANTS, __name__))


class TotalsOverflowUnchecked(SqliteSessionHistory):
    """Adds the stats in one UPDATE, as the reference does, without the 64-bit guard:
    SQLite turns the overflowing sum into a REAL and the STRICT table refuses it with a
    driver error."""

    def record_instance_stats(self, session_id: str, files_changed: int, lines_added: int,
                              lines_deleted: int) -> Session:
        with self._tx("record_instance_stats", session_id) as conn:
            conn.execute(
                "UPDATE sessions SET total_files_changed = COALESCE(total_files_changed, 0) + ?,"
                " total_lines_added = COALESCE(total_lines_added, 0) + ?, total_lines_deleted ="
                " COALESCE(total_lines_deleted, 0) + ? WHERE id = ?",
                (files_changed, lines_added, lines_deleted, session_id))
        return self.get_session(session_id)


class AtomicIsNotATransaction(SqliteSessionHistory):
    """atomic() only groups calls; every operation still commits on its own."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        yield


class ForeignKeysOff(SqliteSessionHistory):
    rules = ConnectionRules(foreign_keys=False)


class GetOrCreateSelectThenInsert(SqliteSessionHistory):
    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        with self._tx("get_or_create_workspace", path, write=False) as conn:
            row = conn.execute("SELECT id FROM workspaces WHERE workspace_path = ?",
                               (path,)).fetchone()
        if row is not None:
            return self.touch_workspace(row[0], at)
        time.sleep(0.001)  # the window a real service has between its two round trips
        with self._tx("get_or_create_workspace", path) as conn:
            stamp = to_text(at)
            (workspace_id,) = conn.execute(
                "INSERT INTO workspaces (workspace_path, workspace_hash, created_at, "
                "last_accessed_at) VALUES (?, ?, ?, ?) RETURNING id",
                (path, workspace_hash(path), stamp, stamp)).fetchone()
        return self.get_workspace(workspace_id)


class ContentStripped(SqliteSessionHistory):
    def append_message(self, session_id: str, new: NewMessage) -> ChatMessage:
        return super().append_message(session_id, replace(new, content=new.content.strip()))


class RoleAndStatusChecksDropped(SqliteSessionHistory):
    migrations = edit_migration(
        edit_migration(MIGRATIONS, 1, "up",
                       "CHECK(status IN ('running', 'completed', 'failed', 'paused')),", ""),
        1, "up", "CHECK(role IN ('user', 'assistant', 'system')),", "")


class NotRecordingMigrations(Migrator):
    def migrate(self, target: int | None = None, *, fail_after_statements: int | None = None) -> None:
        super().migrate(target, fail_after_statements=fail_after_statements)
        with self.database.atomic() as conn:  # "history is rebuilt on every start"
            conn.execute("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) "
                         "FROM schema_migrations) AND version > 1")


class MigrationsNotRecorded(SqliteSessionHistory):
    migrator_class = NotRecordingMigrations


class DownOfVersionOneKeepsWorkspaces(SqliteSessionHistory):
    migrations = edit_migration(MIGRATIONS, 1, "down", "DROP TABLE IF EXISTS workspaces;", "")


class VersionReadOutsideTheLock(Migrator):
    def migrate(self, target: int | None = None, *, fail_after_statements: int | None = None) -> None:
        goal = self.versions[-1] if target is None else target
        current = self.current_version()  # read first, lock later: two processes both see 0
        time.sleep(0.2)
        for step in self.migrations[current:goal]:
            with self.database.atomic() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                             "PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
                             "applied_at TEXT NOT NULL) STRICT")
                self._run(conn, step, step.up, fail_after_statements)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                             (step.version, step.name, step.checksum, "now"))
        if goal < current:
            super().migrate(target, fail_after_statements=fail_after_statements)


class MigrateOutsideTheLock(SqliteSessionHistory):
    migrator_class = VersionReadOutsideTheLock


class LegacyImportNotIdempotent(SqliteSessionHistory):
    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        result = super().import_legacy(document, backup_path, at)
        return ImportResult(result.imported + result.skipped, 0)


class RuntimeMixInDictionaryOrder(SqliteSessionHistory):
    """Sorts the runtime mix as people read it (case folded), not by code point."""

    @staticmethod
    def _runtime_mix(conn: Any, session_id: str) -> tuple[str, ...]:
        found = conn.execute("SELECT runtime FROM session_runtime_mix WHERE session_id = ?",
                             (session_id,))
        return tuple(sorted((runtime for (runtime,) in found), key=str.casefold))


MORE_MUTANTS: dict[str, tuple[type[SqliteSessionHistory], str]] = {
    "atomic_is_not_a_transaction": (AtomicIsNotATransaction, "acid"),
    "foreign_keys_off": (ForeignKeysOff, "fk"),
    "get_or_create_select_then_insert": (GetOrCreateSelectThenInsert, "concurrency"),
    "content_stripped": (ContentStripped, "badinput"),
    "role_and_status_checks_dropped": (RoleAndStatusChecksDropped, "badinput"),
    "migrations_not_recorded": (MigrationsNotRecorded, "migration"),
    "down_of_version_one_keeps_workspaces": (DownOfVersionOneKeepsWorkspaces, "migration"),
    "migrate_outside_the_lock": (MigrateOutsideTheLock, "migration"),
    "legacy_import_not_idempotent": (LegacyImportNotIdempotent, "model"),
    "totals_overflow_unchecked": (TotalsOverflowUnchecked, "badinput"),
    "runtime_mix_in_dictionary_order": (RuntimeMixInDictionaryOrder, "badinput"),
}
MUTANTS.update(MORE_MUTANTS)
globals().update(sqlite_mutant_backends(MORE_MUTANTS, __name__))
