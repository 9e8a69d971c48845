"""``model``: random operation sequences against the telemetry model, every result compared.

The pools are small on purpose (four sessions, four queries, three runs, two
A/B tests, ids that differ only in case), the instants straddle midnight UTC at
any offset, and every example starts from rows that reach the edges: a day
that ends on a query, feedback naming a query of another session, a vector
and its scaled copy, a labelled and an unlabelled prediction, a finalized test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from storecheck.conformance import reach
from storecheck.conformance.checks import every_page
from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs import telemetry as spec_module
from storecheck.conformance.specs.telemetry import (
    EXPORT_FORMATS,
    SPEC,
    STORE_ASSIGNED_IDS,
    NewABTest,
    NewFeatureVector,
    NewFeedbackEvent,
    NewPrediction,
    NewQueryEvent,
    NewSession,
    NewTraceEvent,
    NewTrainingRun,
    RunCursor,
    SampleCursor,
    TrainingMetrics,
)
from storecheck.conformance.stateful import ComparingMachine, after_changes, run_machine
from storecheck.fixtures.telemetry import (
    DAYS,
    MICRO,
    MODEL_TYPES,
    MODEL_VERSIONS,
    PREDICTIONS,
    QUERIES,
    RUNS,
    SESSIONS,
    T0,
    TESTS,
    VALUES,
    VARIANTS,
    ab_tests,
    embeddings,
    feedback,
    few_times,
    predictions,
    queries,
    runs,
    sessions,
    traces,
    training_metrics,
    vectors,
)
from storecheck.fixtures.values import OFFSETS_MINUTES
from storecheck.reference_impl.memory.telemetry import MemoryTelemetry

pytestmark = pytest.mark.model
session_ids = st.sampled_from((*SESSIONS, "s-nobody"))
limits = st.integers(1, 3) | st.sampled_from((0, 1000, 1001))
days = st.sampled_from((*DAYS, DAYS[0] - timedelta(days=1)))


def _hostile_export(format: str, call: reach.Call) -> bool:
    return (call.succeeded and call.arguments["format"] == format
            and max(call.result.content, default=0) > 0x7F and b'"' in call.result.content)


SITUATIONS = (
    *reach.derived(spec_module),
    reach.tie("list_training_runs", "started_at"),
    reach.tie_across_pages("training_runs_page", "started_at", items=lambda page: page.items),
    reach.sometimes("labeled_samples_page: a page that is not the first and not the last",
                    "labeled_samples_page", lambda c: c.succeeded
                    and c.arguments.get("after") is not None and c.result.next_cursor is not None),
    reach.tie("predictions_for_run", "predicted_at"),
    reach.tie("find_similar_queries", "similarity"),
    *(reach.tie("session_activity", "timestamp", within=attrgetter(kind), what=kind)
      for kind in ("queries", "feedback", "traces")),
    reach.sometimes("ab_test_results: a variant whose every trial succeeded", "ab_test_results",
                    lambda c: c.succeeded and any(v.trials and v.successes == v.trials
                                                  for v in c.result.variants)),
    reach.sometimes("ab_test_results: a variant with trials and no success", "ab_test_results",
                    lambda c: c.succeeded and any(v.trials and not v.successes
                                                  for v in c.result.variants)),
    reach.sometimes("ab_test_results: no p-value (a table without variance)", "ab_test_results",
                    lambda c: c.succeeded and c.result.p_value is None),
    reach.sometimes("ab_test_results: a p-value", "ab_test_results",
                    lambda c: c.succeeded and c.result.p_value is not None),
    reach.sometimes("calculate_model_accuracy: no labelled prediction", "calculate_model_accuracy",
                    lambda c: c.succeeded and c.result is None),
    reach.sometimes("calculate_model_accuracy: every labelled prediction right",
                    "calculate_model_accuracy", lambda c: c.succeeded and c.result == 1.0),
    reach.sometimes("aggregated_metrics: a window of one query (every percentile that query)",
                    "aggregated_metrics", lambda c: c.succeeded and c.result.query_count == 1),
    reach.sometimes("aggregated_metrics: an empty window", "aggregated_metrics",
                    lambda c: c.succeeded and c.result.query_count == 0),
    *(reach.sometimes(f"export_training_data: {format} holding non-ASCII text and a quote",
                      "export_training_data", partial(_hostile_export, format))
      for format in EXPORT_FORMATS),
    reach.sometimes("export_training_data: csv-spreadsheet defusing a cell that starts like a "
                    "formula", "export_training_data",
                    lambda c: c.succeeded and c.arguments["format"] == "csv-spreadsheet"
                    and b"'@SUM(1)" in c.result.content),
    reach.sometimes("export_training_data: jsonl escaping a line separator", "export_training_data",
                    lambda c: c.succeeded and c.arguments["format"] == "jsonl"
                    and b"\\u2028" in c.result.content),
    reach.sometimes("export_training_data: a row before the year 1000", "export_training_data",
                    lambda c: c.succeeded and c.arguments["start"].year < 1000
                    and c.result.row_count > 0),
)
"""Beyond what the spec module tells (:func:`reach.derived`): its orders' ties, its
statistics at their degenerate inputs, hostile text and four-digit years in both exports."""


def build_machine(backend: Any, workdir: Path) -> type[ComparingMachine]:
    class TelemetryMachine(ComparingMachine):
        spec = SPEC
        assigned = STORE_ASSIGNED_IDS
        make_model = MemoryTelemetry

        def call(self, operation: str, *args: Any) -> None:
            self.both(operation, _op(operation, *args))

        @initialize()
        def start(self) -> None:
            """Rows every example starts from, since a drawn rule may never reach them."""
            call = self.call
            call("create_session", NewSession("s-1", T0 - timedelta(hours=2), "quick", "0.4.2",
                                              "linux"))
            call("create_session", NewSession("s-2", T0, "deep"))
            for query_id, session_id, moment, latency, error in (
                    ("q-1", "s-1", T0, 120, None), ("q-2", "s-1", T0 + MICRO, 5, "timeout"),
                    (QUERIES[3], "s-2", T0 - MICRO, 120, None)):
                call("record_query", NewQueryEvent(query_id, session_id, moment, "Hello  World",
                                                   "search", latency, 1, 2, 3, 0.5, error))
            # Feedback naming a query of another session, and two at one instant.
            for feedback_id, session_id, query_id, kind, moment in (
                    ("f-1", "s-2", "q-1", "thumbs_down", T0),
                    ("f-2", "s-1", "q-1", "thumbs_up", T0),
                    ("f-3", "s-1", QUERIES[3], "thumbs_up", T0 + MICRO)):
                call("record_feedback", NewFeedbackEvent(feedback_id, session_id, moment, kind,
                                                         query_id, rating=4))
            call("record_trace", NewTraceEvent("t-1", "s-2", T0, "GigaThink", 3, 250, "q-2",
                                               0.75))
            call("end_session", "s-1", T0 + timedelta(hours=1))
            call("end_session", "s-1", T0 + timedelta(hours=2))
            # A duration that is not a whole number of milliseconds: it is rounded down.
            call("create_session", NewSession(SESSIONS[3], T0))
            call("end_session", SESSIONS[3], T0 + timedelta(milliseconds=5, microseconds=999))
            for query_id, vector in (("q-1", (1.0, 0.0, 0.0)), ("q-2", (2.0, 0.0, 0.0)),
                                     (QUERIES[3], (0.1, 0.2, 0.3))):
                call("insert_feature_vector",
                     NewFeatureVector(query_id, "query_embedding", vector, T0))
            call("find_similar_queries", (1.0, 0.1, 0.0), 2)
            # The store's dimension is 3 now: a vector or a search of another is refused.
            call("insert_feature_vector", NewFeatureVector("q-1", "query_embedding", (1.0, 0.0),
                                                           T0))
            call("find_similar_queries", (1.0, 0.1, 0.0, 0.0), 2)
            call("insert_training_run", NewTrainingRun("run-1", "router", "v1", T0))
            for prediction_id, value in (("p-1", "yes"), ("p-2", "no"), ("p-3", "yes")):
                call("insert_prediction", NewPrediction(prediction_id, "run-1", value, 0.75, T0))
            call("update_prediction_ground_truth", "p-1", "yes")
            call("update_prediction_ground_truth", "p-2", "yes")
            call("calculate_model_accuracy", "run-1")
            # A second version's run, completed and then updated again: a Conflict.
            call("insert_training_run", NewTrainingRun("run-2", "ranker", "v2", T0 - MICRO,
                                                       '{"lr": 0.001}'))
            for status in ("completed", "failed"):
                call("update_training_run_results", "run-2",
                     TrainingMetrics(status, T0 + MICRO, 0.8, 0.25, 0.5, 100))
            call("compare_models", "v1", "v2")
            call("create_ab_test", NewABTest("ab-1", "button colour", ("control", "treatment"),
                                             T0))
            for variant, success in (("control", True), ("control", False), ("control", False),
                                     ("treatment", True), ("treatment", True)):
                call("record_ab_result", "ab-1", variant, success)
            call("ab_test_results", "ab-1")
            for winner in ("Treatment", "treatment", "control"):
                call("finalize_ab_test", "ab-1", winner, 0.9, T0 + timedelta(days=1))
            call("record_ab_result", "ab-1", "control", True)
            # Ties in every order a read states: a run, a query, a feedback and a trace at
            # the instant of one already stored in the same list.
            call("insert_training_run", NewTrainingRun("run-tied", "router", "v1", T0))
            call("record_query", NewQueryEvent("q-tied", "s-1", T0, "x", "code", 7))
            # Latest by id among q-1's three at T0, and not the first's label: a label taken
            # from the first feedback differs.
            call("record_feedback", NewFeedbackEvent("f-tied", "s-1", T0, "thumbs_up", "q-1"))
            call("record_trace", NewTraceEvent("t-tied", "s-2", T0, "GigaThink", 1, 10))
            # A run whose every labelled prediction is right; a test whose control never
            # succeeds while its treatment always does.
            call("insert_prediction", NewPrediction("p-tied", "run-tied", "yes", 0.5, T0))
            call("update_prediction_ground_truth", "p-tied", "yes")
            call("calculate_model_accuracy", "run-tied")
            call("create_ab_test", NewABTest("ab-2", "copy", ("control", "treatment"), T0))
            call("ab_test_results", "ab-2")
            for variant, success in (("control", False), ("control", False),
                                     ("treatment", True)):
                call("record_ab_result", "ab-2", variant, success)
            call("ab_test_results", "ab-2")
            # Every other write once, so that the rules doing each write again find one.
            call("batch_insert_feature_vectors", [
                NewFeatureVector("q-2", "query_embedding", (0.0, 1.0, 0.0), T0),
                NewFeatureVector(QUERIES[3], "other_set", (0.1, 0.2, 0.3), T0 + MICRO)])
            call("batch_update_aggregates", [DAYS[0]])
            # A prediction batch stored whole, then one whose second use of an id refuses it.
            call("batch_insert_predictions", [
                NewPrediction("p-batch", "run-1", "no", 0.25, T0 + MICRO),
                NewPrediction("p-batch-2", "run-tied", "yes", 1.0, T0)])
            call("batch_insert_predictions", [
                NewPrediction("p-batch-3", "run-1", "no", 0.25, T0),
                NewPrediction("p-batch-3", "run-1", "yes", 0.5, T0)])
            call("create_session", NewSession("s-gone", T0))
            call("delete_session", "s-gone")
            call("prune_old_data", T0 - timedelta(days=400))
            # A hostile query id in both renderings, and an instant before the year 1000,
            # whose year the export still spells with four digits.
            ancient = datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
            call("create_session", NewSession("s-ancient", ancient))
            call("record_query", NewQueryEvent("q-ancient", "s-ancient", ancient, "x", "code", 1))
            # A query id a spreadsheet would run, in the same window.
            call("record_query", NewQueryEvent("@SUM(1)", "s-ancient", ancient, "x", "code", 1))
            for format in EXPORT_FORMATS:
                call("export_training_data", T0 - MICRO, T0, format)
                call("export_training_data", ancient, ancient, format)
            call("get_labeled_samples", 10)
            call("get_labeled_samples", None)
            call("list_training_runs", None, None)
            # Every run and every sample in pages of one and two (a page boundary between
            # the two runs, and the two labelled queries, tied at T0), and a page after each
            # one's place at T0 and a microsecond either side (a place no row holds still
            # is one).
            call("record_feedback", NewFeedbackEvent("f-page-1", "s-1", T0, "thumbs_down",
                                                     "q-tied"))
            call("record_feedback", NewFeedbackEvent("f-page-2", "s-1", T0, "thumbs_up", "q-2"))
            for limit in (1, 2):
                self.both("training_runs_page", partial(_every_runs_page, model_type=None,
                                                        limit=limit, offset=-300))
                self.both("labeled_samples_page", partial(_every_samples_page, limit=limit,
                                                          offset=330))
            self.both("training_runs_page", partial(_every_runs_page, model_type="router",
                                                    limit=1, offset=0))
            for edge in (-MICRO, timedelta(0), MICRO):
                call("training_runs_page", None, 1, RunCursor(T0 + edge, "run-1"))
                call("labeled_samples_page", 1, SampleCursor(T0 + edge, "q-tied"))
            # Every window's ends at a stored instant and a microsecond either side, and an
            # empty one (its end not after its start).
            for edge in (-MICRO, timedelta(0), MICRO):
                call("aggregated_metrics", T0 + edge, T0 + 2 * MICRO)
                call("export_anonymized", T0 + edge, T0 + edge + MICRO)
            call("aggregated_metrics", T0, T0)
            call("export_training_data", T0 + MICRO, T0 + MICRO, "csv")
            # Windows ending inside a day and on its last microsecond, percentiles with ties.
            call("aggregated_metrics", T0 - timedelta(hours=1), T0)
            call("aggregated_metrics", T0 - timedelta(hours=1), T0 + timedelta(days=1))

        @rule(new=sessions)
        def create_session(self, new: NewSession) -> None:
            self.both("create_session", lambda s, _: s.create_session(new))

        @rule(session_id=session_ids, at=few_times)
        def end_session(self, session_id: str, at: Any) -> None:
            self.both("end_session", lambda s, _: s.end_session(session_id, at))

        @rule(new=queries)
        def record_query(self, new: NewQueryEvent) -> None:
            self.both("record_query", lambda s, _: s.record_query(new))

        @rule(new=feedback)
        def record_feedback(self, new: NewFeedbackEvent) -> None:
            self.both("record_feedback", lambda s, _: s.record_feedback(new))

        @rule(new=traces)
        def record_trace(self, new: NewTraceEvent) -> None:
            self.both("record_trace", lambda s, _: s.record_trace(new))

        @rule(session_id=session_ids)
        def delete_session(self, session_id: str) -> None:
            self.both("delete_session", lambda s, _: s.delete_session(session_id))

        @rule(before=few_times)
        def prune_old_data(self, before: Any) -> None:
            self.both("prune_old_data", lambda s, _: s.prune_old_data(before))

        @rule(start=few_times, end=few_times)
        def aggregated_metrics(self, start: Any, end: Any) -> None:
            self.both("aggregated_metrics", lambda s, _: s.aggregated_metrics(start, end))

        @rule(chosen=st.lists(days, max_size=3))
        def batch_update_aggregates(self, chosen: list[Any]) -> None:
            self.both("batch_update_aggregates", lambda s, _: s.batch_update_aggregates(chosen))

        @rule(first=st.sampled_from(DAYS), last=st.sampled_from(DAYS))
        def daily_aggregates(self, first: Any, last: Any) -> None:
            """A range of one day, of several, and reversed (empty)."""
            self.both("daily_aggregates", lambda s, _: s.daily_aggregates(first, last))

        @rule(start=few_times, end=few_times)
        def export_anonymized(self, start: Any, end: Any) -> None:
            self.both("export_anonymized", lambda s, _: s.export_anonymized(start, end))

        @rule(start=few_times, end=few_times, format=st.sampled_from((*EXPORT_FORMATS, "xml")))
        def export_training_data(self, start: Any, end: Any, format: str) -> None:
            self.both("export_training_data",
                      lambda s, _: s.export_training_data(start, end, format))

        @rule(limit=st.none() | limits)
        def get_labeled_samples(self, limit: int | None) -> None:
            self.both("get_labeled_samples", lambda s, _: s.get_labeled_samples(limit))

        @rule(new=runs)
        def insert_training_run(self, new: NewTrainingRun) -> None:
            self.both("insert_training_run", lambda s, _: s.insert_training_run(new))

        @rule(model_type=st.none() | st.sampled_from(MODEL_TYPES), limit=st.none() | limits)
        def list_training_runs(self, model_type: str | None, limit: int | None) -> None:
            self.both("list_training_runs",
                      lambda s, _: s.list_training_runs(model_type, limit))

        @rule(model_type=st.none() | st.sampled_from(MODEL_TYPES), limit=limits,
              offset=st.sampled_from(OFFSETS_MINUTES))
        def training_runs_page(self, model_type: str | None, limit: int, offset: int) -> None:
            """Every page; each cursor handed back at another UTC offset (the same instant)."""
            self.both("training_runs_page", partial(_every_runs_page, model_type=model_type,
                                                    limit=limit, offset=offset))

        @rule(limit=limits, offset=st.sampled_from(OFFSETS_MINUTES))
        def labeled_samples_page(self, limit: int, offset: int) -> None:
            self.both("labeled_samples_page", partial(_every_samples_page, limit=limit,
                                                      offset=offset))

        @rule(run_id=st.sampled_from(RUNS), metrics=training_metrics)
        def update_training_run_results(self, run_id: str, metrics: TrainingMetrics) -> None:
            self.both("update_training_run_results",
                      lambda s, _: s.update_training_run_results(run_id, metrics))

        @rule(new=vectors)
        def insert_feature_vector(self, new: NewFeatureVector) -> None:
            self.both("insert_feature_vector", lambda s, _: s.insert_feature_vector(new))

        @rule(batch=st.lists(vectors, max_size=3))
        def batch_insert_feature_vectors(self, batch: list[NewFeatureVector]) -> None:
            self.both("batch_insert_feature_vectors",
                      lambda s, _: s.batch_insert_feature_vectors(batch))

        @rule(embedding=embeddings, limit=limits)
        def find_similar_queries(self, embedding: tuple[float, ...], limit: int) -> None:
            self.both("find_similar_queries",
                      lambda s, _: s.find_similar_queries(embedding, limit))

        @rule(new=predictions)
        def insert_prediction(self, new: NewPrediction) -> None:
            self.both("insert_prediction", lambda s, _: s.insert_prediction(new))

        @rule(batch=st.lists(predictions, max_size=3))
        def batch_insert_predictions(self, batch: list[NewPrediction]) -> None:
            self.both("batch_insert_predictions", lambda s, _: s.batch_insert_predictions(batch))

        @rule(prediction_id=st.sampled_from(PREDICTIONS), value=st.sampled_from(VALUES))
        def update_prediction_ground_truth(self, prediction_id: str, value: str) -> None:
            self.both("update_prediction_ground_truth",
                      lambda s, _: s.update_prediction_ground_truth(prediction_id, value))

        @rule(version_a=st.sampled_from(MODEL_VERSIONS), version_b=st.sampled_from(MODEL_VERSIONS))
        def compare_models(self, version_a: str, version_b: str) -> None:
            self.both("compare_models", lambda s, _: s.compare_models(version_a, version_b))

        @rule(new=ab_tests)
        def create_ab_test(self, new: NewABTest) -> None:
            self.both("create_ab_test", lambda s, _: s.create_ab_test(new))

        @rule(test_id=st.sampled_from(TESTS), variant=st.sampled_from(VARIANTS),
              success=st.booleans())
        def record_ab_result(self, test_id: str, variant: str, success: bool) -> None:
            self.both("record_ab_result",
                      lambda s, _: s.record_ab_result(test_id, variant, success))

        @rule(test_id=st.sampled_from(TESTS), winner=st.sampled_from(VARIANTS),
              confidence=st.sampled_from((0.95, 1.0, 1.5)), at=few_times)
        def finalize_ab_test(self, test_id: str, winner: str, confidence: float,
                             at: Any) -> None:
            self.both("finalize_ab_test",
                      lambda s, _: s.finalize_ab_test(test_id, winner, confidence, at))

        @invariant()
        @after_changes
        def everything_reads_back_the_same(self) -> None:
            for session_id in SESSIONS:
                self.both("read session", partial(_read_session, session_id=session_id))
            for query_id in QUERIES:
                self.call("feature_vectors_for_query", query_id)
            self.both("read ML tables", lambda s, _: _read_ml(s))
            self.both("daily_aggregates",
                      lambda s, _: s.daily_aggregates(DAYS[0] - timedelta(days=1), DAYS[-1]))

    TelemetryMachine.backend = backend
    TelemetryMachine.workdir = workdir
    return TelemetryMachine


def _or_none(call: Any) -> Any:
    try:
        return call()
    except NotFound:
        return None


def _op(operation: str, *args: Any) -> Callable[[Any, bool], Any]:
    """The call of ``operation`` with ``args``, on the store and on the model alike."""
    return lambda store, _: getattr(store, operation)(*args)


def _every_runs_page(store: Any, backend_side: bool, model_type: str | None, limit: int,
                     offset: int) -> Any:
    return every_page(partial(store.training_runs_page, model_type, limit),
                      offset_minutes=offset, limit=50)


def _every_samples_page(store: Any, backend_side: bool, limit: int, offset: int) -> Any:
    return every_page(partial(store.labeled_samples_page, limit), offset_minutes=offset,
                      limit=50)


def _read_session(store: Any, backend_side: bool, session_id: str) -> Any:
    return (_or_none(lambda: store.get_session(session_id)),
            _or_none(lambda: store.session_activity(session_id)))


def _read_ml(store: Any) -> Any:
    """Every run with its predictions and accuracy, every version's performance, every test."""
    return (store.list_training_runs(None, 1000),
            [(_or_none(lambda r=run_id: store.get_training_run(r)),
              _or_none(lambda r=run_id: store.predictions_for_run(r)),
              _or_none(lambda r=run_id: store.calculate_model_accuracy(r))) for run_id in RUNS],
            [_or_none(lambda v=version: store.get_model_performance(v))
             for version in MODEL_VERSIONS],
            [_or_none(lambda t=test_id: store.ab_test_results(t)) for test_id in TESTS])


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    run_machine(build_machine(backend.backend, tmp_path), store_profile)
