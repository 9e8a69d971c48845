"""The read and hot-path SQL of the reference ``session_history`` store.

Kept in one module because the latency floor runs the very same statements
on a bare ``sqlite3`` connection; the store is their only other caller.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from storecheck.reference_impl.engine.sql import placeholders
from storecheck.reference_impl.session_history.rows import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
)

SELECT_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
SELECT_RUNTIME_MIX: Final = "SELECT runtime FROM session_runtime_mix WHERE session_id = ?"
SELECT_STATUS: Final = "SELECT status FROM sessions WHERE id = ?"
SELECT_MESSAGES: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? ORDER BY timestamp, rowid"
)
SELECT_SUMMARY_COUNTS: Final = (
    "SELECT workspace_path, instance_count, message_count FROM session_complete WHERE id = ?"
)
INSERT_MESSAGE: Final = (
    "INSERT INTO chat_messages (id, session_id, role, content, timestamp, instance_id) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
ADD_STATS: Final = (
    "UPDATE sessions SET "
    "total_files_changed = COALESCE(total_files_changed, 0) + ?, "
    "total_lines_added = COALESCE(total_lines_added, 0) + ?, "
    "total_lines_deleted = COALESCE(total_lines_deleted, 0) + ? WHERE id = ? "
    # A total past 64 bits changes nothing (the caller tells that from a missing session).
    "AND COALESCE(total_files_changed, 0) <= 9223372036854775807 - ? "
    "AND COALESCE(total_lines_added, 0) <= 9223372036854775807 - ? "
    "AND COALESCE(total_lines_deleted, 0) <= 9223372036854775807 - ?"
)

@cache
def runtime_mixes_statement(sessions: int) -> str:
    """The runtime mix of ``sessions`` sessions in one round trip (placeholders only)."""
    return ("SELECT session_id, runtime FROM session_runtime_mix "
            f"WHERE session_id IN ({placeholders(sessions)})")


# Each filter is a fixed fragment with named parameters; only the choice of
# fragments varies, so caller values never reach the SQL text, and SQLite
# can use the index that fits the filters actually given.
_SEARCH_FILTERS: Final = (
    ("workspace_id", "workspace_id = :workspace_id"),
    ("status", "status = :status"),
    ("type", "type = :type"),
    ("created_from", "created_at >= :created_from"),
    ("created_to", "created_at < :created_to"),
    ("text", "instr(task, :text) > 0"),
    # Engines whose stored text needs an aligned match use this instead (see postgres.text).
    ("text_pattern", "task REGEXP :text_pattern"),
    # A row value seeks into the (created_at, id) index; the equivalent OR of two
    # comparisons walks it from the start to the cursor.
    ("after_created", "(created_at, id) < (:after_created, :after_id)"),
)


@cache
def _search_sql(present: tuple[str, ...]) -> str:
    clauses = [fragment for name, fragment in _SEARCH_FILTERS if name in present]
    return (f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(clauses) or '1'} "
            "ORDER BY created_at DESC, id DESC LIMIT :row_limit")


def search_statement(params: dict[str, Any]) -> str:
    """The search statement for the filters set (not None) in ``params``."""
    return _search_sql(tuple(name for name, _ in _SEARCH_FILTERS if params.get(name) is not None))
