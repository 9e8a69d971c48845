"""Bugs that only the whole value space, exact comparison and real races catch.

Each is a behaviour real stores ship: a timestamp echoed in the caller's zone
or cut to milliseconds, a partial update that overwrites, a field an update
forgets, text compared case-insensitively, JSON re-serialised, a lease rounded
to whole seconds, a check-then-act split over two transactions, transaction
bookkeeping shared between threads, a store bound to the thread that opened it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs.conversations import Conversation, Job, NewJob
from storecheck.conformance.specs.session_history import (
    ChatMessage,
    Cursor,
    ImportResult,
    Instance,
    InstanceUpdate,
    NewMessage,
    NewSession,
    Session,
    SessionPage,
    SessionQuery,
    SessionUpdate,
    Workspace,
    parse_legacy_document,
)
from storecheck.fixtures.session_history import legacy_document
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.engine import Database, Migrator
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.session_history import SqliteSessionHistory

from tests.mutants import sqlite_mutant_backends

# -- session_history -----------------------------------------------------------


class CreatedAtInMilliseconds(SqliteSessionHistory):
    """The timestamp column holds milliseconds ("microseconds are noise")."""

    def create_session(self, new: NewSession) -> Session:
        if isinstance(new, NewSession) and isinstance(new.created_at, datetime):
            moment = new.created_at
            new = replace(new, created_at=moment.replace(microsecond=moment.microsecond // 1000 * 1000))
        return super().create_session(new)


class MessageEchoesCallersZone(SqliteSessionHistory):
    """append_message returns the caller's timestamp as given: the same instant, but not UTC."""

    def append_message(self, session_id: str, new: NewMessage) -> ChatMessage:
        stored = super().append_message(session_id, new)
        return replace(stored, timestamp=new.timestamp)


class PartialUpdateOverwritesModel(SqliteSessionHistory):
    """update_session writes ``model`` even when the update leaves it None."""

    def update_session(self, session_id: str, update: SessionUpdate) -> Session:
        result = super().update_session(session_id, update)
        if isinstance(update, SessionUpdate) and update.model is None:
            with self._tx("update_session", session_id) as conn:
                conn.execute("UPDATE sessions SET model = NULL WHERE id = ?", (session_id,))
                return self._session(conn, session_id, "update_session")
        return result


class UpdateInstanceForgetsCounts(SqliteSessionHistory):
    """update_instance applies status and output only: the counts and end_time are dropped."""

    def update_instance(self, session_id: str, instance_id: int, update: InstanceUpdate) -> Instance:
        if isinstance(update, InstanceUpdate):
            update = InstanceUpdate(status=update.status, output=update.output)
        return super().update_instance(session_id, instance_id, update)


class WorkspacePathCaseInsensitive(SqliteSessionHistory):
    """Paths are looked up case-insensitively, so "/w/One" finds "/w/one"."""

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        if isinstance(path, str):
            with self._tx("get_or_create_workspace", path) as conn:
                row = conn.execute("SELECT workspace_path FROM workspaces "
                                   "WHERE lower(workspace_path) = lower(?)", (path,)).fetchone()
            if row is not None:
                path = row[0]
        return super().get_or_create_workspace(path, at)


class CursorTakenAsUtcWallClock(SqliteSessionHistory):
    """The cursor's instant is read as wall-clock UTC (``replace(tzinfo=UTC)``, not
    ``astimezone``): a cursor handed back at another offset lands elsewhere."""

    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        if isinstance(after, Cursor) and isinstance(after.created_at, datetime):
            after = replace(after, created_at=after.created_at.replace(tzinfo=UTC))
        return super().search_sessions(query, limit, after)


class CompleteSessionCheckThenAct(SqliteSessionHistory):
    """Reads the status in one transaction and finishes the session in another."""

    def complete_session(self, session_id: str, status: str, at: datetime) -> Session:
        current = self.get_session(session_id)
        if current.status in ("completed", "failed"):
            raise Conflict("session_history", "complete_session", "already finished", session_id)
        with self._tx("complete_session", session_id) as conn:
            conn.execute("UPDATE sessions SET status = ?, completed_at = ?, updated_at = ? "
                         "WHERE id = ?", (status, to_text(at), to_text(at), session_id))
            return self._session(conn, session_id, "complete_session")


class SharedBookkeepingDatabase(Database):
    """One connection and one nesting depth for every thread (``threading.local`` "was not
    needed": the connection is opened with ``check_same_thread=False``)."""

    def __init__(self, path: str, rules: Any = None) -> None:
        super().__init__(path, rules)
        self._local: Any = SimpleNamespace()


class SharedTransactionBookkeeping(SqliteSessionHistory):
    database_class = SharedBookkeepingDatabase


class ThreadBoundDatabase(Database):
    """One connection, usable only from the thread that opened it (sqlite3's default)."""

    def __init__(self, path: str, rules: Any = None) -> None:
        super().__init__(path, rules)
        self._local: Any = SimpleNamespace()
        self._owner = threading.get_ident()

    def connection(self) -> sqlite3.Connection:
        if threading.get_ident() != self._owner:
            raise sqlite3.ProgrammingError(
                "SQLite objects created in a thread can only be used in that same thread")
        return super().connection()


class StoreBoundToItsThread(SqliteSessionHistory):
    database_class = ThreadBoundDatabase


# -- conversations --------------------------------------------------------------


class PayloadReserialised(SqliteConversations):
    """enqueue stores ``json.dumps(json.loads(payload))``: the same data, another text."""

    def enqueue(self, job: NewJob, at: datetime) -> Job:
        if isinstance(job, NewJob) and isinstance(job.payload, str):
            with contextlib.suppress(ValueError):
                job = replace(job, payload=json.dumps(json.loads(job.payload)))
        return super().enqueue(job, at)


class LeaseInWholeSeconds(SqliteConversations):
    """The lease is rounded up to whole seconds (an INTEGER column)."""

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        if isinstance(lease_seconds, float) and 0 < lease_seconds <= 86_400:
            lease_seconds = float(math.ceil(lease_seconds))
        return super().dequeue(worker, now, lease_seconds)


class UpdateIgnoresMetadata(SqliteConversations):
    def update_conversation(self, conversation_id: str, at: datetime, title: str | None = None,
                            metadata: Mapping[str, str] | None = None) -> Conversation:
        return super().update_conversation(conversation_id, at, title=title)


class CreatedAtOffsetDropped(SqliteConversations):
    """create_conversation keeps the wall-clock time and drops the offset."""

    def create_conversation(self, conversation_id: str, title: str, metadata: Mapping[str, str],
                            at: datetime) -> Conversation:
        if isinstance(at, datetime) and at.tzinfo is not None:
            at = at.replace(tzinfo=UTC)
        return super().create_conversation(conversation_id, title, metadata, at)


class CompleteJobCheckThenAct(SqliteConversations):
    """Checks the lease in one transaction and completes the job in another."""

    def complete_job(self, job_id: int, worker: str, now: datetime) -> Job:
        job = self.get_job(job_id)
        if job.status != "running" or job.worker != worker:
            raise Conflict("conversations", "complete_job", "not leased to this worker", job_id)
        with self._tx("complete_job", job_id) as conn:
            conn.execute("UPDATE jobs SET status = 'completed', lease_until = NULL, worker = NULL, "
                         "updated_at = ? WHERE id = ?", (to_text(now), job_id))
            return self._job(conn, job_id, "complete_job")


class LegacyImportOneTransactionPerSession(SqliteSessionHistory):
    """Imports a document session by session, each in its own transaction ("batches keep
    the lock short"): an invalid last session leaves the earlier ones behind."""

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        imported = skipped = 0
        for entry in parse_legacy_document(document):
            result = super().import_legacy(legacy_document([entry]), backup_path, at)
            imported, skipped = imported + result.imported, skipped + result.skipped
        return ImportResult(imported, skipped)


class PurgeInBatches(SqliteConversations):
    """Purges 100 conversations per transaction, each batch whole."""

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        if not isinstance(older_than_days, int) or older_than_days < 0:
            return super().purge_conversations(older_than_days, now)
        cutoff = to_text(now - timedelta(days=older_than_days))
        purged = 0
        while True:
            with self._tx("purge_conversations") as conn:
                batch = [row[0] for row in conn.execute(
                    "SELECT id FROM conversations WHERE created_at < ? LIMIT 100", (cutoff,))]
                conn.executemany("DELETE FROM conversations WHERE id = ?", [(i,) for i in batch])
            purged += len(batch)
            if not batch:
                return purged


class RightToDeleteKeepsIndexTerms(SqliteConversations):
    """right_to_delete deletes the rows but does not merge the full-text index, whose old
    segments keep the deleted words."""

    @staticmethod
    def _drop_deleted_terms(conn: Any) -> None:
        pass


class TrustingMigrator(Migrator):
    """Takes the migrations table at its word: no checksum or version is compared."""

    def _verify_checksums(self, conn: Any) -> None:
        pass


class MigrationHistoryTrusted(SqliteSessionHistory):
    migrator_class = TrustingMigrator


class UpgradesOnlyNewFiles(SqliteConversations):
    """Migrates a location only when it is new ("upgrades are an explicit admin step")."""

    def __init__(self, path: str, *, schema_version: int | None = None) -> None:
        if schema_version is None and os.path.exists(path) and os.path.getsize(path) > 0:
            database = Database(path)
            try:
                schema_version = Migrator(database, self.migrations).current_version() or None
            finally:
                database.close()
        super().__init__(path, schema_version=schema_version)


SESSION_HISTORY: dict[str, tuple[type[Any], str]] = {
    "migration_history_trusted": (MigrationHistoryTrusted, "migration"),
    "legacy_import_one_transaction_per_session": (LegacyImportOneTransactionPerSession, "acid"),
    "created_at_in_milliseconds": (CreatedAtInMilliseconds, "model"),
    "message_echoes_callers_zone": (MessageEchoesCallersZone, "model"),
    "partial_update_overwrites_model": (PartialUpdateOverwritesModel, "model"),
    "update_instance_forgets_counts": (UpdateInstanceForgetsCounts, "model"),
    "workspace_path_case_insensitive": (WorkspacePathCaseInsensitive, "model"),
    "cursor_taken_as_utc_wall_clock": (CursorTakenAsUtcWallClock, "model"),
    "complete_session_check_then_act": (CompleteSessionCheckThenAct, "concurrency"),
    "shared_transaction_bookkeeping": (SharedTransactionBookkeeping, "concurrency"),
    "store_bound_to_its_thread": (StoreBoundToItsThread, "concurrency"),
}
CONVERSATIONS: dict[str, tuple[type[Any], str]] = {
    "upgrades_only_new_files": (UpgradesOnlyNewFiles, "migration"),
    "purge_in_batches": (PurgeInBatches, "acid"),
    "right_to_delete_keeps_index_terms": (RightToDeleteKeepsIndexTerms, "fk"),
    "payload_reserialised": (PayloadReserialised, "model"),
    "lease_in_whole_seconds": (LeaseInWholeSeconds, "model"),
    "update_ignores_metadata": (UpdateIgnoresMetadata, "model"),
    "created_at_offset_dropped": (CreatedAtOffsetDropped, "model"),
    "complete_job_check_then_act": (CompleteJobCheckThenAct, "concurrency"),
}
MUTANTS = {**SESSION_HISTORY, **CONVERSATIONS}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
