"""Broken variants of the PostgreSQL reference stores: concurrency that SQLite's single
writer would make correct, and that PostgreSQL's READ COMMITTED does not."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from storecheck.conformance.specs.app_meta import NewEvent, StoredEvent
from storecheck.conformance.specs.conversations import Job
from storecheck.conformance.specs.session_history import (
    ImportResult,
    Session,
    Workspace,
    workspace_hash,
)
from storecheck.reference_impl.app_meta import SqliteAppMeta
from storecheck.reference_impl.conversations import rows as job_rows
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.postgres.app_meta import PgAppMeta
from storecheck.reference_impl.postgres.backend import PostgresBackend
from storecheck.reference_impl.postgres.conversations import (
    CLAIM_NEXT,
    TSVECTOR_INDEX,
    PgConversations,
)
from storecheck.reference_impl.postgres.extraction import PgExtraction
from storecheck.reference_impl.postgres.session_history import PgSessionHistory
from storecheck.reference_impl.postgres.text_index import TSVECTOR_TOKENS
from storecheck.reference_impl.session_history import SqliteSessionHistory, rows as session_rows
from storecheck.reference_impl.session_history.rows import WORKSPACE_COLUMNS


class StatsReadModifyWrite(PgSessionHistory):
    """Reads the totals and writes their sums in one READ COMMITTED transaction: on
    SQLite (one writer at a time) that is correct, on PostgreSQL two callers read the
    same totals and one addition is lost."""

    def record_instance_stats(self, session_id: str, files_changed: int, lines_added: int,
                              lines_deleted: int) -> Session:
        with self._tx("record_instance_stats", session_id) as conn:
            files, added, deleted = conn.execute(
                "SELECT total_files_changed, total_lines_added, total_lines_deleted "
                "FROM sessions WHERE id = ?", (session_id,)).fetchone()
            conn.execute(
                "UPDATE sessions SET total_files_changed = ?, total_lines_added = ?, "
                "total_lines_deleted = ? WHERE id = ?",
                ((files or 0) + files_changed, (added or 0) + lines_added,
                 (deleted or 0) + lines_deleted, session_id))
            return self._session(conn, session_id, "record_instance_stats")


class GetOrCreateUpdateThenInsert(PgSessionHistory):
    """Touches the row and inserts it when the UPDATE found none, in one transaction:
    serialised on SQLite, a unique violation when two PostgreSQL callers race."""

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        stamp = to_text(at)
        with self._tx("get_or_create_workspace", path) as conn:
            updated = conn.execute(
                "UPDATE workspaces SET last_accessed_at = ? WHERE workspace_path = ?", (stamp, path))
            if updated.rowcount == 0:
                time.sleep(0.001)  # the window a real service has between its two round trips
                conn.execute(
                    "INSERT INTO workspaces (workspace_path, workspace_hash, created_at, "
                    "last_accessed_at) VALUES (?, ?, ?, ?)", (path, workspace_hash(path), stamp, stamp))
            row = conn.execute(f"SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE workspace_path = ?",
                               (path,)).fetchone()
        return session_rows.workspace(row)


class DequeueWithoutRowLocks(PgConversations):
    """Picks the next job without FOR UPDATE SKIP LOCKED: two workers pick the same row,
    the second waits for the first's lock and then claims the job again."""

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        stamp = to_text(now)
        with self._tx("dequeue", worker) as conn:
            row = self._native(conn).execute_native(
                CLAIM_NEXT.replace(" FOR UPDATE SKIP LOCKED", ""),
                {"worker": worker, "until": to_text(now + timedelta(seconds=lease_seconds)),
                 "now": stamp}).fetchone()
        return None if row is None else job_rows.job(row)


class LongQueryTokenUnhandled(PgConversations):
    """Hands every query token to ``tsquery`` whole: one longer than a lexeme (2,046
    bytes) raises the server's "word is too long" instead of searching."""

    text_index = replace(TSVECTOR_INDEX, tokens=replace(
        TSVECTOR_TOKENS, exact_token_characters=10**9,
        match=lambda terms: " & ".join(f"'{term}':*" for term in terms)))


class EventTokenLongerThanALexeme(PgExtraction):
    """The extraction search hands every query token to ``tsquery`` whole and trusts the
    index's hits: a token past 500 characters raises "word is too long", and one the index
    cut short is never checked against the whole token."""

    token_match = replace(TSVECTOR_TOKENS, exact_token_characters=10**9,
                          match=lambda terms: " & ".join(f"'{term}':*" for term in terms))


class ImportWithoutLock(PgSessionHistory):
    """The SQLite reference's import as is: "does it exist?" then insert, which two imports
    of one document at READ COMMITTED both pass."""

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        return SqliteSessionHistory.import_legacy(self, document, backup_path, at)


class FeedWithoutAppendLock(PgAppMeta):
    """Appends without the advisory lock: positions come from the identity column's
    sequence when a row is inserted, transactions commit in any order, and a processor
    tailing the feed skips an event that commits after a higher position was read."""

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        return SqliteAppMeta.append_events(self, aggregate_id, aggregate_type,
                                           expected_version, events)


class BlocksAtReadCommitted:
    """The caller's ``atomic()`` block at READ COMMITTED, PostgreSQL's default and the level
    every single operation here runs at: each statement sees what committed before it, so
    a block that reads, then writes what it read, acts on a value that may be gone."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._tx("atomic"):  # type: ignore[attr-defined]
            yield


class BlocksAtRepeatableRead:
    """The caller's block at REPEATABLE READ, which on PostgreSQL is snapshot isolation:
    one snapshot for the whole block and a concurrent update of a row it writes aborts
    it, so no lost update, no read skew and no phantom; two blocks that each read two
    rows and write different ones both commit (write skew)."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._tx("atomic"):  # type: ignore[attr-defined]
            self.pg.connection().execute_native(  # type: ignore[attr-defined]
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield


class AppMetaAtRepeatableRead(BlocksAtRepeatableRead, PgAppMeta):
    pass


class _SnapshotForSerializable:
    """A connection that runs SERIALIZABLE as REPEATABLE READ, as a server may that speaks
    PostgreSQL's protocol but has snapshot isolation only."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def cursor(self) -> Any:
        return _SnapshotCursor(self.raw.cursor())


class _SnapshotCursor:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def execute(self, sql: str, *args: Any) -> Any:
        return self.raw.execute(sql.replace("SERIALIZABLE", "REPEATABLE READ"), *args)


class EngineWithoutSerializable(PgSessionHistory):
    """The store is correct; the engine under it offers SERIALIZABLE in name only."""

    def engine_session(self) -> Any:
        return _SnapshotForSerializable(super().engine_session())


class SessionsAtReadCommitted(BlocksAtReadCommitted, PgSessionHistory):
    pass


class ConversationsAtReadCommitted(BlocksAtReadCommitted, PgConversations):
    pass


class ImportLeavesTheIdSequences(PgExtraction):
    """Rows imported with their ids, the tables' id sequences left where they were: the next
    row written takes an imported row's id (SQLite's AUTOINCREMENT follows by itself)."""

    def _after_import(self, conn: Any) -> None:
        pass


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "postgres_import_leaves_the_id_sequences": (ImportLeavesTheIdSequences, "model"),
    "postgres_session_history_blocks_at_read_committed": (SessionsAtReadCommitted, "isolation"),
    "postgres_conversations_blocks_at_read_committed": (ConversationsAtReadCommitted,
                                                        "isolation"),
    "postgres_app_meta_blocks_at_repeatable_read": (AppMetaAtRepeatableRead, "isolation"),
    "postgres_engine_serializable_as_snapshot": (EngineWithoutSerializable, "isolation"),
    "postgres_import_without_lock": (ImportWithoutLock, "concurrency"),
    "postgres_stats_read_modify_write": (StatsReadModifyWrite, "concurrency"),
    "postgres_get_or_create_update_then_insert": (GetOrCreateUpdateThenInsert, "concurrency"),
    "postgres_dequeue_without_row_locks": (DequeueWithoutRowLocks, "concurrency"),
    "postgres_long_query_token_unhandled": (LongQueryTokenUnhandled, "badinput"),
    "postgres_event_token_longer_than_a_lexeme": (EventTokenLongerThanALexeme, "badinput"),
    "postgres_feed_without_append_lock": (FeedWithoutAppendLock, "concurrency"),
}
for _name, (_store, _category) in MUTANTS.items():
    globals()[_name] = PostgresBackend(name=f"mutant-{_name}", specs=frozenset({_store.spec}),
                                       stores=((_store.spec, _store),))
