"""The ``telemetry`` model's state, the rules both its halves use, and its ML half:
training runs, feature vectors, predictions and A/B tests (the rest: :mod:`.telemetry`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    SPEC,
    ABTest,
    ABTestResults,
    AggregatedMetrics,
    FeatureVector,
    FeedbackEvent,
    ModelComparison,
    ModelPerformance,
    NewABTest,
    NewFeatureVector,
    NewPrediction,
    NewTrainingRun,
    Prediction,
    QueryEvent,
    RunCursor,
    RunPage,
    Session,
    SimilarQuery,
    TraceEvent,
    TrainingMetrics,
    TrainingRun,
    VariantResult,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore
from storecheck.reference_impl.memory.rules import Rules

RULES = Rules(SPEC)


K = TypeVar("K")
V = TypeVar("V")


@dataclass
class State:
    sessions: dict[str, Session] = field(default_factory=dict)
    queries: dict[str, QueryEvent] = field(default_factory=dict)
    feedback: dict[str, FeedbackEvent] = field(default_factory=dict)
    traces: dict[str, TraceEvent] = field(default_factory=dict)
    aggregates: dict[date, AggregatedMetrics] = field(default_factory=dict)
    runs: dict[str, TrainingRun] = field(default_factory=dict)
    vectors: dict[int, FeatureVector] = field(default_factory=dict)
    last_vector_id: int = 0
    predictions: dict[str, Prediction] = field(default_factory=dict)
    tests: dict[str, ABTest] = field(default_factory=dict)
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(test, variant) -> (trials, successes)."""

    def copy(self) -> State:
        return State(dict(self.sessions), dict(self.queries), dict(self.feedback),
                     dict(self.traces), dict(self.aggregates), dict(self.runs),
                     dict(self.vectors), self.last_vector_id, dict(self.predictions),
                     dict(self.tests), dict(self.counts))


def in_range(value: float | None, low: float, high: float) -> bool:
    return value is None or low <= value <= high


def non_negative(operation: str, **values: int | float | None) -> None:
    for name, value in values.items():
        RULES.check(operation, f"{name} >= 0", value is None or value >= 0, value)


def unique(operation: str, table: dict[K, V], key: K) -> None:
    if key in table:
        raise ConstraintViolation(SPEC, operation, ConstraintKind.UNIQUE, "duplicate id", key)


def oldest_first(rows: Iterable[V], key: Callable[[V], tuple[object, ...]]) -> tuple[V, ...]:
    return tuple(sorted(rows, key=key))


def none_first(value: float | None) -> tuple[bool, float]:
    return (value is not None, 0.0 if value is None else value)


class MemoryTelemetryMl(MemoryStore[State]):
    """The model's training runs, feature vectors, predictions and A/B tests."""

    # -- training runs -------------------------------------------------------------------

    def insert_training_run(self, new: NewTrainingRun) -> TrainingRun:
        new = inputs.new_run(new)
        operation = "insert_training_run"

        def change(s: State) -> TrainingRun:
            for name in ("id", "model_type", "model_version"):
                RULES.check(operation, f"{name} <> ''", getattr(new, name) != "", getattr(new, name))
            unique(operation, s.runs, new.id)
            s.runs[new.id] = TrainingRun(new.id, new.model_type, new.model_version, "running",
                                         new.started_at, None, new.hyperparameters_json, None,
                                         None, None, None)
            return s.runs[new.id]
        return self._apply(change)

    def get_training_run(self, run_id: str) -> TrainingRun:
        inputs.check("get_training_run").text("run_id", run_id)
        return self._read(lambda s: RULES.found("get_training_run", s.runs, run_id, "training run"))

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        model_type, limit = inputs.run_filter(model_type, limit)
        return self._read(lambda s: runs_newest_first(s.runs.values(), model_type)[:limit])

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        model_type, limit, after = inputs.runs_page(model_type, limit, after)

        def look(s: State) -> RunPage:
            rest = [r for r in runs_newest_first(s.runs.values(), model_type)
                    if after is None or r.started_at < after.started_at
                    or (r.started_at == after.started_at and r.id > after.id)]
            if len(rest) <= limit:
                return RunPage(tuple(rest), None)
            last = rest[limit - 1]
            return RunPage(tuple(rest[:limit]), RunCursor(last.started_at, last.id))
        return self._read(look)

    def update_training_run_results(self, run_id: str,
                                    metrics: TrainingMetrics) -> TrainingRun:
        inputs.check("update_training_run_results").text("run_id", run_id)
        metrics = inputs.metrics(metrics)
        operation = "update_training_run_results"

        def change(s: State) -> TrainingRun:
            run = RULES.found(operation, s.runs, run_id, "training run")
            if run.status != "running":
                raise Conflict(SPEC, operation, f"the run is {run.status}, not running", run_id)
            RULES.check(operation, "completed_at >= started_at",
                   metrics.completed_at >= run.started_at, metrics.completed_at)
            RULES.check(operation, "accuracy BETWEEN 0 AND 1", in_range(metrics.accuracy, 0, 1),
                   metrics.accuracy)
            RULES.check(operation, "loss >= 0", metrics.loss is None or metrics.loss >= 0,
                   metrics.loss)
            RULES.check(operation, "f1_score BETWEEN 0 AND 1", in_range(metrics.f1_score, 0, 1),
                   metrics.f1_score)
            non_negative(operation, sample_count=metrics.sample_count)
            s.runs[run_id] = replace(run, status=metrics.status,
                                     completed_at=metrics.completed_at,
                                     accuracy=metrics.accuracy, loss=metrics.loss,
                                     f1_score=metrics.f1_score,
                                     sample_count=metrics.sample_count)
            return s.runs[run_id]
        return self._apply(change)

    # -- feature vectors -------------------------------------------------------------

    @staticmethod
    def _insert_vectors(s: State, operation: str,
                        batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        stored = next(iter(s.vectors.values()), None)
        inputs.same_dimension(operation, None if stored is None else len(stored.embedding),
                              [new.embedding for new in batch])
        found = []
        for new in batch:
            RULES.check(operation, "feature_set <> ''", new.feature_set != "", new.feature_set)
            RULES.parent(operation, s.queries, new.query_id, "query_id")
            s.last_vector_id += 1
            vector = FeatureVector(s.last_vector_id, new.query_id, new.feature_set,
                                   new.embedding, new.created_at)
            s.vectors[vector.id] = vector
            found.append(vector)
        return found

    def insert_feature_vector(self, new: NewFeatureVector) -> FeatureVector:
        new = inputs.new_vector(new)
        return self._apply(lambda s: self._insert_vectors(s, "insert_feature_vector", [new])[0])

    def batch_insert_feature_vectors(
            self, batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        checked = inputs.vector_batch(batch)
        return self._apply(lambda s: self._insert_vectors(s, "batch_insert_feature_vectors",
                                                          checked))

    def feature_vectors_for_query(self, query_id: str) -> list[FeatureVector]:
        inputs.check("feature_vectors_for_query").text("query_id", query_id)
        return self._read(lambda s: sorted((v for v in s.vectors.values()
                                            if v.query_id == query_id), key=lambda v: v.id))

    def find_similar_queries(self, embedding: Sequence[float],
                             limit: int) -> list[SimilarQuery]:
        probe, limit = inputs.search(embedding, limit)

        def look(s: State) -> list[SimilarQuery]:
            stored = next(iter(s.vectors.values()), None)
            if stored is None:
                return []
            inputs.same_dimension("find_similar_queries", len(stored.embedding), [probe])
            best: dict[str, float] = {}
            for vector in s.vectors.values():
                similarity = formulas.cosine_similarity(vector.embedding, probe)
                best[vector.query_id] = max(similarity, best.get(vector.query_id, -2.0))
            ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
            return [SimilarQuery(query_id, similarity) for query_id, similarity in ranked[:limit]]
        return self._read(look)

    # -- predictions ---------------------------------------------------------------------

    @staticmethod
    def _insert_prediction(s: State, operation: str, new: NewPrediction) -> Prediction:
        RULES.check(operation, "id <> ''", new.id != "", new.id)
        RULES.check(operation, "confidence BETWEEN 0 AND 1", in_range(new.confidence, 0, 1),
               new.confidence)
        unique(operation, s.predictions, new.id)
        RULES.parent(operation, s.runs, new.run_id, "run_id")
        s.predictions[new.id] = Prediction(new.id, new.run_id, new.predicted_value,
                                           new.confidence, new.predicted_at,
                                           new.input_hash, None, None)
        return s.predictions[new.id]

    def insert_prediction(self, new: NewPrediction) -> Prediction:
        new = inputs.new_prediction(new)
        return self._apply(lambda s: self._insert_prediction(s, "insert_prediction", new))

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        checked = inputs.prediction_batch(batch)
        return self._apply(lambda s: [self._insert_prediction(s, "batch_insert_predictions",
                                                              new) for new in checked])

    def update_prediction_ground_truth(self, prediction_id: str,
                                       actual_value: str) -> Prediction:
        v = inputs.check("update_prediction_ground_truth")
        prediction_id, actual_value = (v.text("prediction_id", prediction_id),
                                       v.text("actual_value", actual_value))

        def change(s: State) -> Prediction:
            found = RULES.found("update_prediction_ground_truth", s.predictions, prediction_id,
                           "prediction")
            s.predictions[prediction_id] = replace(
                found, actual_value=actual_value,
                is_correct=found.predicted_value == actual_value)
            return s.predictions[prediction_id]
        return self._apply(change)

    def predictions_for_run(self, run_id: str) -> list[Prediction]:
        inputs.check("predictions_for_run").text("run_id", run_id)

        def look(s: State) -> list[Prediction]:
            RULES.found("predictions_for_run", s.runs, run_id, "training run")
            return sorted((p for p in s.predictions.values() if p.run_id == run_id),
                          key=lambda p: (p.predicted_at, p.id))
        return self._read(look)

    def calculate_model_accuracy(self, run_id: str) -> float | None:
        inputs.check("calculate_model_accuracy").text("run_id", run_id)

        def look(s: State) -> float | None:
            RULES.found("calculate_model_accuracy", s.runs, run_id, "training run")
            labelled = [p for p in s.predictions.values()
                        if p.run_id == run_id and p.is_correct is not None]
            return formulas.share(sum(1 for p in labelled if p.is_correct), len(labelled))
        return self._read(look)

    @staticmethod
    def _performance(s: State, version: str, operation: str) -> ModelPerformance:
        runs = {r.id: r for r in s.runs.values() if r.model_version == version}
        if not runs:
            raise NotFound(SPEC, operation, "no training run of this model version", version)
        predictions = [p for p in s.predictions.values() if p.run_id in runs]
        labelled = [p for p in predictions if p.is_correct is not None]
        correct = sum(1 for p in labelled if p.is_correct)
        return ModelPerformance(version, len(runs),
                                sum(1 for r in runs.values() if r.status == "completed"),
                                len(predictions), len(labelled), correct,
                                formulas.share(correct, len(labelled)))

    def get_model_performance(self, model_version: str) -> ModelPerformance:
        inputs.check("get_model_performance").text("model_version", model_version)
        return self._read(lambda s: self._performance(s, model_version,
                                                      "get_model_performance"))

    def compare_models(self, version_a: str, version_b: str) -> ModelComparison:
        v = inputs.check("compare_models")
        version_a, version_b = v.text("version_a", version_a), v.text("version_b", version_b)
        def look(s: State) -> ModelComparison:
            a = self._performance(s, version_a, "compare_models")
            b = self._performance(s, version_b, "compare_models")
            difference = (None if a.accuracy is None or b.accuracy is None
                          else b.accuracy - a.accuracy)
            return ModelComparison(a, b, difference, formulas.two_proportion_p_value(
                a.correct, a.labelled, b.correct, b.labelled))
        return self._read(look)

    # -- A/B tests -------------------------------------------------------------------------

    def create_ab_test(self, new: NewABTest) -> ABTest:
        new = inputs.new_ab_test(new)
        operation = "create_ab_test"

        def change(s: State) -> ABTest:
            RULES.check(operation, "id <> ''", new.id != "", new.id)
            RULES.check(operation, "name <> ''", new.name != "", new.name)
            for name in new.variants:
                RULES.check(operation, "variant <> ''", name != "", name)
            unique(operation, s.tests, new.id)
            if new.variants[0] == new.variants[1]:
                raise ConstraintViolation(SPEC, operation, ConstraintKind.UNIQUE,
                                          "UNIQUE (test_id, variant)", new.variants)
            s.tests[new.id] = ABTest(new.id, new.name, new.variants, new.started_at, None, None,
                                     None)
            for name in new.variants:
                s.counts[new.id, name] = (0, 0)
            return s.tests[new.id]
        return self._apply(change)

    @staticmethod
    def _variant(s: State, test_id: str, variant: str, operation: str) -> ABTest:
        test = RULES.found(operation, s.tests, test_id, "A/B test")
        if variant not in test.variants:
            raise NotFound(SPEC, operation, "the test has no such variant", variant)
        return test

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult:
        test_id, variant, success = inputs.ab_result(test_id, variant, success)

        def change(s: State) -> VariantResult:
            test = self._variant(s, test_id, variant, "record_ab_result")
            if test.finalized_at is not None:
                raise Conflict(SPEC, "record_ab_result", "the test is finalized", test_id)
            trials, successes = s.counts[test_id, variant]
            s.counts[test_id, variant] = (trials + 1, successes + int(success))
            return variant_result(variant, *s.counts[test_id, variant])
        return self._apply(change)

    def ab_test_results(self, test_id: str) -> ABTestResults:
        inputs.check("ab_test_results").text("test_id", test_id)

        def look(s: State) -> ABTestResults:
            test = RULES.found("ab_test_results", s.tests, test_id, "A/B test")
            first, second = (variant_result(name, *s.counts[test_id, name]) for name in test.variants)
            return ABTestResults(test, (first, second), formulas.two_proportion_p_value(
                first.successes, first.trials, second.successes, second.trials))
        return self._read(look)

    def finalize_ab_test(self, test_id: str, winner: str, confidence: float,
                         at: datetime) -> ABTest:
        test_id, winner, confidence, at = inputs.finalization(test_id, winner, confidence, at)
        operation = "finalize_ab_test"

        def change(s: State) -> ABTest:
            test = self._variant(s, test_id, winner, operation)
            if test.finalized_at is not None:
                raise Conflict(SPEC, operation, "the test is finalized already", test_id)
            RULES.check(operation, "confidence BETWEEN 0 AND 1", in_range(confidence, 0, 1),
                   confidence)
            RULES.check(operation, "finalized_at >= started_at", at >= test.started_at, at)
            s.tests[test_id] = replace(test, winner=winner, confidence=confidence,
                                       finalized_at=at)
            return s.tests[test_id]
        return self._apply(change)


def variant_result(variant: str, trials: int, successes: int) -> VariantResult:
    return VariantResult(variant, trials, successes, formulas.share(successes, trials))


def runs_newest_first(runs: Iterable[TrainingRun],
                       model_type: str | None) -> list[TrainingRun]:
    """``started_at`` desc, then id asc: two stable sorts, the minor key first."""
    chosen = sorted((r for r in runs if model_type is None or r.model_type == model_type),
                    key=lambda r: r.id)
    return sorted(chosen, key=lambda r: r.started_at, reverse=True)
