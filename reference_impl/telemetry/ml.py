"""The ML half of the reference ``telemetry`` store: training runs, feature vectors,
predictions and A/B tests (the seed's Phase 1)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from storecheck.conformance.errors import Conflict, NotFound
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    SPEC,
    ABTest,
    ABTestResults,
    FeatureVector,
    ModelComparison,
    ModelPerformance,
    NewABTest,
    NewFeatureVector,
    NewPrediction,
    NewTrainingRun,
    Prediction,
    RunCursor,
    RunPage,
    SimilarQuery,
    TrainingMetrics,
    TrainingRun,
    VariantResult,
    model_comparison,
    ratio,
    two_proportion_p_value,
)
from storecheck.conformance.specs.telemetry_inputs import to_blob
from storecheck.reference_impl.engine.pages import keyset_page, rows_to_read
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import SqliteStore
from storecheck.reference_impl.engine.timestamps import optional_text, to_text
from storecheck.reference_impl.telemetry import rows
from storecheck.reference_impl.telemetry.rows import (
    PREDICTION_COLUMNS,
    RUN_COLUMNS,
    TEST_COLUMNS,
    VARIANT_COLUMNS,
    VECTOR_COLUMNS,
    row_limit,
)
from storecheck.reference_impl.telemetry.similarity import VectorIndex

INSERT_VECTOR: Final = (
    "INSERT INTO feature_vectors (query_id, feature_set, dimension, embedding, created_at) "
    f"VALUES (?, ?, ?, ?, ?) RETURNING {VECTOR_COLUMNS}")
INSERT_RUN: Final = (
    "INSERT INTO model_training_runs (id, model_type, model_version, started_at, hyperparameters) "
    f"VALUES (?, ?, ?, ?, ?) RETURNING {RUN_COLUMNS}")
INSERT_PREDICTION: Final = (
    "INSERT INTO model_predictions (id, run_id, predicted_value, confidence, predicted_at, "
    f"input_hash) VALUES (?, ?, ?, ?, ?, ?) RETURNING {PREDICTION_COLUMNS}")
SELECT_RUN: Final = f"SELECT {RUN_COLUMNS} FROM model_training_runs WHERE id = ?"
ACCURACY: Final = (
    "SELECT count(actual_value), "
    "coalesce(sum(CASE WHEN predicted_value = actual_value THEN 1 ELSE 0 END), 0) "
    "FROM model_predictions WHERE run_id = ?")
PERFORMANCE: Final = (
    "SELECT runs, completed_runs, predictions, labelled, correct FROM v_model_performance "
    "WHERE model_version = ?")


def run_values(new: NewTrainingRun) -> tuple[object, ...]:
    """:data:`INSERT_RUN`'s parameters."""
    return (new.id, new.model_type, new.model_version, to_text(new.started_at),
            new.hyperparameters_json)


def prediction_values(new: NewPrediction) -> tuple[object, ...]:
    """:data:`INSERT_PREDICTION`'s parameters."""
    return (new.id, new.run_id, new.predicted_value, new.confidence, to_text(new.predicted_at),
            new.input_hash)


def vector_values(new: NewFeatureVector) -> tuple[str, str, int, bytes, str]:
    """:data:`INSERT_VECTOR`'s parameters: the embedding as float32 bytes."""
    return (new.query_id, new.feature_set, len(new.embedding), to_blob(new.embedding),
            to_text(new.created_at))


class SqliteTelemetryMl(SqliteStore):
    """Training runs, feature vectors, predictions and A/B tests."""

    vectors: VectorIndex

    # -- training runs -------------------------------------------------------------

    @staticmethod
    def _run(conn: Connection, run_id: str, operation: str) -> TrainingRun:
        row = conn.execute(SELECT_RUN, (run_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such training run", run_id)
        return rows.run(row)

    def insert_training_run(self, new: NewTrainingRun) -> TrainingRun:
        new = inputs.new_run(new)
        with self._tx("insert_training_run", new.id) as conn:
            return rows.run(conn.execute(INSERT_RUN, run_values(new)).fetchone())

    def get_training_run(self, run_id: str) -> TrainingRun:
        inputs.check("get_training_run").text("run_id", run_id)
        with self._tx("get_training_run", run_id, write=False) as conn:
            return self._run(conn, run_id, "get_training_run")

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        model_type, limit = inputs.run_filter(model_type, limit)
        with self._tx("list_training_runs", model_type, write=False) as conn:
            if model_type is None:
                found = conn.execute(f"SELECT {RUN_COLUMNS} FROM model_training_runs "
                                     "ORDER BY started_at DESC, id LIMIT ?", (row_limit(limit),))
            else:
                found = conn.execute(f"SELECT {RUN_COLUMNS} FROM model_training_runs "
                                     "WHERE model_type = ? ORDER BY started_at DESC, id LIMIT ?",
                                     (model_type, row_limit(limit)))
            return [rows.run(row) for row in found]

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        model_type, limit, after = inputs.runs_page(model_type, limit, after)
        # One run past the page tells whether another page follows.  The order is mixed
        # (time desc, id asc), so the place is two comparisons, not one row value; the
        # bound on the time alone lets the (type,) time index seek to the place.
        where = ["model_type = ?"] if model_type is not None else []
        values: list[object] = [model_type] if model_type is not None else []
        if after is not None:
            place = to_text(after.started_at)
            where.append("started_at <= ? AND (started_at < ? OR (started_at = ? AND id > ?))")
            values += [place, place, place, after.id]
        statement = (f"SELECT {RUN_COLUMNS} FROM model_training_runs"
                     + (" WHERE " + " AND ".join(where) if where else "")
                     + " ORDER BY started_at DESC, id LIMIT ?")
        with self._tx("training_runs_page", model_type, write=False) as conn:
            found = [rows.run(row) for row in conn.execute(statement, (*values, rows_to_read(limit)))]
        return RunPage(*keyset_page(found, limit, lambda run: RunCursor(run.started_at, run.id)))

    def update_training_run_results(self, run_id: str,
                                    metrics: TrainingMetrics) -> TrainingRun:
        inputs.check("update_training_run_results").text("run_id", run_id)
        metrics = inputs.metrics(metrics)
        with self._tx("update_training_run_results", run_id) as conn:
            # The transition and its condition in one statement: of concurrent updates
            # exactly one finds the run still running.
            changed = conn.execute(
                "UPDATE model_training_runs SET status = ?, completed_at = ?, accuracy = ?, "
                "loss = ?, f1_score = ?, sample_count = ? WHERE id = ? AND status = 'running'",
                (metrics.status, to_text(metrics.completed_at), metrics.accuracy, metrics.loss,
                 metrics.f1_score, metrics.sample_count, run_id))
            run = self._run(conn, run_id, "update_training_run_results")
            if changed.rowcount == 0:
                raise Conflict(SPEC, "update_training_run_results",
                               f"the run is {run.status}, not running", run_id)
            return run

    # -- feature vectors -------------------------------------------------------------

    def _insert_vectors(self, conn: Connection, operation: str,
                        batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        found = conn.execute("SELECT dimension FROM feature_vectors LIMIT 1").fetchone()
        inputs.same_dimension(operation, None if found is None else found[0],
                              [new.embedding for new in batch])
        return self._write_vectors(conn, batch)

    def _write_vectors(self, conn: Connection,
                       batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        return [rows.vector(conn.execute(INSERT_VECTOR, vector_values(new)).fetchone())
                for new in batch]

    def insert_feature_vector(self, new: NewFeatureVector) -> FeatureVector:
        new = inputs.new_vector(new)
        with self._tx("insert_feature_vector", new.query_id) as conn:
            return self._insert_vectors(conn, "insert_feature_vector", [new])[0]

    def batch_insert_feature_vectors(
            self, batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        checked = inputs.vector_batch(batch)
        with self._tx("batch_insert_feature_vectors", len(checked)) as conn:
            return self._insert_vectors(conn, "batch_insert_feature_vectors", checked)

    def feature_vectors_for_query(self, query_id: str) -> list[FeatureVector]:
        inputs.check("feature_vectors_for_query").text("query_id", query_id)
        with self._tx("feature_vectors_for_query", query_id, write=False) as conn:
            found = conn.execute(f"SELECT {VECTOR_COLUMNS} FROM feature_vectors "
                                 "WHERE query_id = ? ORDER BY id", (query_id,))
            return [rows.vector(row) for row in found]

    def find_similar_queries(self, embedding: Sequence[float],
                             limit: int) -> list[SimilarQuery]:
        probe, limit = inputs.search(embedding, limit)
        with self._tx("find_similar_queries", limit, write=False) as conn:
            matrix = self.vectors.current(conn)
        if matrix.dimension is not None:
            inputs.same_dimension("find_similar_queries", matrix.dimension, [probe])
        return matrix.top(probe, limit)

    # -- predictions ---------------------------------------------------------------------

    def insert_prediction(self, new: NewPrediction) -> Prediction:
        new = inputs.new_prediction(new)
        with self._tx("insert_prediction", new.id) as conn:
            return rows.prediction(conn.execute(INSERT_PREDICTION,
                                                prediction_values(new)).fetchone())

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        checked = inputs.prediction_batch(batch)
        with self._tx("batch_insert_predictions", len(checked)) as conn:
            # One statement per prediction, in order: a multi-row INSERT checks every row's
            # CHECK before any FOREIGN KEY, which would name the wrong prediction's error.
            return [rows.prediction(conn.execute(INSERT_PREDICTION,
                                                 prediction_values(new)).fetchone())
                    for new in checked]

    def update_prediction_ground_truth(self, prediction_id: str,
                                       actual_value: str) -> Prediction:
        v = inputs.check("update_prediction_ground_truth")
        prediction_id, actual_value = (v.text("prediction_id", prediction_id),
                                       v.text("actual_value", actual_value))
        with self._tx("update_prediction_ground_truth", prediction_id) as conn:
            row = conn.execute(f"UPDATE model_predictions SET actual_value = ? WHERE id = ? "
                               f"RETURNING {PREDICTION_COLUMNS}",
                               (actual_value, prediction_id)).fetchone()
        if row is None:
            raise NotFound(SPEC, "update_prediction_ground_truth", "no such prediction",
                           prediction_id)
        return rows.prediction(row)

    def predictions_for_run(self, run_id: str) -> list[Prediction]:
        inputs.check("predictions_for_run").text("run_id", run_id)
        with self._tx("predictions_for_run", run_id, write=False) as conn:
            self._run(conn, run_id, "predictions_for_run")
            found = conn.execute(f"SELECT {PREDICTION_COLUMNS} FROM model_predictions "
                                 "WHERE run_id = ? ORDER BY predicted_at, id", (run_id,))
            return [rows.prediction(row) for row in found]

    def calculate_model_accuracy(self, run_id: str) -> float | None:
        inputs.check("calculate_model_accuracy").text("run_id", run_id)
        with self._tx("calculate_model_accuracy", run_id, write=False) as conn:
            self._run(conn, run_id, "calculate_model_accuracy")
            labelled, correct = conn.execute(ACCURACY, (run_id,)).fetchone()
        return ratio(int(correct), labelled)

    def get_model_performance(self, model_version: str) -> ModelPerformance:
        inputs.check("get_model_performance").text("model_version", model_version)
        with self._tx("get_model_performance", model_version, write=False) as conn:
            return self._performance(conn, model_version, "get_model_performance")

    @staticmethod
    def _performance(conn: Connection, model_version: str, operation: str) -> ModelPerformance:
        row = conn.execute(PERFORMANCE, (model_version,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no training run of this model version",
                           model_version)
        # int(): PostgreSQL's sum() over counts is numeric.
        runs, completed, predictions, labelled, correct = map(int, row)
        return ModelPerformance(model_version, runs, completed, predictions, labelled, correct,
                                ratio(correct, labelled))

    def compare_models(self, version_a: str, version_b: str) -> ModelComparison:
        v = inputs.check("compare_models")
        version_a, version_b = v.text("version_a", version_a), v.text("version_b", version_b)
        with self._tx("compare_models", (version_a, version_b), write=False) as conn:
            a = self._performance(conn, version_a, "compare_models")
            b = self._performance(conn, version_b, "compare_models")
        return model_comparison(a, b)

    # -- A/B tests -------------------------------------------------------------------------

    @staticmethod
    def _test(conn: Connection, test_id: str, operation: str) -> ABTest:
        row = conn.execute(f"SELECT {TEST_COLUMNS} FROM ab_tests WHERE id = ?",
                           (test_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such A/B test", test_id)
        first, second = (name for (name,) in conn.execute(
            "SELECT variant FROM ab_variants WHERE test_id = ? ORDER BY position", (test_id,)))
        return rows.test(row, (first, second))

    def create_ab_test(self, new: NewABTest) -> ABTest:
        new = inputs.new_ab_test(new)
        with self._tx("create_ab_test", new.id) as conn:
            conn.execute("INSERT INTO ab_tests (id, name, started_at) VALUES (?, ?, ?)",
                         (new.id, new.name, to_text(new.started_at)))
            for position, name in enumerate(new.variants):
                conn.execute("INSERT INTO ab_variants (test_id, position, variant) "
                             "VALUES (?, ?, ?)", (new.id, position, name))
            return self._test(conn, new.id, "create_ab_test")

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        test_id, variant, success = inputs.ab_result(test_id, variant, success)
        with self._tx("record_ab_result", test_id) as conn:
            test = self._test(conn, test_id, "record_ab_result")
            if variant not in test.variants:
                raise NotFound(SPEC, "record_ab_result", "the test has no such variant", variant)
            if test.finalized_at is not None:
                raise Conflict(SPEC, "record_ab_result", "the test is finalized", test_id)
            # One UPDATE adds to the counts: concurrent results are never lost.
            return rows.variant(conn.execute(
                "UPDATE ab_variants SET trials = trials + 1, successes = successes + ? "
                f"WHERE test_id = ? AND variant = ? RETURNING {VARIANT_COLUMNS}",
                (int(success), test_id, variant)).fetchone())

    def ab_test_results(self, test_id: str) -> ABTestResults:
        inputs.check("ab_test_results").text("test_id", test_id)
        with self._tx("ab_test_results", test_id, write=False) as conn:
            test = self._test(conn, test_id, "ab_test_results")
            first, second = (rows.variant(row) for row in conn.execute(
                f"SELECT {VARIANT_COLUMNS} FROM ab_variants WHERE test_id = ? "
                "ORDER BY position", (test_id,)))
        return ABTestResults(test, (first, second), two_proportion_p_value(
            first.successes, first.trials, second.successes, second.trials))

    def finalize_ab_test(self, test_id: str, winner: str, confidence: float,
                         at: datetime) -> ABTest:
        test_id, winner, confidence, at = inputs.finalization(test_id, winner, confidence, at)
        with self._tx("finalize_ab_test", test_id) as conn:
            test = self._test(conn, test_id, "finalize_ab_test")
            if winner not in test.variants:
                raise NotFound(SPEC, "finalize_ab_test", "the winner is not a variant", winner)
            changed = conn.execute(
                "UPDATE ab_tests SET winner = ?, confidence = ?, finalized_at = ? "
                "WHERE id = ? AND finalized_at IS NULL",
                (winner, confidence, optional_text(at), test_id))
            if changed.rowcount == 0:
                raise Conflict(SPEC, "finalize_ab_test", "the test is finalized already",
                               test_id)
            return self._test(conn, test_id, "finalize_ab_test")

