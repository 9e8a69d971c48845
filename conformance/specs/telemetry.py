"""Spec ``telemetry``: the ML telemetry store of seed 000 ("RALL").

A command-line reasoning tool records, per session, its query, feedback and
reasoning-trace events (never the query text itself), aggregates them per day,
and keeps what its learning loop needs: training runs, feature vectors with a
similarity search, predictions scored against ground truth, and A/B tests.  The
core tables are those of the real store's public schema; the ML tables follow
the seed's operations (their plan document is not a seed), with each decision
written below.  Rules beyond the records' types:

* Time is always passed in, timezone-aware, and returned in UTC with
  microseconds; instants compare as instants (never as text).  Ids of sessions,
  events, runs, predictions and A/B tests are the caller's (the seed uses
  UUIDs); feature vector ids are the store's, increasing in creation order.
* Privacy: a query's text is never stored.  The store keeps
  :func:`query_hash` of it (SHA-256 of the UTF-8 text lower-cased with
  ``str.lower``, its runs of whitespace, as ``str.isspace`` knows it, made one
  space and trimmed) and its length in characters.
  :meth:`TelemetryStore.export_anonymized` drops every id, hash, profile,
  client version, OS, tool name, error category and context hash, and keeps of
  the time only the UTC day (:class:`AnonymizedQuery`).
* Events: ``session_activity`` lists a session's queries, feedback and traces,
  each oldest first (``timestamp``, then ``id``).  A feedback or trace may name
  a query of any session.  ``delete_session`` removes, in one transaction, the
  session, its queries, and every feedback, trace and feature vector that
  belongs to the session or names one of its queries; the foreign keys are the
  seed's (no cascade), so children go first.
* Aggregates (:func:`nearest_rank`): ``aggregated_metrics(start, end)`` covers
  the queries and feedback with ``start <= timestamp < end`` (a window whose
  end is not after its start is empty, not an error); latency
  percentiles are nearest-rank, the mean is the sum over the count;
  ``positive_feedback_ratio`` is thumbs-up over all feedback in the window.
  ``batch_update_aggregates(days)`` computes each UTC day's metrics and stores
  them (replacing the day's row), all days in one transaction (a day must be
  before 9999-12-31, whose end no instant names: else :class:`ValidationError`);
  ``daily_aggregates(first, last)`` reads the stored rows, days in order.
* Training runs start ``running``; ``update_training_run_results`` moves a
  running run to ``completed`` or ``failed`` with its metrics; any other
  transition is :class:`Conflict`.  ``list_training_runs`` lists
  ``started_at`` desc, then ``id``; ``training_runs_page`` walks the same order in
  keyset pages (:class:`RunCursor`), as ``labeled_samples_page`` walks
  ``get_labeled_samples``' (:class:`SampleCursor`): a page after a cursor holds what
  follows that place in the order, whether or not a row holds the place, and its
  ``next_cursor`` is set exactly when more rows follow the page.
* Feature vectors: components are finite numbers stored as little-endian
  float32; a vector has 1 to :data:`MAX_DIMENSION` components and is not all
  zeros.  One dimension per store: while a vector is stored, every vector
  stored or searched for must have its dimension (else :class:`ValidationError`);
  once none is (their queries' sessions deleted or pruned), the next vector
  stored sets the dimension afresh.
  ``batch_insert_feature_vectors`` is all or nothing.
  ``find_similar_queries(embedding, limit)`` ranks queries by the best cosine
  similarity (:func:`cosine_similarity`) of any of their vectors, highest
  first, ties by query id, and returns the top ``limit``.
* Predictions: ``batch_insert_predictions`` is all or nothing (the first
  refused prediction's error).  ``update_prediction_ground_truth`` sets the actual value; a
  prediction is correct when its predicted value equals the actual one.
  ``calculate_model_accuracy(run)`` is correct over labelled predictions,
  ``None`` when none is labelled.  ``predictions_for_run`` lists
  ``predicted_at``, then ``id``.
* A/B tests have exactly two distinct variants.  ``record_ab_result`` counts
  one trial (and one success when it succeeded) for a variant; concurrent
  calls never lose one; on a finalized test it is :class:`Conflict`.
  ``ab_test_results`` gives per-variant counts and rates and the p-value of
  :func:`two_proportion_p_value`.  ``finalize_ab_test`` names a winner among
  the variants; finalizing twice is :class:`Conflict`.  A variant the test does
  not have is :class:`NotFound`.
* Exports (:func:`training_data_csv`, :func:`training_data_jsonl`): the rows of
  the seed's ``v_training_data_export`` for ``start <= timestamp <= end`` (both
  ends included), oldest first, byte-exact.  The policy for what a reader could
  misread: ``csv`` and ``jsonl`` keep every value exactly (the seed exports for
  training pipelines, which must get the text as it was); ``csv-spreadsheet``
  puts a ``'`` before each text cell a spreadsheet would run as a formula, on
  request, since it changes the data; ``jsonl`` always escapes U+0085, U+2028 and
  U+2029 (``\\u2028``), which changes no value and keeps line-splitting readers whole.
  ``get_labeled_samples`` holds the queries with thumbs feedback, labelled by
  their latest one.
  ``get_model_performance`` / ``compare_models`` summarise the runs of a model
  version (the seed's ``v_model_performance``); a version with no training run
  is :class:`NotFound` (there is nothing to summarise, not a summary of zeros).
* Two items of the seed's checklist have no operation.  "Feature importance
  queries" (line 60) are named and never described: the store's feature vectors
  are embeddings of queries, with no feature names and no model weights, and no
  table the seed specifies holds what an importance would be computed from, so
  any operation would be this spec's invention, not the seed's.  Parquet
  (line 419, beside CSV and JSON): this spec holds every export to its bytes,
  and a Parquet file's bytes are its writer's (library version in the footer,
  page sizes, encodings, compression), so no rule two implementations could
  both follow byte for byte exists; a Parquet file can be made from the
  ``jsonl`` export, which carries every value exactly.  ``"parquet"`` is an
  unknown format (:class:`ValidationError`).
* Retention: ``prune_old_data(before)`` deletes, in one transaction, every
  session that ended before ``before`` the way ``delete_session`` does;
  running sessions stay; daily aggregates, runs, predictions and tests stay.
* Figures computed with floating point other than plain ratios (similarity,
  p-value) are rounded to :data:`DIGITS` decimal places (Python's ``round``),
  so that every implementation agrees to the bit.  The cosine's dot product and
  squared norms are exact sums of the float32 components' products, each
  rounded once to float64 (as ``math.fsum`` gives them); the cosine is the dot
  over the product of the two norms' square roots.

Errors.  An operation addressing a missing session, run, prediction, test or
variant raises :class:`NotFound`; a query, feedback or trace naming a missing
session or query, a vector naming a missing query, a prediction naming a
missing run: ``ConstraintViolation(FOREIGN_KEY)``; a duplicate id:
``ConstraintViolation(UNIQUE)``; an empty id, name, thinktool name, model type,
model version, feature set, variant or error category (``None`` is no error
category; ``""`` is not one), a value outside an enum (:data:`QUERY_TYPES`,
:data:`FEEDBACK_TYPES`, :data:`FEEDBACK_CATEGORIES`), a rating outside 1..5,
a quality, coherence, accuracy, F1 or confidence figure outside [0, 1], a
negative ``depth_score`` (a depth: any value from 0 up), a negative loss,
count or duration, an end before the start: ``ConstraintViolation(CHECK)``; two equal
variants: ``ConstraintViolation(UNIQUE)``.  A wrong type, a naive instant, NaN or an
infinity, JSON that does not parse or is not a list of strings, a bad
dimension or zero vector, a limit outside 1 to 1,000, an unknown export format:
:class:`ValidationError`.  When one call breaks several rules the first
applies in this order: ValidationError, NotFound, Conflict, CHECK, UNIQUE,
FOREIGN KEY.  A batch of vectors reports the error of its first bad vector (a
later vector's CHECK does not come before an earlier one's FOREIGN KEY).

Threads.  One store object may be shared by any number of threads; ``atomic()``
belongs to the calling thread.  Reads never wait for a writer: while another store
object (another connection or process) holds a write transaction open, every read
answers within a second with the data committed before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final, Protocol

from storecheck.conformance.specs.common import ForeignKey, Operation
from storecheck.conformance.specs.telemetry_formulas import (
    DIGITS as DIGITS,
    EXPORT_COLUMNS as EXPORT_COLUMNS,
    ExportRow as ExportRow,
    cosine_similarity as cosine_similarity,
    nearest_rank as nearest_rank,
    query_hash as query_hash,
    ratio as ratio,
    training_data_csv as training_data_csv,
    training_data_jsonl as training_data_jsonl,
    two_proportion_p_value as two_proportion_p_value,
)
from storecheck.conformance.specs.telemetry_records import (
    ABTest as ABTest,
    ABTestResults as ABTestResults,
    AggregatedMetrics as AggregatedMetrics,
    AnonymizedQuery as AnonymizedQuery,
    DailyAggregate as DailyAggregate,
    DeletedRows as DeletedRows,
    FeatureVector as FeatureVector,
    FeedbackEvent as FeedbackEvent,
    LabeledSample as LabeledSample,
    ModelComparison as ModelComparison,
    ModelPerformance as ModelPerformance,
    NewABTest as NewABTest,
    NewFeatureVector as NewFeatureVector,
    NewFeedbackEvent as NewFeedbackEvent,
    NewPrediction as NewPrediction,
    NewQueryEvent as NewQueryEvent,
    NewSession as NewSession,
    NewTraceEvent as NewTraceEvent,
    NewTrainingRun as NewTrainingRun,
    Prediction as Prediction,
    QueryEvent as QueryEvent,
    RunCursor as RunCursor,
    RunPage as RunPage,
    SampleCursor as SampleCursor,
    SamplePage as SamplePage,
    Session as Session,
    SessionActivity as SessionActivity,
    SimilarQuery as SimilarQuery,
    TraceEvent as TraceEvent,
    TrainingDataExport as TrainingDataExport,
    TrainingMetrics as TrainingMetrics,
    TrainingRun as TrainingRun,
    VariantResult as VariantResult,
)

SPEC: Final = "telemetry"
SEED: Final = "000_7a353deff084a6d9.txt"
SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2)
"""1: the real store's core tables with the seed's ML tables; 2: the seed's two views
(``v_training_data_export``, ``v_model_performance``) and the indexes the ML reads need."""
QUERY_TYPES: Final[tuple[str, ...]] = ("search", "reason", "code", "general")
FEEDBACK_TYPES: Final[tuple[str, ...]] = ("thumbs_up", "thumbs_down", "explicit", "implicit")
FEEDBACK_CATEGORIES: Final[tuple[str, ...]] = ("accuracy", "relevance", "speed", "format",
                                               "other")
RUN_STATUSES: Final[tuple[str, ...]] = ("running", "completed", "failed")
EXPORT_FORMATS: Final[tuple[str, ...]] = ("csv", "jsonl", "csv-spreadsheet")
"""``csv`` and ``jsonl`` carry every value exactly, for the programs the seed exports
training data to; ``csv-spreadsheet`` is ``csv`` for a person to open in a spreadsheet,
where a cell beginning ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
run as a formula (CSV injection): such a text cell gets a ``'`` before it."""
MAX_DIMENSION: Final = 4096

FOREIGN_KEYS: Final[tuple[ForeignKey, ...]] = (
    ForeignKey("queries", "session_id", "sessions", "id", "NO ACTION"),
    ForeignKey("feedback", "session_id", "sessions", "id", "NO ACTION"),
    ForeignKey("feedback", "query_id", "queries", "id", "NO ACTION"),
    ForeignKey("reasoning_traces", "session_id", "sessions", "id", "NO ACTION"),
    ForeignKey("reasoning_traces", "query_id", "queries", "id", "NO ACTION"),
    ForeignKey("feature_vectors", "query_id", "queries", "id", "NO ACTION"),
    ForeignKey("model_predictions", "run_id", "model_training_runs", "id", "NO ACTION"),
    ForeignKey("ab_variants", "test_id", "ab_tests", "id", "NO ACTION"),
)
"""The seed's keys carry no action: deleting a session deletes its children first."""

STORE_ASSIGNED_IDS: Final[dict[tuple[str, str], str]] = {
    ("FeatureVector", "id"): "feature_vector",
}


def model_comparison(a: ModelPerformance, b: ModelPerformance) -> ModelComparison:
    """``compare_models`` from the two versions' performance: the rule itself."""
    difference = (None if a.accuracy is None or b.accuracy is None
                  else b.accuracy - a.accuracy)
    return ModelComparison(a, b, difference,
                           two_proportion_p_value(a.correct, a.labelled, b.correct, b.labelled))


# --- training-data export -------------------------------------------------------

def training_data(rows: Sequence[ExportRow], format: str) -> TrainingDataExport:
    content = (training_data_jsonl(rows) if format == "jsonl"
               else training_data_csv(rows, for_spreadsheets=format == "csv-spreadsheet"))
    return TrainingDataExport(format, len(rows), content)


# --- the Protocol ------------------------------------------------------------------


class TelemetryStore(Protocol):
    """What an implementation of ``telemetry`` offers."""

    def create_session(self, new: NewSession) -> Session: ...

    def end_session(self, session_id: str, at: datetime) -> Session:
        """Ending an ended session is :class:`Conflict`."""

    def get_session(self, session_id: str) -> Session: ...

    def record_query(self, new: NewQueryEvent) -> QueryEvent: ...

    def record_feedback(self, new: NewFeedbackEvent) -> FeedbackEvent: ...

    def record_trace(self, new: NewTraceEvent) -> TraceEvent: ...

    def session_activity(self, session_id: str) -> SessionActivity: ...

    def delete_session(self, session_id: str) -> DeletedRows:
        """The session with its queries and everything of them, in one transaction."""

    def aggregated_metrics(self, start: datetime, end: datetime) -> AggregatedMetrics:
        """``start <= timestamp < end``."""

    def batch_update_aggregates(self, days: Sequence[date]) -> list[DailyAggregate]:
        """Every day's row computed and stored, in one transaction."""

    def daily_aggregates(self, first: date, last: date) -> list[DailyAggregate]: ...

    def export_anonymized(self, start: datetime, end: datetime) -> list[AnonymizedQuery]:
        """``start <= timestamp < end``, sorted by every field in order."""

    def insert_training_run(self, new: NewTrainingRun) -> TrainingRun: ...

    def get_training_run(self, run_id: str) -> TrainingRun: ...

    def list_training_runs(self, model_type: str | None,
                           limit: int | None) -> list[TrainingRun]:
        """``limit`` ``None`` lists every run (the seed's limit is optional)."""

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        """``list_training_runs``' runs in keyset pages: at most ``limit`` after ``after``
        (from the first when ``None``), so a caller walks every run a page at a time."""

    def update_training_run_results(self, run_id: str,
                                    metrics: TrainingMetrics) -> TrainingRun: ...

    def insert_feature_vector(self, new: NewFeatureVector) -> FeatureVector: ...

    def batch_insert_feature_vectors(
            self, batch: Sequence[NewFeatureVector]) -> list[FeatureVector]:
        """All or nothing; ids follow the batch's order."""

    def feature_vectors_for_query(self, query_id: str) -> list[FeatureVector]: ...

    def find_similar_queries(self, embedding: Sequence[float],
                             limit: int) -> list[SimilarQuery]: ...

    def insert_prediction(self, new: NewPrediction) -> Prediction: ...

    def batch_insert_predictions(self, batch: Sequence[NewPrediction]) -> list[Prediction]:
        """All or nothing, each prediction under :meth:`insert_prediction`'s rules.  Input
        that is not a valid prediction anywhere in the batch is :class:`ValidationError`
        before anything is written; otherwise the error is the first refused prediction's
        (an id already used earlier in the batch is UNIQUE at its second use).  Returns the
        stored predictions in the batch's order."""

    def update_prediction_ground_truth(self, prediction_id: str,
                                       actual_value: str) -> Prediction: ...

    def predictions_for_run(self, run_id: str) -> list[Prediction]: ...

    def calculate_model_accuracy(self, run_id: str) -> float | None: ...

    def create_ab_test(self, new: NewABTest) -> ABTest: ...

    def record_ab_result(self, test_id: str, variant: str, success: bool) -> VariantResult: ...

    def ab_test_results(self, test_id: str) -> ABTestResults: ...

    def finalize_ab_test(self, test_id: str, winner: str, confidence: float,
                         at: datetime) -> ABTest: ...

    def export_training_data(self, start: datetime, end: datetime,
                             format: str) -> TrainingDataExport:
        """``start <= timestamp <= end``; ``format`` one of :data:`EXPORT_FORMATS`."""

    def get_labeled_samples(self, limit: int | None) -> list[LabeledSample]:
        """Newest query first (``timestamp`` desc, then id desc); ``limit`` ``None`` gives
        every labelled query (the seed's limit is optional)."""

    def labeled_samples_page(self, limit: int,
                             after: SampleCursor | None = None) -> SamplePage:
        """``get_labeled_samples``' samples in keyset pages: at most ``limit`` after
        ``after`` (from the first when ``None``)."""

    def get_model_performance(self, model_version: str) -> ModelPerformance: ...

    def compare_models(self, version_a: str, version_b: str) -> ModelComparison: ...

    def prune_old_data(self, before: datetime) -> DeletedRows: ...

    def close(self) -> None: ...


OPERATIONS: Final[tuple[Operation, ...]] = tuple(
    Operation(name, summary, writes) for name, summary, writes in (
        ("create_session", "insert_session()", True),
        ("end_session", "sessions.ended_at, duration_ms", True),
        ("get_session", "sessions by id", False),
        ("record_query", "insert_query_event(): no raw query text", True),
        ("record_feedback", "insert_feedback_event()", True),
        ("record_trace", "insert_trace_event()", True),
        ("session_activity", "a session's query, feedback and trace events", False),
        ("delete_session", "a session and its events (the seed's keys: children first)", True),
        ("aggregated_metrics", "get_aggregated_metrics(): real percentiles", False),
        ("batch_update_aggregates", "batch_update_aggregates(updates): one transaction", True),
        ("daily_aggregates", "daily_aggregates rows", False),
        ("export_anonymized", "export_anonymized(): privacy export", False),
        ("insert_training_run", "insert_training_run(run)", True),
        ("get_training_run", "get_training_run(run_id)", False),
        ("list_training_runs", "list_training_runs(model_type, limit)", False),
        ("training_runs_page", "list_training_runs in keyset pages", False),
        ("update_training_run_results", "update_training_run_results(run_id, metrics)", True),
        ("insert_feature_vector", "insert_feature_vector(vector)", True),
        ("batch_insert_feature_vectors", "batch_insert_feature_vectors(vectors)", True),
        ("feature_vectors_for_query", "get_feature_vectors_for_query(query_id)", False),
        ("find_similar_queries", "find_similar_queries(embedding, limit): cosine", False),
        ("insert_prediction", "insert_prediction(prediction)", True),
        ("batch_insert_predictions", "batch insert for predictions, all or nothing", True),
        ("update_prediction_ground_truth", "update_prediction_ground_truth(id, actual)", True),
        ("predictions_for_run", "get_predictions_for_run(run_id)", False),
        ("calculate_model_accuracy", "calculate_model_accuracy(run_id): SQL aggregation",
         False),
        ("create_ab_test", "create_ab_test(test)", True),
        ("record_ab_result", "record_ab_result(test_id, variant, success)", True),
        ("ab_test_results", "get_ab_test_results(test_id): statistical analysis", False),
        ("finalize_ab_test", "finalize_ab_test(test_id, winner, confidence)", True),
        ("export_training_data", "export_training_data(time_range, format)", False),
        ("get_labeled_samples", "get_labeled_samples(limit)", False),
        ("labeled_samples_page", "get_labeled_samples in keyset pages", False),
        ("get_model_performance", "get_model_performance(model_version)", False),
        ("compare_models", "compare_models(version_a, version_b)", False),
        ("prune_old_data", "retention: delete old sessions and their events", True),
    )
)
