"""The reference ``session_history`` store on PostgreSQL.

Its operations are the SQLite reference's; the concurrency checks' operations
are race-free at READ COMMITTED as written: ``record_instance_stats`` is one
``UPDATE ... SET total = total + ?`` (the row lock makes concurrent additions
queue, and each re-reads the newest total), ``get_or_create_workspace`` is an
upsert (``INSERT ... ON CONFLICT DO UPDATE``, retried once more below),
``complete_session`` tests the status inside its UPDATE, and ``import_legacy``
holds a transaction-scoped advisory lock (below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storecheck.conformance.errors import ConstraintKind, ConstraintViolation
from storecheck.conformance.specs.session_history import ImportResult, Workspace
from storecheck.reference_impl.postgres import text
from storecheck.reference_impl.postgres.store import PostgresStore
from storecheck.reference_impl.session_history.store import SqliteSessionHistory

_UPSERT_ATTEMPTS = 3
_LOCK_IMPORTS = "SELECT pg_advisory_xact_lock(hashtext('storecheck.session_history.import_legacy'))"


class PgSessionHistory(PostgresStore, SqliteSessionHistory):
    """Implements :class:`~storecheck.conformance.specs.session_history.SessionHistoryStore`."""

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        # ON CONFLICT guards one unique index (workspace_path); a racing insert of the
        # same path can still trip the other one (workspace_hash) first.  The winner has
        # committed by then, so the upsert's second attempt finds its row.  A real hash
        # collision (another path) fails every attempt and is reported.
        for attempt in range(_UPSERT_ATTEMPTS):
            try:
                return super().get_or_create_workspace(path, at)
            except ConstraintViolation as exc:
                if exc.kind is not ConstraintKind.UNIQUE or attempt == _UPSERT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        # The reference reads "does this session exist?" and then inserts it.  Two imports
        # of one document at READ COMMITTED both find it missing, and the second insert
        # fails.  One advisory lock per import, held to commit, makes imports queue; the
        # one that waited then reads the first's sessions and skips them.
        with self._tx("import_legacy", backup_path) as conn:
            self._native(conn).execute_native(_LOCK_IMPORTS)
            return super().import_legacy(document, backup_path, at)

    @staticmethod
    def _substring_filter(params: dict[str, Any]) -> None:
        needle = params.get("text")
        if needle is not None and text.needs_alignment(needle):
            params["text"] = None
            params["text_pattern"] = text.aligned_substring_pattern(needle)
