"""The reference ``conversations`` store on PostgreSQL.

The job queue uses PostgreSQL's tools instead of SQLite's single writer:
``dequeue`` claims with ``FOR UPDATE SKIP LOCKED`` (concurrent workers each
lock a different ready row instead of queueing behind one), and finishing a
job reads it ``FOR UPDATE`` so a lease cannot change hands between the check
and the write.  Writes under a conversation read it ``FOR SHARE``, so a soft
delete cannot slip between the liveness check and the insert.  Full-text
search reads a tsvector of the spec's tokens (``learnings_fts``, kept by the
translated FTS5 triggers) through its GIN index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs.conversations import SPEC, Job
from storecheck.conformance.specs.conversations_inputs import dequeue_arguments
from storecheck.reference_impl.conversations import rows
from storecheck.reference_impl.conversations.learning_search import TextIndex
from storecheck.reference_impl.conversations.rows import JOB_COLUMNS
from storecheck.reference_impl.conversations.store import SqliteConversations
from storecheck.reference_impl.engine.sql import Connection, qualified
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.postgres.connection import relation_exists
from storecheck.reference_impl.postgres.store import PgVacuuming, PostgresStore
from storecheck.reference_impl.postgres.text_index import TSVECTOR_TOKENS

# fts_matches and fts_rank are runtime functions (runtime.sql); SQL functions
# this small are inlined by the planner, so the GIN index serves the match.
TSVECTOR_INDEX: Final = TextIndex(
    select=("SELECT {columns}, fts_rank(f.tokens, :match) AS score FROM learnings_fts AS f "
            "JOIN learnings AS l ON l.id = f.rowid WHERE fts_matches(f.tokens, :match)"),
    order="ORDER BY score DESC, l.id",
    tokens=TSVECTOR_TOKENS,
)

EXPIRE_EXHAUSTED: Final = (
    "UPDATE jobs SET status = 'dead', last_error = 'lease expired', worker = NULL, "
    "lease_until = NULL, updated_at = %(now)s WHERE id IN (SELECT id FROM jobs "
    "WHERE status = 'running' AND lease_until <= %(now)s AND attempts >= max_attempts "
    "FOR UPDATE SKIP LOCKED)"
)
# Same order as the SQLite reference (two index walks, the better of the two);
# SKIP LOCKED passes over rows another dequeue has locked but not yet committed.
# (PostgreSQL allows FOR UPDATE in a CTE, not in a branch of a UNION.)  The NULLS
# clauses are SQLite's null order, which the translated indexes carry: without
# them no index matches the ORDER BY and every dequeue sorts the whole queue.
CLAIM_NEXT: Final = (
    "WITH queued AS (SELECT id, priority, run_after FROM jobs "
    "  WHERE status = 'queued' AND run_after <= %(now)s "
    "  ORDER BY priority DESC NULLS LAST, run_after NULLS FIRST, id NULLS FIRST LIMIT 1 "
    "  FOR UPDATE SKIP LOCKED), "
    "expired AS (SELECT id, priority, run_after FROM jobs "
    "  WHERE status = 'running' AND lease_until <= %(now)s "
    "  ORDER BY priority DESC, run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED), "
    "best AS (SELECT id FROM (SELECT * FROM queued UNION ALL SELECT * FROM expired) AS ready "
    "  ORDER BY priority DESC, run_after, id LIMIT 1) "
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = %(worker)s, "
    "lease_until = %(until)s, updated_at = %(now)s FROM best WHERE jobs.id = best.id "
    f"RETURNING {qualified(JOB_COLUMNS, 'jobs')}"
)
_PARENT_FOR_SHARE: Final = "SELECT deleted_at FROM conversations WHERE id = %s FOR SHARE"
_JOB_FOR_UPDATE: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s FOR UPDATE"
_STALE_TOKENS: Final = (
    "SELECT count(*) FROM learnings AS l FULL JOIN learnings_fts AS f ON f.rowid = l.id "
    "WHERE l.id IS NULL OR f.rowid IS NULL OR f.tokens <> fts_ascii_tokens(l.content)"
)


class PgConversations(PostgresStore, PgVacuuming, SqliteConversations):
    """Implements :class:`~storecheck.conformance.specs.conversations.ConversationStore`."""

    text_index = TSVECTOR_INDEX

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        moment, lease_until = dequeue_arguments(worker, now, lease_seconds)
        stamp, until = to_text(moment), to_text(lease_until)
        with self._tx("dequeue", worker) as conn:
            native = self._native(conn)
            native.execute_native(EXPIRE_EXHAUSTED, {"now": stamp})
            row = native.execute_native(
                CLAIM_NEXT, {"worker": worker, "until": until, "now": stamp}).fetchone()
        return None if row is None else rows.job(row)

    def _live_or_missing(self, conn: Connection, conversation_id: str, operation: str) -> None:
        # FOR SHARE: a soft delete racing this write waits for it to commit, or has
        # committed and is seen, so nothing is added to a conversation being deleted.
        row = self._native(conn).execute_native(_PARENT_FOR_SHARE, (conversation_id,)).fetchone()
        if row is not None and row[0] is not None:
            raise Conflict(SPEC, operation, "conversation is soft-deleted", conversation_id)

    def _job_to_change(self, conn: Connection, job_id: int, operation: str) -> Job:
        row = self._native(conn).execute_native(_JOB_FOR_UPDATE, (job_id,)).fetchone()
        if row is None:
            return self._job(conn, job_id, operation)  # raises the spec's NotFound
        return rows.job(row)

    @staticmethod
    def _has_audit(conn: Connection) -> bool:
        return relation_exists(PostgresStore._native(conn), "audit_log")

    @staticmethod
    def _drop_deleted_terms(conn: Connection) -> None:
        """Nothing: the delete trigger removed the rows' tokens with them."""

    def _scrub_files(self) -> None:
        """Nothing here: dead row versions stay in PostgreSQL's pages until VACUUM, which
        is why this backend does not claim ``file_storage``."""

    def verify_integrity(self) -> list[str]:
        problems = super().verify_integrity()
        (stale,) = self.pg.read_only(_STALE_TOKENS)[0]
        if stale:
            problems.append(f"learnings_fts: {stale} learnings whose tokens are missing or stale")
        return problems

