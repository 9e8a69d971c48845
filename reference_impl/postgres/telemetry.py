"""The reference ``telemetry`` store on PostgreSQL.

Its operations are the SQLite reference's (embeddings are ``bytea`` holding
the same little-endian float32 components; similarity is computed client-side
with numpy over the kept matrix, as on SQLite).  Where a write reads before it
writes, READ COMMITTED needs a lock that SQLite's one writer gives for free:

* ``record_ab_result`` reads whether the test is finalized, then adds to a
  variant's counts.  It locks the test's row first (``FOR UPDATE``), so a
  concurrent ``finalize_ab_test`` (whose UPDATE takes the same row lock) either
  commits before the read, which then sees it, or waits until the result is in.
* A first feature vector fixes the store's dimension; two first vectors of
  different dimensions in concurrent transactions would both see an empty
  table.  Vector inserts take one transaction-scoped advisory lock, so the
  second reads the first's dimension.
* A batch of vectors is one statement, and one statement checks every row's CHECK
  before any FOREIGN KEY; the spec reports the first bad vector's error.  A refused
  batch is undone to a savepoint and written again vector by vector, which stops at
  the first bad one.
* ``update_training_run_results``, ``end_session`` and
  ``finalize_ab_test`` test the state inside their UPDATE, which re-checks the
  condition after waiting for a concurrent writer's row lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import FeatureVector, NewFeatureVector, VariantResult
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.postgres.store import PostgresStore
from storecheck.reference_impl.telemetry import rows
from storecheck.reference_impl.telemetry.ml import vector_values
from storecheck.reference_impl.telemetry.rows import VECTOR_COLUMNS
from storecheck.reference_impl.telemetry.similarity import IDS_BEFORE_COMMIT, VectorIndex
from storecheck.reference_impl.telemetry.store import SqliteTelemetry

INSERT_VECTORS_FROM_ARRAYS: Final = (
    "INSERT INTO feature_vectors (query_id, feature_set, dimension, embedding, created_at) "
    "SELECT c1, c2, c3, c4, c5 FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bytea[], "
    f"%s::text[]) WITH ORDINALITY AS batch(c1, c2, c3, c4, c5, n) ORDER BY n "
    f"RETURNING {VECTOR_COLUMNS}"
)
"""A batch as five arrays, one per column: one statement however many vectors (a round
trip per vector cost 42 ms for a batch of 100)."""
_LOCK_TEST: Final = "SELECT 1 FROM ab_tests WHERE id = %s FOR UPDATE"
_LOCK_VECTORS: Final = "SELECT pg_advisory_xact_lock(hashtext('storecheck.telemetry.vectors'))"


class PgTelemetry(PostgresStore, SqliteTelemetry):
    """Implements :class:`~storecheck.conformance.specs.telemetry.TelemetryStore`."""

    def __init__(self, location: str, **options: Any) -> None:
        super().__init__(location, **options)
        self.vectors = VectorIndex(IDS_BEFORE_COMMIT)

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        test_id, variant, success = inputs.ab_result(test_id, variant, success)
        with self._tx("record_ab_result", test_id) as conn:
            self._native(conn).execute_native(_LOCK_TEST, (test_id,))
            return super().record_ab_result(test_id, variant, success)

    def _insert_vectors(self, conn: Connection, operation: str,
                        batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        self._native(conn).execute_native(_LOCK_VECTORS)
        return super()._insert_vectors(conn, operation, batch)

    def _write_vectors(self, conn: Connection,
                       batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        if not batch:
            return []
        columns = [list(column) for column in zip(*map(vector_values, batch), strict=True)]
        try:
            with self.pg.atomic():
                found = self._native(conn).execute_native(INSERT_VECTORS_FROM_ARRAYS, columns)
                return [rows.vector(row) for row in found.fetchall()]
        except psycopg.errors.IntegrityError:
            return super()._write_vectors(conn, batch)
