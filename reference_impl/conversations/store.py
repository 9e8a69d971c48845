"""The reference ``conversations`` store on SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

from storecheck.conformance.errors import Conflict, NotFound
from storecheck.conformance.specs import conversations_inputs as inputs
from storecheck.conformance.specs.conversations import (
    JOB_STATUSES,
    SPEC,
    Conversation,
    ConversationCursor,
    ConversationPage,
    Job,
    Learning,
    LearningHit,
    LearningQuery,
    Message,
    NewJob,
    NewUpload,
    Upload,
    backoff_seconds,
    matches,
)
from storecheck.reference_impl.conversations import queries, rows
from storecheck.reference_impl.conversations.learning_search import (
    FTS5_INDEX,
    needs_recheck,
    search_statement,
)
from storecheck.reference_impl.conversations.rows import (
    CONVERSATION_COLUMNS,
    LEARNING_COLUMNS,
    UPLOAD_COLUMNS,
)
from storecheck.reference_impl.engine import ConnectionRules, load_migrations
from storecheck.reference_impl.engine.pages import keyset_page, rows_to_read
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import VacuumingStore
from storecheck.reference_impl.engine.timestamps import to_text

MIGRATIONS = load_migrations("storecheck.reference_impl.conversations.migrations")


class SqliteConversations(VacuumingStore):
    """Implements :class:`~storecheck.conformance.specs.conversations.ConversationStore`."""

    spec = SPEC
    migrations = MIGRATIONS
    # Right-to-delete must leave no deleted text in the file: freed pages are zeroed.
    rules = ConnectionRules(secure_delete=True)
    text_index = FTS5_INDEX

    # -- conversations ---------------------------------------------------------

    def create_conversation(self, conversation_id: str, title: str, metadata: Mapping[str, str],
                            at: datetime) -> Conversation:
        v = inputs.check("create_conversation")
        v.text("conversation_id", conversation_id)
        v.text("title", title)
        meta = json.dumps(inputs.metadata("create_conversation", metadata), sort_keys=True)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("create_conversation", conversation_id) as conn:
            conn.execute(queries.INSERT_CONVERSATION,
                         (conversation_id, title, meta, stamp, stamp))
            return self._conversation(conn, conversation_id, "create_conversation")

    def get_conversation(self, conversation_id: str) -> Conversation:
        inputs.check("get_conversation").text("conversation_id", conversation_id)
        with self._tx("get_conversation", conversation_id, write=False) as conn:
            return self._conversation(conn, conversation_id, "get_conversation")

    @staticmethod
    def _conversation(conn: Connection, conversation_id: str, operation: str) -> Conversation:
        row = conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such conversation", conversation_id)
        return rows.conversation(row)

    def _live(self, conn: Connection, conversation_id: str, operation: str) -> None:
        if self._conversation(conn, conversation_id, operation).deleted_at is not None:
            raise Conflict(SPEC, operation, "conversation is soft-deleted", conversation_id)

    def list_conversations(self, limit: int,
                           after: ConversationCursor | None = None) -> ConversationPage:
        v = inputs.check("list_conversations")
        limit = v.limit(limit)
        if after is not None and not isinstance(after, ConversationCursor):
            raise v.fail("after must be a ConversationCursor", after)
        with self._tx("list_conversations", write=False) as conn:
            if after is None:
                found = conn.execute(queries.LIST_CONVERSATIONS, (rows_to_read(limit),)).fetchall()
            else:
                # A row value seeks into the index; the equivalent OR of two comparisons
                # walks it from the start to the cursor instead.
                found = conn.execute(
                    f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
                    "AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
                    (to_text(v.timestamp("after", after.created_at)),
                     v.text("after.id", after.id), rows_to_read(limit))).fetchall()
        return ConversationPage(*keyset_page([rows.conversation(row) for row in found], limit,
                                             lambda c: ConversationCursor(c.created_at, c.id)))

    def update_conversation(self, conversation_id: str, at: datetime, title: str | None = None,
                            metadata: Mapping[str, str] | None = None) -> Conversation:
        v = inputs.check("update_conversation")
        v.text("conversation_id", conversation_id)
        v.optional_text("title", title)
        meta = None if metadata is None else json.dumps(
            inputs.metadata("update_conversation", metadata), sort_keys=True)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("update_conversation", conversation_id) as conn:
            changed = conn.execute(queries.UPDATE_CONVERSATION,
                                   (title, meta, stamp, conversation_id))
            if changed.rowcount == 0:
                raise NotFound(SPEC, "update_conversation", "no such conversation", conversation_id)
            return self._conversation(conn, conversation_id, "update_conversation")

    def _set_deleted(self, conversation_id: str, at: datetime | None, operation: str,
                     stamp_at: datetime) -> Conversation:
        v = inputs.check(operation)
        v.text("conversation_id", conversation_id)
        stamp = to_text(v.timestamp("at", stamp_at))
        with self._tx(operation, conversation_id) as conn:
            changed = conn.execute(queries.SET_DELETED,
                                   (None if at is None else stamp, stamp, conversation_id))
            if changed.rowcount == 0:
                raise NotFound(SPEC, operation, "no such conversation", conversation_id)
            return self._conversation(conn, conversation_id, operation)

    def soft_delete_conversation(self, conversation_id: str, at: datetime) -> Conversation:
        return self._set_deleted(conversation_id, at, "soft_delete_conversation", at)

    def restore_conversation(self, conversation_id: str, at: datetime) -> Conversation:
        return self._set_deleted(conversation_id, None, "restore_conversation", at)

    def delete_conversation(self, conversation_id: str) -> None:
        inputs.check("delete_conversation").text("conversation_id", conversation_id)
        with self._tx("delete_conversation", conversation_id) as conn:
            if conn.execute(queries.DELETE_CONVERSATION, (conversation_id,)).rowcount == 0:
                raise NotFound(SPEC, "delete_conversation", "no such conversation", conversation_id)

    # -- messages --------------------------------------------------------------

    def add_message(self, conversation_id: str, role: str, content: str, at: datetime) -> Message:
        v = inputs.check("add_message")
        v.text("conversation_id", conversation_id)
        v.text("role", role)
        v.text("content", content)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("add_message", conversation_id) as conn:
            self._live_or_missing(conn, conversation_id, "add_message")
            row = conn.execute(queries.INSERT_MESSAGE,
                               (conversation_id, role, content, stamp)).fetchone()
        return rows.message(row)

    def _live_or_missing(self, conn: Connection, conversation_id: str, operation: str) -> None:
        """Refuse a soft-deleted parent; a missing one is left to the foreign key."""
        row = conn.execute(queries.SELECT_DELETED_AT, (conversation_id,)).fetchone()
        if row is not None and row[0] is not None:
            raise Conflict(SPEC, operation, "conversation is soft-deleted", conversation_id)

    def list_messages(self, conversation_id: str) -> list[Message]:
        inputs.check("list_messages").text("conversation_id", conversation_id)
        with self._tx("list_messages", conversation_id, write=False) as conn:
            self._conversation(conn, conversation_id, "list_messages")
            found = conn.execute(queries.SELECT_MESSAGES, (conversation_id,)).fetchall()
        return [rows.message(row) for row in found]

    def count_messages(self, conversation_id: str) -> int:
        inputs.check("count_messages").text("conversation_id", conversation_id)
        with self._tx("count_messages", conversation_id, write=False) as conn:
            self._conversation(conn, conversation_id, "count_messages")
            (count,) = conn.execute(queries.COUNT_MESSAGES, (conversation_id,)).fetchone()
        return int(count)

    # -- learnings ---------------------------------------------------------------

    def create_learning(self, category: str, content: str, tags: Sequence[str], confidence: float,
                        at: datetime, conversation_id: str | None = None) -> Learning:
        v = inputs.check("create_learning")
        v.text("category", category)
        v.text("content", content)
        v.optional_text("conversation_id", conversation_id)
        clean_tags = inputs.tags("create_learning", tags)
        score = inputs.confidence("create_learning", confidence)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("create_learning", content) as conn:
            (learning_id,) = conn.execute(
                "INSERT INTO learnings (conversation_id, category, content, confidence, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (conversation_id, category, content, score, stamp, stamp)).fetchone()
            conn.executemany("INSERT INTO learning_tags (learning_id, tag) VALUES (?, ?)",
                             [(learning_id, tag) for tag in clean_tags])
            return self._learning(conn, learning_id, "create_learning")

    @staticmethod
    def _learning(conn: Connection, learning_id: int, operation: str) -> Learning:
        row = conn.execute(f"SELECT {LEARNING_COLUMNS} FROM learnings WHERE id = ?",
                           (learning_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such learning", learning_id)
        tags = tuple(tag for (tag,) in conn.execute(
            "SELECT tag FROM learning_tags WHERE learning_id = ? ORDER BY tag", (learning_id,)))
        return rows.learning(row, tags)

    def get_learning(self, learning_id: int) -> Learning:
        inputs.check("get_learning").integer("learning_id", learning_id)
        with self._tx("get_learning", learning_id, write=False) as conn:
            return self._learning(conn, learning_id, "get_learning")

    def update_learning(self, learning_id: int, at: datetime, content: str | None = None,
                        category: str | None = None, tags: Sequence[str] | None = None,
                        confidence: float | None = None) -> Learning:
        v = inputs.check("update_learning")
        v.integer("learning_id", learning_id)
        v.optional_text("content", content)
        v.optional_text("category", category)
        clean_tags = None if tags is None else inputs.tags("update_learning", tags)
        score = None if confidence is None else inputs.confidence("update_learning", confidence)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("update_learning", learning_id) as conn:
            self._learning(conn, learning_id, "update_learning")
            conn.execute(
                "UPDATE learnings SET content = COALESCE(?, content), "
                "category = COALESCE(?, category), confidence = COALESCE(?, confidence), "
                "updated_at = ? WHERE id = ?", (content, category, score, stamp, learning_id))
            if clean_tags is not None:
                conn.execute("DELETE FROM learning_tags WHERE learning_id = ?", (learning_id,))
                conn.executemany("INSERT INTO learning_tags (learning_id, tag) VALUES (?, ?)",
                                 [(learning_id, tag) for tag in clean_tags])
            return self._learning(conn, learning_id, "update_learning")

    def delete_learning(self, learning_id: int) -> None:
        inputs.check("delete_learning").integer("learning_id", learning_id)
        with self._tx("delete_learning", learning_id) as conn:
            if conn.execute("DELETE FROM learnings WHERE id = ?", (learning_id,)).rowcount == 0:
                raise NotFound(SPEC, "delete_learning", "no such learning", learning_id)

    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        query, limit = inputs.learning_query(query, limit)
        if not needs_recheck(query, self.text_index):
            return self._search(query, limit)
        # The index holds a prefix of a very long token: its hits are every learning with
        # a token starting like the query's, and the spec's rule picks the real ones.
        candidates = self._search(query, 2**62)
        return [hit for hit in candidates if matches(query.text or "", hit.learning.content)][:limit]

    def _search(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        sql, params = search_statement(query, limit, self.text_index)
        with self._tx("search_learnings", query, write=False) as conn:
            found = conn.execute(sql, params).fetchall()
            # The hits' tags in one query, not one per hit (a round trip each to a server).
            tags: dict[int, list[str]] = {}
            if found:
                for learning_id, tag in conn.execute(
                        queries.tags_statement(len(found)), [row[0] for row in found]):
                    tags.setdefault(learning_id, []).append(tag)
        return [LearningHit(rows.learning(row, tuple(sorted(tags.get(row[0], ())))), float(row[-1]))
                for row in found]

    # -- job queue ---------------------------------------------------------------

    def enqueue(self, job: NewJob, at: datetime) -> Job:
        v = inputs.check("enqueue")
        job = inputs.new_job(job)
        stamp = to_text(v.timestamp("at", at))
        run_after = stamp if job.run_after is None else to_text(v.timestamp("run_after", job.run_after))
        with self._tx("enqueue", job.type) as conn:
            row = conn.execute(
                queries.INSERT_JOB,
                (job.type, job.payload, job.priority, job.max_attempts, run_after, stamp, stamp)
            ).fetchone()
        return rows.job(row)

    @staticmethod
    def _job(conn: Connection, job_id: int, operation: str) -> Job:
        row = conn.execute(queries.SELECT_JOB, (job_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such job", job_id)
        return rows.job(row)

    def _job_to_change(self, conn: Connection, job_id: int, operation: str) -> Job:
        """The job, read for a change decided from it (BEGIN IMMEDIATE excludes other writers)."""
        return self._job(conn, job_id, operation)

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        moment, lease_until = inputs.dequeue_arguments(worker, now, lease_seconds)
        stamp, until = to_text(moment), to_text(lease_until)
        with self._tx("dequeue", worker) as conn:
            # The write lock (BEGIN IMMEDIATE) is held from here to COMMIT, so the claim
            # below is exclusive: no other connection can pick the same row meanwhile.
            conn.execute(queries.EXPIRE_EXHAUSTED, {"now": stamp})
            row = conn.execute(queries.CLAIM_NEXT,
                               {"worker": worker, "until": until, "now": stamp}).fetchone()
        return None if row is None else rows.job(row)

    def _finish(self, job_id: int, worker: str, now: datetime, operation: str,
                error: str | None) -> Job:
        v = inputs.check(operation)
        v.integer("job_id", job_id)
        v.text("worker", worker)
        v.optional_text("error", error)
        moment = v.timestamp("now", now)
        with self._tx(operation, job_id) as conn:
            job = self._job_to_change(conn, job_id, operation)
            if job.status != "running" or job.worker != worker:
                raise Conflict(SPEC, operation, f"job is {job.status} and not leased to {worker!r}",
                               job_id)
            if operation == "complete_job":
                status, run_after = "completed", job.run_after
            elif job.attempts < job.max_attempts:
                status = "queued"
                run_after = inputs.retry_time(operation, moment, backoff_seconds(job.attempts))
            else:
                status, run_after = "dead", job.run_after
            conn.execute(queries.FINISH_JOB,
                         (status, to_text(run_after), error, to_text(moment), job_id))
            return self._job(conn, job_id, operation)

    def complete_job(self, job_id: int, worker: str, now: datetime) -> Job:
        return self._finish(job_id, worker, now, "complete_job", None)

    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job:
        inputs.check("fail_job").text("error", error)
        return self._finish(job_id, worker, now, "fail_job", error)

    def get_job(self, job_id: int) -> Job:
        inputs.check("get_job").integer("job_id", job_id)
        with self._tx("get_job", job_id, write=False) as conn:
            return self._job(conn, job_id, "get_job")

    def job_counts(self) -> dict[str, int]:
        with self._tx("job_counts", write=False) as conn:
            found = dict(conn.execute(queries.COUNT_JOBS).fetchall())
        return {status: int(found.get(status, 0)) for status in JOB_STATUSES}

    # -- uploads -----------------------------------------------------------------

    def create_upload(self, conversation_id: str, upload: NewUpload, at: datetime) -> Upload:
        v = inputs.check("create_upload")
        v.text("conversation_id", conversation_id)
        upload = inputs.new_upload(upload)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("create_upload", upload.file_name) as conn:
            self._live_or_missing(conn, conversation_id, "create_upload")
            row = conn.execute(
                "INSERT INTO uploads (conversation_id, file_name, size_bytes, mime_type, checksum, "
                f"storage_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {UPLOAD_COLUMNS}",
                (conversation_id, upload.file_name, upload.size_bytes, upload.mime_type,
                 upload.checksum, upload.storage_path, stamp)).fetchone()
        return rows.upload(row)

    def list_uploads(self, conversation_id: str) -> list[Upload]:
        inputs.check("list_uploads").text("conversation_id", conversation_id)
        with self._tx("list_uploads", conversation_id, write=False) as conn:
            self._conversation(conn, conversation_id, "list_uploads")
            found = conn.execute(queries.SELECT_UPLOADS, (conversation_id,)).fetchall()
        return [rows.upload(row) for row in found]

    def delete_upload(self, upload_id: int) -> None:
        inputs.check("delete_upload").integer("upload_id", upload_id)
        with self._tx("delete_upload", upload_id) as conn:
            if conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,)).rowcount == 0:
                raise NotFound(SPEC, "delete_upload", "no such upload", upload_id)

    # -- retention ---------------------------------------------------------------

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        cutoff = to_text(inputs.purge_cutoff(older_than_days, now))
        with self._tx("purge_conversations", older_than_days) as conn:
            # One statement in one transaction: the cascades remove every child with it.
            return conn.execute("DELETE FROM conversations WHERE created_at < ?", (cutoff,)).rowcount

    def right_to_delete(self, conversation_id: str) -> None:
        inputs.check("right_to_delete").text("conversation_id", conversation_id)
        with self._tx("right_to_delete", conversation_id) as conn:
            if conn.execute(queries.DELETE_CONVERSATION, (conversation_id,)).rowcount == 0:
                raise NotFound(SPEC, "right_to_delete", "no such conversation", conversation_id)
            if self._has_audit(conn):
                conn.execute("DELETE FROM audit_log WHERE conversation_id = ?", (conversation_id,))
            self._drop_deleted_terms(conn)
        self._scrub_files()

    @staticmethod
    def _drop_deleted_terms(conn: Connection) -> None:
        """Rewrite the full-text index without the deleted rows' terms."""
        conn.execute("INSERT INTO learnings_fts (learnings_fts) VALUES ('optimize')")

    def _scrub_files(self) -> None:
        """Move the WAL (which still holds the deleted text) into the zeroed pages."""
        with self._storage("right_to_delete"):
            self.db.checkpoint_truncate()

    def verify_integrity(self) -> list[str]:
        problems = super().verify_integrity()
        try:
            # rank 1: also compare the index with the learnings it was built from.
            with self.db.atomic() as conn:
                conn.execute("INSERT INTO learnings_fts (learnings_fts, rank) "
                             "VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"learnings_fts: {exc}")
        return problems

    @staticmethod
    def _has_audit(conn: Connection) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_log'").fetchone() is not None


