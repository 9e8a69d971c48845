"""Deliberately broken variants of the reference ``conversations`` store.

``MUTANTS`` maps each to the conformance category that must catch it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from storecheck.conformance.specs.conversations import (
    Conversation,
    ConversationCursor,
    ConversationPage,
    Job,
    LearningHit,
    LearningQuery,
    Message,
    SpaceReport,
    tokens,
)
from storecheck.reference_impl.conversations import MIGRATIONS, SqliteConversations, rows as row_codec
from storecheck.reference_impl.engine import ConnectionRules
from storecheck.reference_impl.engine.timestamps import to_text

from tests.mutants import NoRetryDatabase, edit_migration, sqlite_mutant_backends


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


class SoftDeleteKeepsTheFirstTime(SqliteConversations):
    """A second soft delete is taken for a no-op: ``deleted_at`` keeps the first instant."""

    def soft_delete_conversation(self, conversation_id: str, at: datetime) -> Conversation:
        current = self.get_conversation(conversation_id)
        if current.deleted_at is not None:
            return current
        return super().soft_delete_conversation(conversation_id, at)


class LeaseNeverExpires(SqliteConversations):
    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        return super().dequeue(worker, now, 10**6)


class FailedJobsNeverRetried(SqliteConversations):
    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job:
        failed = super().fail_job(job_id, worker, error, now)
        with self._tx("fail_job", job_id) as conn:
            conn.execute("UPDATE jobs SET status = 'dead' WHERE id = ?", (job_id,))
            return self._job(conn, job_id, "fail_job") if failed else failed


class AttemptsCountedAtFailure(SqliteConversations):
    """The real queue's count: a claim leaves ``attempts`` as it was and a failure adds one,
    so a claimed job reads one attempt short and a job is retried once more than
    ``max_attempts`` allows."""

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        claimed = super().dequeue(worker, now, lease_seconds)
        if claimed is None:
            return None
        with self._tx("dequeue", worker) as conn:
            conn.execute("UPDATE jobs SET attempts = attempts - 1 WHERE id = ?", (claimed.id,))
        return replace(claimed, attempts=claimed.attempts - 1)

    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job:
        with self._tx("fail_job", job_id) as conn:
            conn.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = ? AND worker = ?",
                         (job_id, worker))
        return super().fail_job(job_id, worker, error, now)


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
    """Deletes every old conversation's messages, one transaction each, then the parents."""

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        cutoff = to_text(now - timedelta(days=older_than_days))
        with self._tx("purge_conversations", write=False) as conn:
            old = [r[0] for r in conn.execute(
                "SELECT id FROM conversations WHERE created_at < ?", (cutoff,))]
        for conversation_id in old:
            with self._tx("purge_conversations") as conn:
                conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
        for conversation_id in old:
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


class TagsOrderedIgnoringCase(SqliteConversations):
    """Lists tags in case-insensitive order, as a collation meant for people would."""

    @staticmethod
    def _learning(conn: Any, learning_id: int, operation: str) -> Any:
        found = SqliteConversations._learning(conn, learning_id, operation)
        tags = tuple(tag for (tag,) in conn.execute(
            "SELECT tag FROM learning_tags WHERE learning_id = ? ORDER BY tag COLLATE NOCASE",
            (learning_id,)))
        return replace(found, tags=tags)


MUTANTS: dict[str, tuple[type[SqliteConversations], str]] = {
    "dequeue_select_then_update": (DequeueSelectThenUpdate, "concurrency"),
    "lease_never_expires": (LeaseNeverExpires, "model"),
    "failed_jobs_never_retried": (FailedJobsNeverRetried, "model"),
    "attempts_counted_at_failure": (AttemptsCountedAtFailure, "model"),
    "fts_not_updated_on_delete": (FtsNotUpdatedOnDelete, "fk"),
    "soft_deleted_still_listed": (SoftDeletedStillListed, "model"),
    "soft_delete_keeps_the_first_time": (SoftDeleteKeepsTheFirstTime, "model"),
    "confidence_strictly_greater": (ConfidenceStrictlyGreater, "model"),
    "purge_children_first_in_separate_transactions": (PurgeChildrenFirstInSeparateTransactions,
                                                      "acid"),
    "right_to_delete_leaves_text": (RightToDeleteLeavesText, "fk"),
    "down_migration_keeps_audit_tables": (DownMigrationKeepsAuditTables, "migration"),
    "messages_ordered_by_id": (MessagesOrderedById, "model"),
    "search_ignores_tags": (SearchIgnoresTags, "model"),
    "no_cascade_to_uploads": (NoCascadeToUploads, "fk"),
    "tags_ordered_ignoring_case": (TagsOrderedIgnoringCase, "badinput"),
}

globals().update(sqlite_mutant_backends(MUTANTS, __name__))


class AtomicIsNotATransaction(SqliteConversations):
    @contextmanager
    def atomic(self) -> Iterator[None]:
        yield


class BusyErrorLeaks(SqliteConversations):
    rules = ConnectionRules(busy_timeout_ms=0, secure_delete=True)
    database_class = NoRetryDatabase


class ForeignKeysOff(SqliteConversations):
    rules = ConnectionRules(foreign_keys=False, secure_delete=True)


class VacuumDoesNothing(SqliteConversations):
    def vacuum(self) -> SpaceReport:
        size = os.path.getsize(self.path)
        return SpaceReport(size, size)


class SearchWithoutPrefixes(SqliteConversations):
    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        if query.text is None:
            return super().search_learnings(query, limit)
        hits = super().search_learnings(query, limit)
        wanted = tokens(query.text)
        return [hit for hit in hits
                if all(term in tokens(hit.learning.content) for term in wanted)]


class FtsNotUpdatedOnUpdate(SqliteConversations):
    migrations = edit_migration(
        MIGRATIONS, 1, "up",
        "    INSERT INTO learnings_fts (rowid, content) VALUES (new.id, new.content);\nEND;\n\n"
        "CREATE TABLE jobs",
        "    SELECT 1;\nEND;\n\nCREATE TABLE jobs")


class ChecksumCheckDropped(SqliteConversations):
    migrations = edit_migration(
        MIGRATIONS, 1, "up",
        " CHECK (length(checksum) = 64 AND checksum NOT GLOB '*[^0-9a-f]*')", "")


class ContentStripped(SqliteConversations):
    def add_message(self, conversation_id: str, role: str, content: str, at: datetime) -> Message:
        return super().add_message(conversation_id, role, content.strip(), at)


class TagFilterByStringFormatting(SqliteConversations):
    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        if not query.tags:
            return super().search_learnings(query, limit)
        with self._tx("search_learnings", query, write=False) as conn:
            found = conn.execute(
                "SELECT learning_id FROM learning_tags WHERE tag = '" + query.tags[0] + "'"
            ).fetchall()
            return [LearningHit(self._learning(conn, row[0], "search_learnings"), 0.0)
                    for row in found][:limit]


MORE_MUTANTS: dict[str, tuple[type[SqliteConversations], str]] = {
    "atomic_is_not_a_transaction": (AtomicIsNotATransaction, "acid"),
    "busy_error_leaks": (BusyErrorLeaks, "acid"),
    "foreign_keys_off": (ForeignKeysOff, "fk"),
    "vacuum_does_nothing": (VacuumDoesNothing, "fk"),
    "search_without_prefixes": (SearchWithoutPrefixes, "model"),
    "fts_not_updated_on_update": (FtsNotUpdatedOnUpdate, "model"),
    "checksum_check_dropped": (ChecksumCheckDropped, "badinput"),
    "content_stripped": (ContentStripped, "badinput"),
    "tag_filter_by_string_formatting": (TagFilterByStringFormatting, "badinput"),
}
MUTANTS.update(MORE_MUTANTS)
globals().update(sqlite_mutant_backends(MORE_MUTANTS, __name__))
