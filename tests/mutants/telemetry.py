"""Deliberately broken variants of the reference ``telemetry`` store.

The first ones are the defects of the real store seed 000 builds on (p50, p95
and p99 all computed as the average; retention deleting parents before their
children, and forgetting a child table; instants compared as text in two
spellings); the rest are the ways the seed's planned ML operations are
commonly got wrong.  ``MUTANTS`` maps each to the conformance category that
must catch it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import astuple, replace
from datetime import date, datetime, timedelta
from typing import Any

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    SPEC,
    ABTest,
    ABTestResults,
    AggregatedMetrics,
    DailyAggregate,
    DeletedRows,
    FeatureVector,
    LabeledSample,
    NewFeatureVector,
    NewPrediction,
    NewQueryEvent,
    Prediction,
    QueryEvent,
    RunCursor,
    RunPage,
    SampleCursor,
    SamplePage,
    Session,
    SimilarQuery,
    TrainingDataExport,
    TrainingMetrics,
    TrainingRun,
    VariantResult,
    training_data,
)
from storecheck.conformance.specs.telemetry_inputs import to_blob
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.timestamps import from_text, to_text
from storecheck.reference_impl.telemetry import SqliteTelemetry, rows as row_codec
from storecheck.reference_impl.telemetry.ml import (
    INSERT_PREDICTION,
    INSERT_VECTOR,
    prediction_values,
    vector_values,
)
from storecheck.reference_impl.telemetry.rows import (
    EXPORT_COLUMNS_SQL,
    RUN_COLUMNS,
    VARIANT_COLUMNS,
)
from storecheck.reference_impl.telemetry.store import DELETE_SESSIONS, MIGRATIONS

from tests.mutants import edit_migration, per_chunk, sqlite_mutant_backends


class PercentilesAllAverage(SqliteTelemetry):
    """The real store: ``p50_latency_ms``, ``p95`` and ``p99`` all set to ``AVG(latency_ms)``."""

    @staticmethod
    def _metrics(conn: Connection, start: str, end: str) -> AggregatedMetrics:
        found = SqliteTelemetry._metrics(conn, start, end)
        average = None if found.avg_latency_ms is None else round(found.avg_latency_ms)
        return replace(found, p50_latency_ms=average, p95_latency_ms=average,
                       p99_latency_ms=average)


class PruneParentsFirst(SqliteTelemetry):
    """The real store: sessions deleted first, then their events, with foreign keys on."""

    @staticmethod
    def _delete_sessions(conn: Connection, doomed: str, values: tuple[object, ...]) -> DeletedRows:
        counts = {name: conn.execute(statement.format(doomed=doomed),
                                     values * statement.count("{doomed}")).rowcount
                  for name, statement in reversed(DELETE_SESSIONS)}
        return DeletedRows(counts["sessions"], counts["queries"], counts["feedback"],
                           counts["traces"], counts["feature_vectors"])


class PruneForgetsTraces(SqliteTelemetry):
    """The real store: retention deletes queries and feedback but not reasoning traces."""

    @staticmethod
    def _delete_sessions(conn: Connection, doomed: str, values: tuple[object, ...]) -> DeletedRows:
        counts = {name: conn.execute(statement.format(doomed=doomed),
                                     values * statement.count("{doomed}")).rowcount
                  for name, statement in DELETE_SESSIONS if name != "traces"}
        return DeletedRows(counts["sessions"], counts["queries"], counts["feedback"], 0,
                           counts["feature_vectors"])


class WindowBoundsInSqlSpelling(SqliteTelemetry):
    """The real store: stored instants are RFC 3339 (``T``), bounds as ``datetime('now')``
    writes them (a space), so text comparison puts the bound's day wrongly."""

    @staticmethod
    def _metrics(conn: Connection, start: str, end: str) -> AggregatedMetrics:
        return SqliteTelemetry._metrics(conn, start.replace("T", " "), end.replace("T", " "))


class SimilarityNotNormalised(SqliteTelemetry):
    """Ranks by the dot product: the longest vector wins, whatever its direction."""

    def find_similar_queries(self, embedding: Sequence[float], limit: int) -> list[SimilarQuery]:
        found = super().find_similar_queries(embedding, 1000)
        probe = inputs.as_float32(embedding)
        best: dict[str, float] = {}
        for query in {hit.query_id for hit in found}:
            for vector in self.feature_vectors_for_query(query):
                dot = sum(x * y for x, y in zip(vector.embedding, probe, strict=True))
                best[query] = max(best.get(query, -math.inf), round(dot, 9))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [SimilarQuery(query, value) for query, value in ranked[:limit]]


class TopKOffByOne(SqliteTelemetry):
    def find_similar_queries(self, embedding: Sequence[float], limit: int) -> list[SimilarQuery]:
        return super().find_similar_queries(embedding, limit)[:max(limit - 1, 1)]


class AccuracyCountsUnlabelled(SqliteTelemetry):
    """Correct over all predictions: an unlabelled one counts as wrong."""

    def calculate_model_accuracy(self, run_id: str) -> float | None:
        accuracy = super().calculate_model_accuracy(run_id)
        predictions = self.predictions_for_run(run_id)
        if accuracy is None:
            return None
        correct = sum(1 for p in predictions if p.is_correct)
        return correct / len(predictions)


class SignificanceUnpooledVariance(SqliteTelemetry):
    """The z-test's variance from each variant's own rate instead of the pooled rate."""

    def ab_test_results(self, test_id: str) -> ABTestResults:
        found = super().ab_test_results(test_id)
        a, b = found.variants
        if a.trials == 0 or b.trials == 0:
            return found
        rate_a, rate_b = a.successes / a.trials, b.successes / b.trials
        variance = rate_a * (1 - rate_a) / a.trials + rate_b * (1 - rate_b) / b.trials
        if variance <= 0:
            return replace(found, p_value=None)
        z = (rate_a - rate_b) / math.sqrt(variance)
        return replace(found, p_value=round(math.erfc(abs(z) / math.sqrt(2)), 9))


class RunTiesByIdDescending(SqliteTelemetry):
    """``ORDER BY started_at DESC, id DESC``: runs started at one instant in reverse."""

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        runs = super().list_training_runs(model_type, 1000)
        return sorted(runs, key=lambda run: (run.started_at, run.id), reverse=True)[:limit]


class ExportDropsTheEndInstant(SqliteTelemetry):
    """``timestamp < end``: the rows at the range's last instant are lost."""

    def export_training_data(self, start: datetime, end: datetime,
                             format: str) -> TrainingDataExport:
        start, end, format = inputs.export(start, end, format)
        with self._tx("export_training_data", write=False) as conn:
            found = conn.execute(
                f"SELECT {EXPORT_COLUMNS_SQL} FROM v_training_data_export "
                "WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp, query_id",
                (to_text(start), to_text(end))).fetchall()
        return training_data([row_codec.export_row(row) for row in found], format)


class ResultsRecordedOnAFinalizedTest(SqliteTelemetry):
    """The finalized check forgotten: results keep counting after the winner is named."""

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        with self._tx("record_ab_result") as conn:
            held = conn.execute("SELECT finalized_at FROM ab_tests WHERE id = ?",
                                (test_id,)).fetchone()
            conn.execute("UPDATE ab_tests SET finalized_at = NULL WHERE id = ?", (test_id,))
            result = super().record_ab_result(test_id, variant, success)
            conn.execute("UPDATE ab_tests SET finalized_at = ? WHERE id = ?",
                         (None if held is None else held[0], test_id))
            return result


class WinnerNotAVariant(SqliteTelemetry):
    """Any winner accepted: the test's variants are never consulted."""

    def finalize_ab_test(self, test_id: str, winner: str, confidence: float,
                         at: datetime) -> ABTest:
        test = self.ab_test_results(test_id).test
        if winner in test.variants:
            return super().finalize_ab_test(test_id, winner, confidence, at)
        with self._tx("finalize_ab_test") as conn:
            conn.execute("UPDATE ab_tests SET winner = ?, confidence = ?, finalized_at = ? "
                         "WHERE id = ?", (winner, confidence, to_text(at), test_id))
        return self.ab_test_results(test_id).test


class RunResultsOverwritten(SqliteTelemetry):
    """No status guard: a completed run's results are replaced by a later update."""

    def update_training_run_results(self, run_id: str, metrics: TrainingMetrics) -> TrainingRun:
        with self._tx("update_training_run_results") as conn:
            conn.execute("UPDATE model_training_runs SET status = 'running' WHERE id = ?",
                         (run_id,))
            return super().update_training_run_results(run_id, metrics)


class DimensionNotEnforced(SqliteTelemetry):
    """Vectors of any dimension stored side by side (searches then skip the odd ones)."""

    def _insert_vectors(self, conn: Connection, operation: str, batch: Sequence[Any]) -> Any:
        return [row_codec.vector(conn.execute(
            "INSERT INTO feature_vectors (query_id, feature_set, dimension, embedding, "
            "created_at) VALUES (?, ?, ?, ?, ?) RETURNING id, query_id, feature_set, "
            "embedding, created_at",
            (new.query_id, new.feature_set, len(new.embedding), inputs.to_blob(new.embedding),
             to_text(new.created_at))).fetchone()) for new in batch]

    def find_similar_queries(self, embedding: Sequence[float], limit: int) -> list[SimilarQuery]:
        try:
            return super().find_similar_queries(embedding, limit)
        except ValueError:
            return []


class LabelFromTheFirstFeedback(SqliteTelemetry):
    """The label taken from the query's oldest thumbs feedback, not its latest."""

    def get_labeled_samples(self, limit: int | None) -> list[LabeledSample]:
        found = super().get_labeled_samples(limit)
        with self._tx("get_labeled_samples", write=False) as conn:
            return [replace(sample, label=conn.execute(
                "SELECT feedback_type = 'thumbs_up' FROM feedback WHERE query_id = ? AND "
                "feedback_type IN ('thumbs_up', 'thumbs_down') ORDER BY timestamp, id LIMIT 1",
                (sample.query_id,)).fetchone()[0] == 1) for sample in found]


class DurationRounded(SqliteTelemetry):
    """``duration_ms`` rounded to the nearest millisecond instead of down."""

    def end_session(self, session_id: str, at: datetime) -> Any:
        ended = super().end_session(session_id, at)
        assert ended.ended_at is not None
        exact = (ended.ended_at - ended.started_at).total_seconds() * 1000
        with self._tx("end_session") as conn:
            conn.execute("UPDATE sessions SET duration_ms = ? WHERE id = ?",
                         (round(exact), session_id))
        return self.get_session(session_id)


class QueryHashNotNormalised(SqliteTelemetry):
    """The hash of the raw text: the same query typed with other spaces or case differs."""

    def record_query(self, new: Any) -> Any:
        stored = super().record_query(new)
        digest = hashlib.sha256(new.query_text.encode()).hexdigest()
        with self._tx("record_query") as conn:
            conn.execute("UPDATE queries SET query_hash = ? WHERE id = ?", (digest, stored.id))
        return replace(stored, query_hash=digest)


class VectorBatchCommittedOneByOne(SqliteTelemetry):
    """Each vector of a batch in its own transaction: a refused vector leaves the ones
    before it."""

    def batch_insert_feature_vectors(self, batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        return [self.insert_feature_vector(new) for new in batch]


class VectorBatchCommittedPerChunk(SqliteTelemetry):
    """A large batch stored 500 vectors to a transaction: a batch refused past its first
    chunk keeps that chunk."""

    def batch_insert_feature_vectors(self, batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        return per_chunk(batch, super().batch_insert_feature_vectors)


class PredictionBatchCommittedPerChunk(SqliteTelemetry):
    """A large prediction batch stored 500 to a transaction: a batch refused past its first
    chunk keeps that chunk."""

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        return per_chunk(batch, super().batch_insert_predictions)


class PredictionBatchInOneStatement(SqliteTelemetry):
    """The batch as one multi-row INSERT: the statement checks every row's CHECK before
    its FOREIGN KEYs, so a later prediction's confidence is reported ahead of an earlier
    prediction's missing run."""

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        checked = inputs.prediction_batch(batch)
        if not checked:
            return []
        placeholders = "(?, ?, ?, ?, ?, ?)"
        statement = INSERT_PREDICTION.replace(
            "VALUES " + placeholders, "VALUES " + ", ".join([placeholders] * len(checked)))
        values = [value for new in checked for value in prediction_values(new)]
        with self._tx("batch_insert_predictions", len(checked)) as conn:
            stored = {row[0]: row_codec.prediction(row) for row in conn.execute(statement, values)}
        return [stored[new.id] for new in checked]


class PredictionBatchIgnoresDuplicates(SqliteTelemetry):
    """``INSERT OR IGNORE`` for the batch, so that a retried upload does not fail: a
    prediction whose id is taken is dropped in silence, and the batch reports it stored."""

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        checked = inputs.prediction_batch(batch)
        statement = INSERT_PREDICTION.replace("INSERT INTO", "INSERT OR IGNORE INTO").split(
            " RETURNING")[0]
        with self._tx("batch_insert_predictions", len(checked)) as conn:
            for new in checked:
                conn.execute(statement, prediction_values(new))
        return [Prediction(new.id, new.run_id, new.predicted_value, new.confidence,
                           new.predicted_at, new.input_hash, None, None) for new in checked]


class PredictionBatchReturnedInIdOrder(SqliteTelemetry):
    """The stored predictions read back ``ORDER BY id`` after the insert, not in the batch's
    order."""

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        return sorted(super().batch_insert_predictions(batch), key=lambda p: p.id)


class NoLimitMeansNoRows(SqliteTelemetry):
    """A missing limit bound as ``int(limit or 0)``: ``LIMIT 0``, so "every run" is none."""

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        if limit is None:
            inputs.run_filter(model_type, None)
            return []
        return super().list_training_runs(model_type, limit)


class _RunsPagedBy(SqliteTelemetry):
    """``training_runs_page`` with the place ``after`` marks spelled as :attr:`PLACE`."""

    PLACE = ""

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        model_type, limit, after = inputs.runs_page(model_type, limit, after)
        where, values = "model_type = coalesce(?, model_type)", [model_type]
        if after is not None:
            where += f" AND {self.PLACE}"
            values += [to_text(after.started_at), to_text(after.started_at), after.id]
        with self._tx("training_runs_page", write=False) as conn:
            found = [row_codec.run(row) for row in conn.execute(
                f"SELECT {RUN_COLUMNS} FROM model_training_runs WHERE {where} "
                "ORDER BY started_at DESC, id LIMIT ?", (*values, limit + 1))]
        last = found[limit - 1] if len(found) > limit else None
        return RunPage(tuple(found[:limit]),
                       None if last is None else RunCursor(last.started_at, last.id))


class RunsPagedOnTimeAlone(_RunsPagedBy):
    """The place by its instant alone: a run tied with a page's last is skipped."""

    PLACE = "(started_at < ? OR (started_at = ? AND ? IS NULL))"


class RunsCursorInclusive(_RunsPagedBy):
    """The place's own run again at the top of the next page (``>=`` for ``>``)."""

    PLACE = "(started_at < ? OR (started_at = ? AND id >= ?))"


class SamplesCursorOnFullPage(SqliteTelemetry):
    """A next cursor whenever a page is full, so a last page that is exactly full says
    more samples follow it (no look-ahead row)."""

    def labeled_samples_page(self, limit: int,
                             after: SampleCursor | None = None) -> SamplePage:
        page = super().labeled_samples_page(limit, after)
        if page.next_cursor is not None or len(page.items) < limit:
            return page
        last = page.items[-1].query_id
        with self._tx("labeled_samples_page", write=False) as conn:
            (stamp,) = conn.execute("SELECT timestamp FROM queries WHERE id = ?",
                                    (last,)).fetchone()
        return SamplePage(page.items, SampleCursor(from_text(stamp), last))


class AggregatesCommittedDayByDay(SqliteTelemetry):
    """Each day's aggregate replaced in its own transaction."""

    def batch_update_aggregates(self, days: Sequence[date]) -> list[DailyAggregate]:
        computed: list[DailyAggregate] = []
        for day in days:
            computed += super().batch_update_aggregates([day])
        return computed


class PruneSessionBySession(SqliteTelemetry):
    """Retention as a loop of ``delete_session``: each session its own transaction."""

    def prune_old_data(self, before: datetime) -> DeletedRows:
        with self._tx("prune_old_data", write=False) as conn:
            doomed = [session_id for (session_id,) in conn.execute(
                "SELECT id FROM sessions WHERE ended_at < ? ORDER BY id", (to_text(before),))]
        totals = [0, 0, 0, 0, 0]
        for session_id in doomed:
            deleted = self.delete_session(session_id)
            totals = [a + b for a, b in zip(totals, astuple(deleted), strict=True)]
        return DeletedRows(*totals)


class PruneChildrenCommittedApart(SqliteTelemetry):
    """The children of the pruned sessions deleted and committed, then the sessions."""

    def prune_old_data(self, before: datetime) -> DeletedRows:
        doomed, cutoff = "SELECT id FROM sessions WHERE ended_at < ?", (to_text(before),)
        counts: dict[str, int] = {}
        for name, statement in DELETE_SESSIONS:
            with self._tx("prune_old_data") as conn:
                counts[name] = conn.execute(statement.format(doomed=doomed),
                                            cutoff * statement.count("{doomed}")).rowcount
        return DeletedRows(counts["sessions"], counts["queries"], counts["feedback"],
                           counts["traces"], counts["feature_vectors"])


class PruneTakesTheCutoffInstant(SqliteTelemetry):
    """``ended_at <= before``: a session that ended exactly at the cutoff is pruned."""

    def prune_old_data(self, before: datetime) -> DeletedRows:
        with self._tx("prune_old_data") as conn:
            return self._delete_sessions(conn, "SELECT id FROM sessions WHERE ended_at <= ?",
                                         (to_text(before),))


class DeleteCountsOwnFeedbackOnly(SqliteTelemetry):
    """The feedback count reports the session's own rows, not those of other sessions
    that named its queries and went with them."""

    def delete_session(self, session_id: str) -> DeletedRows:
        with self._tx("delete_session", write=False) as conn:
            (own,) = conn.execute("SELECT count(*) FROM feedback WHERE session_id = ?",
                                  (session_id,)).fetchone()
        return replace(super().delete_session(session_id), feedback=own)


class ResultCountsReadThenWritten(SqliteTelemetry):
    """Counts read in one transaction and written back incremented in another: concurrent
    results overwrite each other."""

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        with self._tx("record_ab_result", write=False) as conn:
            test = self._test(conn, test_id, "record_ab_result")
            trials, successes = conn.execute(
                "SELECT trials, successes FROM ab_variants WHERE test_id = ? AND variant = ?",
                (test_id, variant)).fetchone()
        if test.finalized_at is not None:
            raise Conflict(SPEC, "record_ab_result", "the test is finalized", test_id)
        with self._tx("record_ab_result") as conn:
            conn.execute("UPDATE ab_variants SET trials = ?, successes = ? "
                         "WHERE test_id = ? AND variant = ?",
                         (trials + 1, successes + int(success), test_id, variant))
            return row_codec.variant(conn.execute(
                f"SELECT {VARIANT_COLUMNS} FROM ab_variants WHERE test_id = ? AND variant = ?",
                (test_id, variant)).fetchone())


class FinalizedCheckedApart(SqliteTelemetry):
    """Whether the test is finalized read in its own transaction before the result is
    added: a finalization in between is missed."""

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        with self._tx("record_ab_result", write=False) as conn:
            test = self._test(conn, test_id, "record_ab_result")
        if test.finalized_at is not None:
            raise Conflict(SPEC, "record_ab_result", "the test is finalized", test_id)
        with self._tx("record_ab_result") as conn:
            return row_codec.variant(conn.execute(
                "UPDATE ab_variants SET trials = trials + 1, successes = successes + ? "
                f"WHERE test_id = ? AND variant = ? RETURNING {VARIANT_COLUMNS}",
                (int(success), test_id, variant)).fetchone())


class EndCheckedApart(SqliteTelemetry):
    """``end_session`` reads the session in one transaction and ends it in another,
    unconditionally: two concurrent ends both succeed."""

    def end_session(self, session_id: str, at: datetime) -> Session:
        session = self.get_session(session_id)
        if session.ended_at is not None:
            raise Conflict(SPEC, "end_session", "the session has ended", session_id)
        with self._tx("end_session") as conn:
            conn.execute("UPDATE sessions SET ended_at = ?, duration_ms = ? WHERE id = ?",
                         (to_text(at), (at - session.started_at) // timedelta(milliseconds=1),
                          session_id))
        return self.get_session(session_id)


class DimensionReadApart(SqliteTelemetry):
    """The store's dimension read in a read transaction before the insert's: two first
    vectors of different dimensions both find the table empty."""

    def insert_feature_vector(self, new: NewFeatureVector) -> FeatureVector:
        new = inputs.new_vector(new)
        with self._tx("insert_feature_vector", write=False) as conn:
            found = conn.execute("SELECT dimension FROM feature_vectors LIMIT 1").fetchone()
        inputs.same_dimension("insert_feature_vector", None if found is None else found[0],
                              [new.embedding])
        with self._tx("insert_feature_vector") as conn:
            return row_codec.vector(conn.execute(INSERT_VECTOR, (
                new.query_id, new.feature_set, len(new.embedding), to_blob(new.embedding),
                to_text(new.created_at))).fetchone())


class SpreadsheetExportLeftAsIs(SqliteTelemetry):
    """``csv-spreadsheet`` accepted and answered with the plain CSV: a query id
    ``@SUM(1)`` runs as a formula when the file is opened."""

    def export_training_data(self, start: datetime, end: datetime, format: str) -> Any:
        if format != "csv-spreadsheet":
            return super().export_training_data(start, end, format)
        return replace(super().export_training_data(start, end, "csv"), format=format)


class JsonlKeepsLineSeparators(SqliteTelemetry):
    """JSON Lines written by a serializer that leaves U+2028 as itself (valid JSON, but a
    reader splitting lines on it cuts the record in two)."""

    def export_training_data(self, start: datetime, end: datetime, format: str) -> Any:
        exported = super().export_training_data(start, end, format)
        if format != "jsonl":
            return exported
        return replace(exported, content=exported.content.replace(b"\\u2028", "\u2028".encode()))


class QueryTextKeptForDebugging(SqliteTelemetry):
    """The hash is stored as specified, and the raw text too, in a side table "for
    debugging": every read the spec offers is unchanged."""

    def record_query(self, new: NewQueryEvent) -> QueryEvent:
        stored = super().record_query(new)
        with self._tx("record_query") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS query_debug (id TEXT, text TEXT)")
            conn.execute("INSERT INTO query_debug VALUES (?, ?)", (stored.id, new.query_text))
        return stored


class RatingCheckDropped(SqliteTelemetry):
    migrations = edit_migration(MIGRATIONS, 1, "up", "rating INTEGER CHECK (rating BETWEEN 1 AND 5)",
                                "rating INTEGER")


class EqualVariantsAllowed(SqliteTelemetry):
    migrations = edit_migration(MIGRATIONS, 1, "up", ",\n    UNIQUE (test_id, variant)", "")


class ViewsDownLeavesOneBehind(SqliteTelemetry):
    migrations = edit_migration(MIGRATIONS, 2, "down",
                                "DROP VIEW IF EXISTS v_model_performance;\n", "")


class ReadsTakeTheWriteLock(SqliteTelemetry):
    """Every read opens its transaction as a write (``BEGIN IMMEDIATE``): it waits for any
    writer to finish."""

    def _tx(self, operation: str, value: Any = None, *, write: bool = True) -> Any:
        return super()._tx(operation, value, write=True)


class VectorBatchInOneStatement(SqliteTelemetry):
    """The batch as one multi-row INSERT: faster, but the statement checks every row's
    CHECK before its FOREIGN KEYs, so a later vector's empty feature set is reported
    ahead of an earlier vector's missing query."""

    def _write_vectors(self, conn: Connection,
                       batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        if not batch:
            return []
        rows_sql = ", ".join(["(?, ?, ?, ?, ?)"] * len(batch))
        statement = INSERT_VECTOR.replace("VALUES (?, ?, ?, ?, ?)", "VALUES " + rows_sql)
        values = [value for new in batch for value in vector_values(new)]
        return sorted((row_codec.vector(row) for row in conn.execute(statement, values)),
                      key=lambda vector: vector.id)


MUTANTS: dict[str, tuple[type[SqliteTelemetry], str]] = {
    "percentiles_all_average": (PercentilesAllAverage, "model"),
    "prune_parents_first": (PruneParentsFirst, "model"),
    "prune_forgets_traces": (PruneForgetsTraces, "model"),
    "window_bounds_in_sql_spelling": (WindowBoundsInSqlSpelling, "model"),
    "similarity_not_normalised": (SimilarityNotNormalised, "model"),
    "top_k_off_by_one": (TopKOffByOne, "model"),
    "run_ties_by_id_descending": (RunTiesByIdDescending, "model"),
    "accuracy_counts_unlabelled": (AccuracyCountsUnlabelled, "model"),
    "significance_unpooled_variance": (SignificanceUnpooledVariance, "model"),
    "export_drops_the_end_instant": (ExportDropsTheEndInstant, "model"),
    "results_recorded_on_a_finalized_test": (ResultsRecordedOnAFinalizedTest, "model"),
    "winner_not_a_variant": (WinnerNotAVariant, "model"),
    "run_results_overwritten": (RunResultsOverwritten, "model"),
    "dimension_not_enforced": (DimensionNotEnforced, "model"),
    "label_from_the_first_feedback": (LabelFromTheFirstFeedback, "model"),
    "duration_rounded": (DurationRounded, "model"),
    "query_hash_not_normalised": (QueryHashNotNormalised, "model"),
    "vector_batch_committed_one_by_one": (VectorBatchCommittedOneByOne, "acid"),
    "vector_batch_committed_per_chunk": (VectorBatchCommittedPerChunk, "acid"),
    "prediction_batch_committed_per_chunk": (PredictionBatchCommittedPerChunk, "acid"),
    "prediction_batch_returned_in_id_order": (PredictionBatchReturnedInIdOrder, "acid"),
    "prediction_batch_ignores_duplicates": (PredictionBatchIgnoresDuplicates, "model"),
    "no_limit_means_no_rows": (NoLimitMeansNoRows, "model"),
    "aggregates_committed_day_by_day": (AggregatesCommittedDayByDay, "acid"),
    "prune_session_by_session": (PruneSessionBySession, "acid"),
    "prune_children_committed_apart": (PruneChildrenCommittedApart, "acid"),
    "reads_take_the_write_lock": (ReadsTakeTheWriteLock, "acid"),
    "prune_takes_the_cutoff_instant": (PruneTakesTheCutoffInstant, "fk"),
    "delete_counts_own_feedback_only": (DeleteCountsOwnFeedbackOnly, "fk"),
    "vector_batch_in_one_statement": (VectorBatchInOneStatement, "fk"),
    "prediction_batch_in_one_statement": (PredictionBatchInOneStatement, "fk"),
    "result_counts_read_then_written": (ResultCountsReadThenWritten, "concurrency"),
    "finalized_checked_apart": (FinalizedCheckedApart, "concurrency"),
    "end_checked_apart": (EndCheckedApart, "concurrency"),
    "dimension_read_apart": (DimensionReadApart, "concurrency"),
    "spreadsheet_export_left_as_is": (SpreadsheetExportLeftAsIs, "model"),
    "jsonl_keeps_line_separators": (JsonlKeepsLineSeparators, "model"),
    "query_text_kept_for_debugging": (QueryTextKeptForDebugging, "badinput"),
    "rating_check_dropped": (RatingCheckDropped, "badinput"),
    "equal_variants_allowed": (EqualVariantsAllowed, "badinput"),
    "views_down_leaves_one_behind": (ViewsDownLeavesOneBehind, "migration"),
    "runs_paged_on_time_alone": (RunsPagedOnTimeAlone, "model"),
    "runs_cursor_inclusive": (RunsCursorInclusive, "model"),
    "samples_cursor_on_full_page": (SamplesCursorOnFullPage, "model"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
