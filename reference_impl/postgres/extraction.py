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
"""

from __future__ import annotations

from storecheck.reference_impl.extraction.store import SqliteExtraction
from storecheck.reference_impl.postgres.store import PostgresStore


class PgExtraction(PostgresStore, SqliteExtraction):
    """Implements :class:`~storecheck.conformance.specs.extraction.ExtractionStore`."""
