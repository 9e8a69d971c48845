"""Deliberately broken variants of the reference ``conversations`` store.

``MUTANTS`` maps each to the conformance category that must catch it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from storecheck.conformance.specs.conversations import (
    ConversationCursor,
    ConversationPage,
    Job,
    LearningHit,
    LearningQuery,
    Message,
)
from storecheck.reference_impl.backend import sqlite_backend
from storecheck.reference_impl.conversations import MIGRATIONS, SqliteConversations
from storecheck.reference_impl.conversations import rows as row_codec
from storecheck.reference_impl.engine import ConnectionRules
from storecheck.reference_impl.engine.timestamps import to_text

from tests.mutants import edit_migration


class DequeueSelectThenUpdate(SqliteConversations):
    """Reads the next job in one transaction and claims it in another."""

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        stamp = to_text(now)
        with self._tx("dequeue", worker, write=False) as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE status = 'queued' AND run_after <= ? "
                "ORDER BY priority DESC, run_after, id LIMIT 1", (stamp,)).fetchone()
        if row is None:
            return None
        with self._tx("dequeue", worker) as conn:
            conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, "
                "lease_until = ? WHERE id = ?",
                (worker, to_text(now + timedelta(seconds=lease_seconds)), row[0]))
            return self._job(conn, row[0], "dequeue")


class LeaseNeverExpires(SqliteConversations):
    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        return super().dequeue(worker, now, 10**6)


class FailedJobsNeverRetried(SqliteConversations):
    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job:
        failed = super().fail_job(job_id, worker, error, now)
        with self._tx("fail_job", job_id) as conn:
            conn.execute("UPDATE jobs SET status = 'dead' WHERE id = ?", (job_id,))
            return self._job(conn, job_id, "fail_job") if failed else failed


class FtsNotUpdatedOnDelete(SqliteConversations):
    migrations = edit_migration(
        MIGRATIONS, 1, "up",
        "INSERT INTO learnings_fts (learnings_fts, rowid, content) VALUES "
        "('delete', old.id, old.content);\nEND;\n\nCREATE TRIGGER learnings_fts_update",
        "SELECT 1;\nEND;\n\nCREATE TRIGGER learnings_fts_update")


class SoftDeletedStillListed(SqliteConversations):
    def list_conversations(self, limit: int,
                           after: ConversationCursor | None = None) -> ConversationPage:
        with self._tx("list_conversations", write=False) as conn:
            found = conn.execute(
                f"SELECT {row_codec.CONVERSATION_COLUMNS} FROM conversations "
                "ORDER BY created_at DESC, id DESC").fetchall()
        items = [row_codec.conversation(row) for row in found]
        if after is not None:
            items = [c for c in items if (c.created_at, c.id) < (after.created_at, after.id)]
        page = tuple(items[:limit])
        more = len(items) > limit
        return ConversationPage(page, ConversationCursor(page[-1].created_at, page[-1].id)
                                if more else None)


class ConfidenceStrictlyGreater(SqliteConversations):
    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        hits = super().search_learnings(query, limit)
        if query.min_confidence is None:
            return hits
        return [hit for hit in hits if hit.learning.confidence > query.min_confidence]


class PurgeChildrenFirstInSeparateTransactions(SqliteConversations):
    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        cutoff = to_text(now - timedelta(days=older_than_days))
        with self._tx("purge_conversations", write=False) as conn:
            old = [r[0] for r in conn.execute(
                "SELECT id FROM conversations WHERE created_at < ?", (cutoff,))]
        for conversation_id in old:
            with self._tx("purge_conversations") as conn:
                conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            with self._tx("purge_conversations") as conn:
                conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return len(old)


class RightToDeleteLeavesText(SqliteConversations):
    rules = ConnectionRules(secure_delete=False)

    def right_to_delete(self, conversation_id: str) -> None:
        self.delete_conversation(conversation_id)


class DownMigrationKeepsAuditTables(SqliteConversations):
    migrations = edit_migration(MIGRATIONS, 3, "down", "DROP TABLE IF EXISTS audit_log;", "")


class MessagesOrderedById(SqliteConversations):
    def list_messages(self, conversation_id: str) -> list[Message]:
        return sorted(super().list_messages(conversation_id), key=lambda m: m.id)


class SearchIgnoresTags(SqliteConversations):
    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        return super().search_learnings(replace(query, tags=()), limit)


class NoCascadeToUploads(SqliteConversations):
    migrations = edit_migration(
        MIGRATIONS, 1, "up",
        "conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,\n    file_name",
        "conversation_id TEXT NOT NULL,\n    file_name")


MUTANTS: dict[str, tuple[type[SqliteConversations], str]] = {
    "dequeue_select_then_update": (DequeueSelectThenUpdate, "concurrency"),
    "lease_never_expires": (LeaseNeverExpires, "model"),
    "failed_jobs_never_retried": (FailedJobsNeverRetried, "model"),
    "fts_not_updated_on_delete": (FtsNotUpdatedOnDelete, "fk"),
    "soft_deleted_still_listed": (SoftDeletedStillListed, "model"),
    "confidence_strictly_greater": (ConfidenceStrictlyGreater, "model"),
    "purge_children_first_in_separate_transactions": (PurgeChildrenFirstInSeparateTransactions,
                                                      "acid"),
    "right_to_delete_leaves_text": (RightToDeleteLeavesText, "fk"),
    "down_migration_keeps_audit_tables": (DownMigrationKeepsAuditTables, "migration"),
    "messages_ordered_by_id": (MessagesOrderedById, "model"),
    "search_ignores_tags": (SearchIgnoresTags, "model"),
    "no_cascade_to_uploads": (NoCascadeToUploads, "fk"),
}

for _name, (_store, _category) in MUTANTS.items():
    globals()[_name] = sqlite_backend(f"mutant-{_name}", (("conversations", _store),))
