"""Hot-path SQL of the reference ``conversations`` store, shared with the latency floor."""

from __future__ import annotations

from functools import cache
from typing import Final

from storecheck.reference_impl.conversations.rows import (
    CONVERSATION_COLUMNS,
    JOB_COLUMNS,
    MESSAGE_COLUMNS,
    UPLOAD_COLUMNS,
)
from storecheck.reference_impl.engine.sql import placeholders

SELECT_CONVERSATION: Final = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
SELECT_DELETED_AT: Final = "SELECT deleted_at FROM conversations WHERE id = ?"
INSERT_CONVERSATION: Final = ("INSERT INTO conversations (id, title, metadata, created_at, "
                              "updated_at) VALUES (?, ?, ?, ?, ?)")
UPDATE_CONVERSATION: Final = ("UPDATE conversations SET title = COALESCE(?, title), "
                              "metadata = COALESCE(?, metadata), updated_at = ? WHERE id = ?")
SET_DELETED: Final = "UPDATE conversations SET deleted_at = ?, updated_at = ? WHERE id = ?"
DELETE_CONVERSATION: Final = "DELETE FROM conversations WHERE id = ?"
COUNT_MESSAGES: Final = "SELECT count(*) FROM messages WHERE conversation_id = ?"
SELECT_JOB: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
FINISH_JOB: Final = ("UPDATE jobs SET status = ?, run_after = ?, lease_until = NULL, worker = NULL, "
                     "last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?")
COUNT_JOBS: Final = "SELECT status, count(*) FROM jobs GROUP BY status"
SELECT_UPLOADS: Final = (f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE conversation_id = ? "
                         "ORDER BY id")
INSERT_MESSAGE: Final = ("INSERT INTO messages (conversation_id, role, content, timestamp) "
                         f"VALUES (?, ?, ?, ?) RETURNING {MESSAGE_COLUMNS}")
INSERT_JOB: Final = (
    "INSERT INTO jobs (type, payload, priority, status, attempts, max_attempts, run_after, "
    f"created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) RETURNING {JOB_COLUMNS}"
)
SELECT_MESSAGES: Final = (f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
                          "ORDER BY timestamp, id")
LIST_CONVERSATIONS: Final = (f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
                             "WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT ?")
EXPIRE_EXHAUSTED: Final = (
    "UPDATE jobs SET status = 'dead', last_error = 'lease expired', worker = NULL, "
    "lease_until = NULL, updated_at = :now WHERE status = 'running' "
    "AND lease_until <= :now AND attempts >= max_attempts"
)
# The best ready job is the better of two index walks: the first queued job in
# idx_jobs_ready order, and the best expired lease found through idx_jobs_lease.
# One OR-ed WHERE would scan the whole table instead.
CLAIM_NEXT: Final = (
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = :worker, "
    "lease_until = :until, updated_at = :now WHERE id = ("
    "  SELECT id FROM ("
    "    SELECT * FROM (SELECT id, priority, run_after FROM jobs "
    "      WHERE status = 'queued' AND run_after <= :now "
    "      ORDER BY priority DESC, run_after, id LIMIT 1) "
    "    UNION ALL "
    "    SELECT * FROM (SELECT id, priority, run_after FROM jobs "
    "      WHERE status = 'running' AND lease_until <= :now "
    "      ORDER BY priority DESC, run_after, id LIMIT 1)"
    "  ) ORDER BY priority DESC, run_after, id LIMIT 1"
    f") RETURNING {JOB_COLUMNS}"
)


@cache
def tags_statement(learnings: int) -> str:
    """The tags of ``learnings`` learnings in one round trip (placeholders only)."""
    return f"SELECT learning_id, tag FROM learning_tags WHERE learning_id IN ({placeholders(learnings)})"
