"""The ``telemetry`` model: the spec's rules over plain dictionaries, obviously correct."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    EXPORT_COLUMNS,
    FEEDBACK_CATEGORIES,
    FEEDBACK_TYPES,
    QUERY_TYPES,
    SPEC,
    ABTest,
    ABTestResults,
    AggregatedMetrics,
    AnonymizedQuery,
    DailyAggregate,
    DeletedRows,
    ExportRow,
    FeatureVector,
    FeedbackEvent,
    LabeledSample,
    ModelComparison,
    ModelPerformance,
    NewABTest,
    NewFeatureVector,
    NewFeedbackEvent,
    NewPrediction,
    NewQueryEvent,
    NewSession,
    NewTraceEvent,
    NewTrainingRun,
    Prediction,
    QueryEvent,
    RunCursor,
    RunPage,
    SampleCursor,
    SamplePage,
    Session,
    SessionActivity,
    SimilarQuery,
    TraceEvent,
    TrainingDataExport,
    TrainingMetrics,
    TrainingRun,
    VariantResult,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore
from storecheck.reference_impl.memory.rules import Rules

RULES = Rules(SPEC)
_check = RULES.check
_parent = RULES.parent
_found = RULES.found


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


def _in_range(value: float | None, low: float, high: float) -> bool:
    return value is None or low <= value <= high


def _non_negative(operation: str, **values: int | float | None) -> None:
    for name, value in values.items():
        _check(operation, f"{name} >= 0", value is None or value >= 0, value)


def _unique(operation: str, table: dict[K, V], key: K) -> None:
    if key in table:
        raise ConstraintViolation(SPEC, operation, ConstraintKind.UNIQUE, "duplicate id", key)


def _oldest_first(rows: Iterable[V], key: Callable[[V], tuple[object, ...]]) -> tuple[V, ...]:
    return tuple(sorted(rows, key=key))


def _none_first(value: float | None) -> tuple[bool, float]:
    return (value is not None, 0.0 if value is None else value)


class MemoryTelemetry(MemoryStore[State]):
    """Implements :class:`~storecheck.conformance.specs.telemetry.TelemetryStore`."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- sessions and events -----------------------------------------------------------

    def create_session(self, new: NewSession) -> Session:
        new = inputs.new_session(new)

        def change(s: State) -> Session:
            _check("create_session", "id <> ''", new.id != "", new.id)
            _unique("create_session", s.sessions, new.id)
            s.sessions[new.id] = Session(new.id, new.started_at, None, None, new.profile,
                                         new.client_version, new.os_family)
            return s.sessions[new.id]
        return self._apply(change)

    def end_session(self, session_id: str, at: datetime) -> Session:
        v = inputs.check("end_session")
        session_id, at = v.text("session_id", session_id), v.timestamp("at", at)

        def change(s: State) -> Session:
            session = _found("end_session", s.sessions, session_id, "session")
            if session.ended_at is not None:
                raise Conflict(SPEC, "end_session", "the session has ended", session_id)
            _check("end_session", "ended_at >= started_at", at >= session.started_at, at)
            s.sessions[session_id] = replace(
                session, ended_at=at,
                duration_ms=(at - session.started_at) // timedelta(milliseconds=1))
            return s.sessions[session_id]
        return self._apply(change)

    def get_session(self, session_id: str) -> Session:
        inputs.check("get_session").text("session_id", session_id)
        return self._read(lambda s: _found("get_session", s.sessions, session_id, "session"))

    def record_query(self, new: NewQueryEvent) -> QueryEvent:
        new = inputs.new_query(new)
        operation = "record_query"

        def change(s: State) -> QueryEvent:
            _check(operation, "id <> ''", new.id != "", new.id)
            _check(operation, "query_type IN QUERY_TYPES", new.query_type in QUERY_TYPES,
                   new.query_type)
            _non_negative(operation, latency_ms=new.latency_ms, tool_calls=new.tool_calls,
                          retrieval_count=new.retrieval_count, result_count=new.result_count)
            _check(operation, "result_quality_score BETWEEN 0 AND 1",
                   _in_range(new.result_quality_score, 0, 1), new.result_quality_score)
            _check(operation, "error_category <> ''", new.error_category != "",
                   new.error_category)
            _unique(operation, s.queries, new.id)
            _parent(operation, s.sessions, new.session_id, "session_id")
            s.queries[new.id] = QueryEvent(
                new.id, new.session_id, new.timestamp, formulas.query_hash(new.query_text),
                len(new.query_text), new.query_type, new.latency_ms, new.tool_calls,
                new.retrieval_count, new.result_count, new.result_quality_score,
                new.error_category, new.profile_used, new.tools_used_json)
            return s.queries[new.id]
        return self._apply(change)

    def record_feedback(self, new: NewFeedbackEvent) -> FeedbackEvent:
        new = inputs.new_feedback(new)
        operation = "record_feedback"

        def change(s: State) -> FeedbackEvent:
            _check(operation, "id <> ''", new.id != "", new.id)
            _check(operation, "feedback_type IN FEEDBACK_TYPES",
                   new.feedback_type in FEEDBACK_TYPES, new.feedback_type)
            _check(operation, "rating BETWEEN 1 AND 5", _in_range(new.rating, 1, 5), new.rating)
            _check(operation, "category IN FEEDBACK_CATEGORIES",
                   new.category is None or new.category in FEEDBACK_CATEGORIES, new.category)
            _unique(operation, s.feedback, new.id)
            _parent(operation, s.sessions, new.session_id, "session_id")
            _parent(operation, s.queries, new.query_id, "query_id")
            s.feedback[new.id] = FeedbackEvent(
                new.id, new.session_id, new.timestamp, new.feedback_type, new.query_id,
                new.rating, new.category, new.context_hash)
            return s.feedback[new.id]
        return self._apply(change)

    def record_trace(self, new: NewTraceEvent) -> TraceEvent:
        new = inputs.new_trace(new)
        operation = "record_trace"

        def change(s: State) -> TraceEvent:
            _check(operation, "id <> ''", new.id != "", new.id)
            _check(operation, "thinktool_name <> ''", new.thinktool_name != "",
                   new.thinktool_name)
            _non_negative(operation, step_count=new.step_count, total_ms=new.total_ms,
                          depth_score=new.depth_score)
            _check(operation, "coherence_score BETWEEN 0 AND 1",
                   _in_range(new.coherence_score, 0, 1), new.coherence_score)
            _unique(operation, s.traces, new.id)
            _parent(operation, s.sessions, new.session_id, "session_id")
            _parent(operation, s.queries, new.query_id, "query_id")
            s.traces[new.id] = TraceEvent(
                new.id, new.session_id, new.timestamp, new.thinktool_name, new.step_count,
                new.total_ms, new.query_id, new.coherence_score, new.depth_score,
                new.step_types_json)
            return s.traces[new.id]
        return self._apply(change)

    def session_activity(self, session_id: str) -> SessionActivity:
        inputs.check("session_activity").text("session_id", session_id)

        def look(s: State) -> SessionActivity:
            _found("session_activity", s.sessions, session_id, "session")
            return SessionActivity(
                _oldest_first((q for q in s.queries.values() if q.session_id == session_id),
                              lambda q: (q.timestamp, q.id)),
                _oldest_first((f for f in s.feedback.values() if f.session_id == session_id),
                              lambda f: (f.timestamp, f.id)),
                _oldest_first((t for t in s.traces.values() if t.session_id == session_id),
                              lambda t: (t.timestamp, t.id)))
        return self._read(look)

    @staticmethod
    def _delete(s: State, doomed: set[str]) -> DeletedRows:
        queries = {q.id for q in s.queries.values() if q.session_id in doomed}
        vectors = [i for i, v in s.vectors.items() if v.query_id in queries]
        feedback = [i for i, f in s.feedback.items()
                    if f.session_id in doomed or f.query_id in queries]
        traces = [i for i, t in s.traces.items()
                  if t.session_id in doomed or t.query_id in queries]
        for vector_id in vectors:
            del s.vectors[vector_id]
        for events, keys in ((s.feedback, feedback), (s.traces, traces)):
            for key in keys:
                del events[key]
        for query_id in queries:
            del s.queries[query_id]
        for session_id in doomed:
            del s.sessions[session_id]
        return DeletedRows(len(doomed), len(queries), len(feedback), len(traces), len(vectors))

    def delete_session(self, session_id: str) -> DeletedRows:
        inputs.check("delete_session").text("session_id", session_id)

        def change(s: State) -> DeletedRows:
            _found("delete_session", s.sessions, session_id, "session")
            return self._delete(s, {session_id})
        return self._apply(change)

    def prune_old_data(self, before: datetime) -> DeletedRows:
        cutoff = inputs.check("prune_old_data").timestamp("before", before)
        return self._apply(lambda s: self._delete(s, {
            session.id for session in s.sessions.values()
            if session.ended_at is not None and session.ended_at < cutoff}))

    # -- aggregates ----------------------------------------------------------------------

    @staticmethod
    def _metrics(s: State, start: datetime, end: datetime) -> AggregatedMetrics:
        queries = [q for q in s.queries.values() if start <= q.timestamp < end]
        feedback = [f for f in s.feedback.values() if start <= f.timestamp < end]
        latencies = [q.latency_ms for q in queries]
        return AggregatedMetrics(
            len(queries), len(feedback), formulas.share(sum(latencies), len(latencies)),
            formulas.nearest_rank(latencies, 50), formulas.nearest_rank(latencies, 95),
            formulas.nearest_rank(latencies, 99),
            formulas.share(sum(1 for q in queries if q.error_category is not None),
                           len(queries)),
            formulas.share(sum(1 for f in feedback if f.feedback_type == "thumbs_up"),
                           len(feedback)),
            dict(Counter(q.query_type for q in queries)))

    def aggregated_metrics(self, start: datetime, end: datetime) -> AggregatedMetrics:
        start, end = inputs.window("aggregated_metrics", start, end)
        return self._read(lambda s: self._metrics(s, start, end))

    def batch_update_aggregates(self, days: Sequence[date]) -> list[DailyAggregate]:
        checked = inputs.days(days)

        def change(s: State) -> list[DailyAggregate]:
            computed = []
            for day in checked:
                start = inputs.day_start(day)
                s.aggregates[day] = self._metrics(s, start, start + timedelta(days=1))
                computed.append(DailyAggregate(day, s.aggregates[day]))
            return computed
        return self._apply(change)

    def daily_aggregates(self, first: date, last: date) -> list[DailyAggregate]:
        first, last = inputs.day_range(first, last)
        return self._read(lambda s: [DailyAggregate(day, metrics)
                                     for day, metrics in sorted(s.aggregates.items())
                                     if first <= day <= last])

    def _export_rows(self, s: State, keep: Callable[[QueryEvent], bool]) -> list[ExportRow]:
        found: list[ExportRow] = []
        for q in sorted(s.queries.values(), key=lambda q: (q.timestamp, q.id)):
            if not keep(q):
                continue
            about = [f for f in s.feedback.values() if f.query_id == q.id]
            ratings = [f.rating for f in about if f.rating is not None]
            found.append((
                q.id, q.session_id, q.timestamp, q.query_type, q.query_length, q.latency_ms,
                q.tool_calls, q.retrieval_count, q.result_count, q.result_quality_score,
                q.error_category is not None,
                sum(1 for f in about if f.feedback_type == "thumbs_up"),
                sum(1 for f in about if f.feedback_type == "thumbs_down"),
                formulas.share(sum(ratings), len(ratings))))
        return found

    def export_anonymized(self, start: datetime, end: datetime) -> list[AnonymizedQuery]:
        start, end = inputs.window("export_anonymized", start, end)

        def look(s: State) -> list[AnonymizedQuery]:
            found = [AnonymizedQuery(row[2].date(), row[3], row[4], row[5], row[6], row[9],
                                     row[10], row[11], row[12])
                     for row in self._export_rows(s, lambda q: start <= q.timestamp < end)]
            return sorted(found, key=lambda a: (
                a.day, a.query_type, a.query_length, a.latency_ms, a.tool_calls,
                _none_first(a.result_quality_score), a.error_occurred, a.thumbs_up,
                a.thumbs_down))
        return self._read(look)

    def export_training_data(self, start: datetime, end: datetime,
                             format: str) -> TrainingDataExport:
        start, end, format = inputs.export(start, end, format)
        renderers: dict[str, Callable[[Sequence[str], Sequence[Sequence[object]]], bytes]] = {
            "csv": formulas.export_csv, "jsonl": formulas.export_jsonl,
            "csv-spreadsheet": partial(formulas.export_csv, for_spreadsheets=True)}
        render = renderers[format]

        def look(s: State) -> TrainingDataExport:
            rows = self._export_rows(s, lambda q: start <= q.timestamp <= end)
            return TrainingDataExport(format, len(rows), render(EXPORT_COLUMNS, rows))
        return self._read(look)

    def get_labeled_samples(self, limit: int | None) -> list[LabeledSample]:
        limit = inputs.check("get_labeled_samples").optional_limit(limit)
        return self._read(lambda s: [sample for _, sample in _labeled_newest_first(s)][:limit])

    def labeled_samples_page(self, limit: int,
                             after: SampleCursor | None = None) -> SamplePage:
        limit, after = inputs.samples_page(limit, after)

        def look(s: State) -> SamplePage:
            rest = [(q, sample) for q, sample in _labeled_newest_first(s) if after is None
                    or (q.timestamp, q.id) < (after.timestamp, after.query_id)]
            if len(rest) <= limit:
                return SamplePage(tuple(sample for _, sample in rest), None)
            last, _ = rest[limit - 1]
            return SamplePage(tuple(sample for _, sample in rest[:limit]),
                              SampleCursor(last.timestamp, last.id))
        return self._read(look)

    # -- training runs -------------------------------------------------------------------

    def insert_training_run(self, new: NewTrainingRun) -> TrainingRun:
        new = inputs.new_run(new)
        operation = "insert_training_run"

        def change(s: State) -> TrainingRun:
            for name in ("id", "model_type", "model_version"):
                _check(operation, f"{name} <> ''", getattr(new, name) != "", getattr(new, name))
            _unique(operation, s.runs, new.id)
            s.runs[new.id] = TrainingRun(new.id, new.model_type, new.model_version, "running",
                                         new.started_at, None, new.hyperparameters_json, None,
                                         None, None, None)
            return s.runs[new.id]
        return self._apply(change)

    def get_training_run(self, run_id: str) -> TrainingRun:
        inputs.check("get_training_run").text("run_id", run_id)
        return self._read(lambda s: _found("get_training_run", s.runs, run_id, "training run"))

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        model_type, limit = inputs.run_filter(model_type, limit)
        return self._read(lambda s: _runs_newest_first(s.runs.values(), model_type)[:limit])

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        model_type, limit, after = inputs.runs_page(model_type, limit, after)

        def look(s: State) -> RunPage:
            rest = [r for r in _runs_newest_first(s.runs.values(), model_type)
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
            run = _found(operation, s.runs, run_id, "training run")
            if run.status != "running":
                raise Conflict(SPEC, operation, f"the run is {run.status}, not running", run_id)
            _check(operation, "completed_at >= started_at",
                   metrics.completed_at >= run.started_at, metrics.completed_at)
            _check(operation, "accuracy BETWEEN 0 AND 1", _in_range(metrics.accuracy, 0, 1),
                   metrics.accuracy)
            _check(operation, "loss >= 0", metrics.loss is None or metrics.loss >= 0,
                   metrics.loss)
            _check(operation, "f1_score BETWEEN 0 AND 1", _in_range(metrics.f1_score, 0, 1),
                   metrics.f1_score)
            _non_negative(operation, sample_count=metrics.sample_count)
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
            _check(operation, "feature_set <> ''", new.feature_set != "", new.feature_set)
            _parent(operation, s.queries, new.query_id, "query_id")
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
        _check(operation, "id <> ''", new.id != "", new.id)
        _check(operation, "confidence BETWEEN 0 AND 1", _in_range(new.confidence, 0, 1),
               new.confidence)
        _unique(operation, s.predictions, new.id)
        _parent(operation, s.runs, new.run_id, "run_id")
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
            found = _found("update_prediction_ground_truth", s.predictions, prediction_id,
                           "prediction")
            s.predictions[prediction_id] = replace(
                found, actual_value=actual_value,
                is_correct=found.predicted_value == actual_value)
            return s.predictions[prediction_id]
        return self._apply(change)

    def predictions_for_run(self, run_id: str) -> list[Prediction]:
        inputs.check("predictions_for_run").text("run_id", run_id)

        def look(s: State) -> list[Prediction]:
            _found("predictions_for_run", s.runs, run_id, "training run")
            return sorted((p for p in s.predictions.values() if p.run_id == run_id),
                          key=lambda p: (p.predicted_at, p.id))
        return self._read(look)

    def calculate_model_accuracy(self, run_id: str) -> float | None:
        inputs.check("calculate_model_accuracy").text("run_id", run_id)

        def look(s: State) -> float | None:
            _found("calculate_model_accuracy", s.runs, run_id, "training run")
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
            _check(operation, "id <> ''", new.id != "", new.id)
            _check(operation, "name <> ''", new.name != "", new.name)
            for name in new.variants:
                _check(operation, "variant <> ''", name != "", name)
            _unique(operation, s.tests, new.id)
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
        test = _found(operation, s.tests, test_id, "A/B test")
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
            return _result(variant, *s.counts[test_id, variant])
        return self._apply(change)

    def ab_test_results(self, test_id: str) -> ABTestResults:
        inputs.check("ab_test_results").text("test_id", test_id)

        def look(s: State) -> ABTestResults:
            test = _found("ab_test_results", s.tests, test_id, "A/B test")
            first, second = (_result(name, *s.counts[test_id, name]) for name in test.variants)
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
            _check(operation, "confidence BETWEEN 0 AND 1", _in_range(confidence, 0, 1),
                   confidence)
            _check(operation, "finalized_at >= started_at", at >= test.started_at, at)
            s.tests[test_id] = replace(test, winner=winner, confidence=confidence,
                                       finalized_at=at)
            return s.tests[test_id]
        return self._apply(change)


def _result(variant: str, trials: int, successes: int) -> VariantResult:
    return VariantResult(variant, trials, successes, formulas.share(successes, trials))


def _runs_newest_first(runs: Iterable[TrainingRun],
                       model_type: str | None) -> list[TrainingRun]:
    """``started_at`` desc, then id asc: two stable sorts, the minor key first."""
    chosen = sorted((r for r in runs if model_type is None or r.model_type == model_type),
                    key=lambda r: r.id)
    return sorted(chosen, key=lambda r: r.started_at, reverse=True)


def _labeled_newest_first(s: State) -> list[tuple[QueryEvent, LabeledSample]]:
    """Each query with thumbs feedback and its sample, labelled by its latest thumbs (time,
    then id), the query's ``timestamp`` desc, then its id desc."""
    found = []
    for q in sorted(s.queries.values(), key=lambda q: (q.timestamp, q.id), reverse=True):
        thumbs = [f for f in s.feedback.values() if f.query_id == q.id
                  and f.feedback_type in ("thumbs_up", "thumbs_down")]
        if thumbs:
            latest = max(thumbs, key=lambda f: (f.timestamp, f.id))
            found.append((q, LabeledSample(q.id, q.query_type, q.query_length, q.latency_ms,
                                           q.result_quality_score,
                                           latest.feedback_type == "thumbs_up")))
    return found
