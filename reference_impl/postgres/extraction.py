"""The reference ``extraction`` store on PostgreSQL.

Its operations are the SQLite reference's; the concurrency checks' operations
are race-free at READ COMMITTED as written: ``record_progress`` is one
``UPDATE ... SET total = total + ?`` (the row lock queues concurrent additions,
each re-reading the newest totals); ``complete_session`` tests ``ended_at IS
NULL`` inside its UPDATE (the second of two racing completions waits for the
first's row lock, re-checks the condition and changes nothing);
``save_code_block`` is ``INSERT ... ON CONFLICT (digest) DO NOTHING`` (a racing
insert of the same content waits for the first to commit, then does nothing)
followed by a read by digest in a new statement, which sees the winner's row.
Full-text search reads a tsvector of each event's tokens (``events_fts``, kept by the
translated FTS5 triggers) through its GIN index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from storecheck.conformance.specs.extraction import NewExtractionEvent
from storecheck.conformance.specs.extraction_export import EXPORT_TABLES
from storecheck.reference_impl.extraction.rows import EVENT_COLUMNS
from storecheck.reference_impl.extraction.store import SqliteExtraction, event_values
from storecheck.reference_impl.postgres.store import PgVacuuming, PostgresStore, WithoutBackups
from storecheck.reference_impl.postgres.text_index import TSVECTOR_TOKENS

INSERT_EVENTS_FROM_ARRAYS: Final = (
    "INSERT INTO extraction_events (agent_name, session_id, timestamp, event_type, pattern, "
    "matched_value, original_line, line_number, metadata_json, code_block_language, risk_level, "
    "auto_confirmable) SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
    "%s::bigint[]) WITH ORDINALITY AS batch(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, "
    f"n) ORDER BY n RETURNING {EVENT_COLUMNS}"
)
"""A batch as twelve arrays, one per column: one short statement, prepared once, however
many events (a statement of many VALUES rows is parsed anew each time, and cost more than
the round trips it saved)."""


ADVANCE_IDS: Final = {table: (
    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max_id) FROM "
    f"(SELECT max(id) AS max_id FROM {table}) AS imported WHERE max_id > COALESCE("
    f"pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass), 0)")
    for table, _ in EXPORT_TABLES}
"""After an import: the table's id sequence moved past the imported ids (never back), as
SQLite's AUTOINCREMENT counter follows explicit ids by itself."""


class PgExtraction(WithoutBackups, PostgresStore, PgVacuuming, SqliteExtraction):
    """Implements :class:`~storecheck.conformance.specs.extraction.ExtractionStore`."""

    token_match = TSVECTOR_TOKENS

    def _after_import(self, conn: Any) -> None:
        for statement in ADVANCE_IDS.values():
            conn.execute_native(statement)

    def _insert_events(self, conn: Any, chunk: Sequence[NewExtractionEvent]) -> list[Any]:
        columns = [list(column) for column in zip(*map(event_values, chunk), strict=True)]
        return list(conn.execute_native(INSERT_EVENTS_FROM_ARRAYS, columns).fetchall())
