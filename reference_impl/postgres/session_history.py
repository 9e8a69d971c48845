"""The reference ``session_history`` store on PostgreSQL.

Its operations are the SQLite reference's; the concurrency checks' operations
are race-free at READ COMMITTED as written: ``record_instance_stats`` is one
``UPDATE ... SET total = total + ?`` (the row lock makes concurrent additions
queue, and each re-reads the newest total), ``get_or_create_workspace`` is an
upsert (``INSERT ... ON CONFLICT DO UPDATE``), and ``complete_session`` tests
the status inside its UPDATE.
"""

from __future__ import annotations

from typing import Any

from storecheck.reference_impl.postgres import text
from storecheck.reference_impl.postgres.store import PostgresStore
from storecheck.reference_impl.session_history.store import SqliteSessionHistory


class PgSessionHistory(PostgresStore, SqliteSessionHistory):
    """Implements :class:`~storecheck.conformance.specs.session_history.SessionHistoryStore`."""

    @staticmethod
    def _substring_filter(params: dict[str, Any]) -> None:
        needle = params.get("text")
        if needle is not None and text.needs_alignment(needle):
            params["text"] = None
            params["text_pattern"] = text.aligned_substring_pattern(needle)
