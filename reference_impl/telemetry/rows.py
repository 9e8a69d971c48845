"""Conversions between ``telemetry`` records and SQLite rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from storecheck.conformance.specs.telemetry import (
    ABTest,
    AggregatedMetrics,
    DailyAggregate,
    ExportRow,
    FeatureVector,
    FeedbackEvent,
    Prediction,
    QueryEvent,
    Session,
    TraceEvent,
    TrainingRun,
    VariantResult,
    ratio,
)
from storecheck.conformance.specs.telemetry_inputs import from_blob
from storecheck.reference_impl.engine.timestamps import from_text, optional_from_text

SESSION_COLUMNS: Final = "id, started_at, ended_at, duration_ms, profile, client_version, os_family"
QUERY_COLUMNS: Final = (
    "id, session_id, timestamp, query_hash, query_length, query_type, latency_ms, tool_calls, "
    "retrieval_count, result_count, result_quality_score, error_category, profile_used, "
    "tools_used")
FEEDBACK_COLUMNS: Final = (
    "id, session_id, timestamp, feedback_type, query_id, rating, category, context_hash")
TRACE_COLUMNS: Final = (
    "id, session_id, timestamp, thinktool_name, step_count, total_ms, query_id, "
    "coherence_score, depth_score, step_types")
AGGREGATE_COLUMNS: Final = (
    "date, query_count, feedback_count, avg_latency_ms, p50_latency_ms, p95_latency_ms, "
    "p99_latency_ms, error_rate, positive_feedback_ratio, query_type_distribution")
RUN_COLUMNS: Final = (
    "id, model_type, model_version, status, started_at, completed_at, hyperparameters, "
    "accuracy, loss, f1_score, sample_count")
VECTOR_COLUMNS: Final = "id, query_id, feature_set, embedding, created_at"
PREDICTION_COLUMNS: Final = (
    "id, run_id, predicted_value, confidence, predicted_at, input_hash, actual_value")
TEST_COLUMNS: Final = "id, name, started_at, winner, confidence, finalized_at"
VARIANT_COLUMNS: Final = "variant, trials, successes"
EXPORT_COLUMNS_SQL: Final = (
    "query_id, session_id, timestamp, query_type, query_length, latency_ms, tool_calls, "
    "retrieval_count, result_count, result_quality_score, error_occurred, thumbs_up, "
    "thumbs_down, mean_rating")


def real(value: Any) -> float | None:
    """A REAL column's value as a float: SQLite hands back a whole-number REAL as an int
    (in RETURNING rows, and from an integer-valued float it stored as an integer)."""
    return None if value is None else float(value)


def session(row: Any) -> Session:
    return Session(row[0], from_text(row[1]), optional_from_text(row[2]), row[3], row[4],
                   row[5], row[6])


def query(row: Any) -> QueryEvent:
    return QueryEvent(row[0], row[1], from_text(row[2]), row[3], row[4], row[5], row[6], row[7],
                      row[8], row[9], real(row[10]), row[11], row[12], row[13])


def feedback(row: Any) -> FeedbackEvent:
    return FeedbackEvent(row[0], row[1], from_text(row[2]), *row[3:])


def trace(row: Any) -> TraceEvent:
    return TraceEvent(row[0], row[1], from_text(row[2]), row[3], row[4], row[5], row[6],
                      real(row[7]), real(row[8]), row[9])


def metrics_values(metrics: AggregatedMetrics) -> tuple[object, ...]:
    return (metrics.query_count, metrics.feedback_count, metrics.avg_latency_ms,
            metrics.p50_latency_ms, metrics.p95_latency_ms, metrics.p99_latency_ms,
            metrics.error_rate, metrics.positive_feedback_ratio,
            json.dumps(dict(sorted(metrics.queries_by_type.items())), separators=(",", ":")))


def aggregate(row: Any) -> DailyAggregate:
    by_type: Mapping[str, int] = json.loads(row[9])
    return DailyAggregate(date.fromisoformat(row[0]), AggregatedMetrics(
        row[1], row[2], real(row[3]), row[4], row[5], row[6], real(row[7]), real(row[8]),
        by_type))


def run(row: Any) -> TrainingRun:
    return TrainingRun(row[0], row[1], row[2], row[3], from_text(row[4]),
                       optional_from_text(row[5]), row[6], real(row[7]), real(row[8]),
                       real(row[9]), row[10])


def vector(row: Any) -> FeatureVector:
    return FeatureVector(row[0], row[1], row[2], from_blob(row[3]), from_text(row[4]))


def prediction(row: Any) -> Prediction:
    actual = row[6]
    return Prediction(row[0], row[1], row[2], float(row[3]), from_text(row[4]), row[5], actual,
                      None if actual is None else actual == row[2])


def test(row: Any, variants: tuple[str, str]) -> ABTest:
    return ABTest(row[0], row[1], variants, from_text(row[2]), row[3], real(row[4]),
                  optional_from_text(row[5]))


def variant(row: Any) -> VariantResult:
    return VariantResult(row[0], row[1], row[2], ratio(row[2], row[1]))


def export_row(row: Any) -> ExportRow:
    return (row[0], row[1], from_text(row[2]), row[3], row[4], row[5], row[6], row[7], row[8],
            real(row[9]), bool(row[10]), row[11], row[12], real(row[13]))


EVERY_ROW: Final = 2**63 - 1
"""The LIMIT of a listing asked for without one: the largest count both SQLite and
PostgreSQL take, which no table reaches (SQLite's own "no limit", -1, is an error on
PostgreSQL, and its NULL a type error on SQLite)."""


def row_limit(limit: int | None) -> int:
    return EVERY_ROW if limit is None else limit
