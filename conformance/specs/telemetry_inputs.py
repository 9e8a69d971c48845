"""Value rules for the inputs of ``telemetry`` operations (shared by every implementation).

Each function checks types and returns the input with every instant in UTC and
every embedding as float32 values.  What the schema enforces (enums, ranges,
UNIQUE, FOREIGN KEY) stays with the storage, so that a weakened schema is caught.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from storecheck.conformance.specs.common import Validator
from storecheck.conformance.specs.telemetry import (
    EXPORT_FORMATS,
    MAX_DIMENSION,
    SPEC,
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

FLOAT32_MAX = 3.4028234663852886e38


def check(operation: str) -> Validator:
    return Validator(SPEC, operation)


def _optional_score(v: Validator, name: str, value: Any) -> float | None:
    return None if value is None else v.finite(name, value)


def _json_list_of_text(v: Validator, name: str, value: Any) -> str:
    text = v.text(name, value)
    try:
        parsed = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise v.fail(f"{name} must be JSON text", text) from None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise v.fail(f"{name} must be a JSON array of strings", text)
    return text


def _optional_json(v: Validator, name: str, value: Any) -> str | None:
    text = v.optional_text(name, value)
    if text is not None:
        try:
            json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):
            raise v.fail(f"{name} must be JSON text", text) from None
    return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def new_session(new: Any) -> NewSession:
    v = check("create_session")
    if not isinstance(new, NewSession):
        raise v.fail("expected a NewSession", new)
    v.text("id", new.id)
    for name in ("profile", "client_version", "os_family"):
        v.optional_text(name, getattr(new, name))
    return replace(new, started_at=v.timestamp("started_at", new.started_at))


def new_query(new: Any) -> NewQueryEvent:
    v = check("record_query")
    if not isinstance(new, NewQueryEvent):
        raise v.fail("expected a NewQueryEvent", new)
    for name in ("id", "session_id", "query_text", "query_type"):
        v.text(name, getattr(new, name))
    for name in ("latency_ms", "tool_calls", "retrieval_count"):
        v.integer(name, getattr(new, name))
    v.optional_integer("result_count", new.result_count)
    score = _optional_score(v, "result_quality_score", new.result_quality_score)
    v.optional_text("error_category", new.error_category)
    v.optional_text("profile_used", new.profile_used)
    _json_list_of_text(v, "tools_used_json", new.tools_used_json)
    return replace(new, result_quality_score=score,
                   timestamp=v.timestamp("timestamp", new.timestamp))


def new_feedback(new: Any) -> NewFeedbackEvent:
    v = check("record_feedback")
    if not isinstance(new, NewFeedbackEvent):
        raise v.fail("expected a NewFeedbackEvent", new)
    for name in ("id", "session_id", "feedback_type"):
        v.text(name, getattr(new, name))
    for name in ("query_id", "category", "context_hash"):
        v.optional_text(name, getattr(new, name))
    v.optional_integer("rating", new.rating)
    return replace(new, timestamp=v.timestamp("timestamp", new.timestamp))


def new_trace(new: Any) -> NewTraceEvent:
    v = check("record_trace")
    if not isinstance(new, NewTraceEvent):
        raise v.fail("expected a NewTraceEvent", new)
    for name in ("id", "session_id", "thinktool_name"):
        v.text(name, getattr(new, name))
    v.optional_text("query_id", new.query_id)
    v.integer("step_count", new.step_count)
    v.integer("total_ms", new.total_ms)
    coherence = _optional_score(v, "coherence_score", new.coherence_score)
    depth = _optional_score(v, "depth_score", new.depth_score)
    _json_list_of_text(v, "step_types_json", new.step_types_json)
    return replace(new, coherence_score=coherence, depth_score=depth,
                   timestamp=v.timestamp("timestamp", new.timestamp))


def window(operation: str, start: Any, end: Any) -> tuple[datetime, datetime]:
    v = check(operation)
    return v.timestamp("start", start), v.timestamp("end", end)


def day(v: Validator, name: str, value: Any) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise v.fail(f"{name} must be a date", value)
    return value


def day_start(value: date) -> datetime:
    """The first instant of a UTC day."""
    return datetime.combine(value, time(), UTC)


def days(value: Any) -> tuple[date, ...]:
    """Days to aggregate: each before 9999-12-31, the last date, whose day ends at an
    instant no timestamp can name."""
    v = check("batch_update_aggregates")

    def aggregated_day(label: str, item: Any) -> date:
        found = day(v, label, item)
        if found == date.max:
            raise v.fail(f"{label} must be before {date.max}: its day ends past the last "
                         "instant", found)
        return found
    return v.sequence("days", value, aggregated_day)


def day_range(first: Any, last: Any) -> tuple[date, date]:
    v = check("daily_aggregates")
    return day(v, "first", first), day(v, "last", last)


def new_run(new: Any) -> NewTrainingRun:
    v = check("insert_training_run")
    if not isinstance(new, NewTrainingRun):
        raise v.fail("expected a NewTrainingRun", new)
    for name in ("id", "model_type", "model_version"):
        v.text(name, getattr(new, name))
    _optional_json(v, "hyperparameters_json", new.hyperparameters_json)
    return replace(new, started_at=v.timestamp("started_at", new.started_at))


def run_filter(model_type: Any, limit: Any) -> tuple[str | None, int | None]:
    v = check("list_training_runs")
    return v.optional_text("model_type", model_type), v.optional_limit(limit)


def runs_page(model_type: Any, limit: Any,
              after: Any) -> tuple[str | None, int, RunCursor | None]:
    """``training_runs_page``'s filter, limit and cursor, the cursor's instant in UTC."""
    v = check("training_runs_page")
    return (v.optional_text("model_type", model_type), v.limit(limit),
            v.optional_cursor("after", after, RunCursor))


def samples_page(limit: Any, after: Any) -> tuple[int, SampleCursor | None]:
    """``labeled_samples_page``'s limit and cursor, the cursor's instant in UTC."""
    v = check("labeled_samples_page")
    return v.limit(limit), v.optional_cursor("after", after, SampleCursor)


def metrics(value: Any) -> TrainingMetrics:
    v = check("update_training_run_results")
    if not isinstance(value, TrainingMetrics):
        raise v.fail("expected a TrainingMetrics", value)
    v.one_of("status", value.status, ("completed", "failed"))
    accuracy, loss, f1_score = (_optional_score(v, name, getattr(value, name))
                                for name in ("accuracy", "loss", "f1_score"))
    v.optional_integer("sample_count", value.sample_count)
    return replace(value, completed_at=v.timestamp("completed_at", value.completed_at),
                   accuracy=accuracy, loss=loss, f1_score=f1_score)


def embedding(v: Validator, name: str, value: Any) -> tuple[float, ...]:
    """Finite float32 components, 1 to :data:`MAX_DIMENSION`, not all zero."""
    if (isinstance(value, list | tuple) and all(type(c) is float for c in value)
            and all(map(math.isfinite, value))):
        # Plain finite floats, the usual case: checked in C, not component by component
        # (a 384-component vector costs 1 ms through the general path below).
        components = tuple(value)
    else:
        components = v.sequence(name, value, v.finite)
    if not 1 <= len(components) <= MAX_DIMENSION:
        raise v.fail(f"{name} must have 1 to {MAX_DIMENSION} components", len(components))
    if max(map(abs, components)) > FLOAT32_MAX:
        raise v.fail(f"{name} has a component beyond the float32 range", value)
    stored = as_float32(components)
    if not any(stored):
        raise v.fail(f"{name} is a zero vector (its cosine similarity is undefined)", value)
    return stored


def as_float32(components: Sequence[float]) -> tuple[float, ...]:
    return struct.unpack(f"<{len(components)}f", to_blob(components))


def to_blob(components: Sequence[float]) -> bytes:
    """Little-endian float32, the stored form of a vector."""
    return struct.pack(f"<{len(components)}f", *components)


def from_blob(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def new_vector(new: Any, operation: str = "insert_feature_vector") -> NewFeatureVector:
    v = check(operation)
    if not isinstance(new, NewFeatureVector):
        raise v.fail("expected a NewFeatureVector", new)
    v.text("query_id", new.query_id)
    v.text("feature_set", new.feature_set)
    vector = embedding(v, "embedding", new.embedding)
    created_at = v.timestamp("created_at", new.created_at)
    return replace(new, embedding=vector, created_at=created_at)


def vector_batch(batch: Any) -> tuple[NewFeatureVector, ...]:
    v = check("batch_insert_feature_vectors")
    return v.sequence("batch", batch,
                      lambda _, item: new_vector(item, "batch_insert_feature_vectors"))


def same_dimension(operation: str, dimension: int | None,
                   vectors: Sequence[Sequence[float]]) -> None:
    """Every vector has the store's dimension (``None``: no vector stored yet, so the
    first vector's)."""
    v = check(operation)
    expected = dimension if dimension is not None else (len(vectors[0]) if vectors else None)
    for index, vector in enumerate(vectors):
        if len(vector) != expected:
            raise v.fail(f"vector {index} has {len(vector)} components; the store's "
                         f"vectors have {expected}", len(vector))


def search(value: Any, limit: Any) -> tuple[tuple[float, ...], int]:
    v = check("find_similar_queries")
    return embedding(v, "embedding", value), v.limit(limit)


def prediction_batch(batch: Any) -> tuple[NewPrediction, ...]:
    v = check("batch_insert_predictions")
    return v.sequence("batch", batch,
                      lambda _, item: new_prediction(item, "batch_insert_predictions"))


def new_prediction(new: Any, operation: str = "insert_prediction") -> NewPrediction:
    v = check(operation)
    if not isinstance(new, NewPrediction):
        raise v.fail("expected a NewPrediction", new)
    for name in ("id", "run_id", "predicted_value"):
        v.text(name, getattr(new, name))
    confidence = v.finite("confidence", new.confidence)
    v.optional_text("input_hash", new.input_hash)
    return replace(new, confidence=confidence,
                   predicted_at=v.timestamp("predicted_at", new.predicted_at))


def new_ab_test(new: Any) -> NewABTest:
    v = check("create_ab_test")
    if not isinstance(new, NewABTest):
        raise v.fail("expected a NewABTest", new)
    v.text("id", new.id)
    v.text("name", new.name)
    first, second = v.pair("variants", new.variants)
    v.text("variants[0]", first)
    v.text("variants[1]", second)
    started = v.timestamp("started_at", new.started_at)
    return replace(new, variants=(first, second), started_at=started)


def ab_result(test_id: Any, variant: Any, success: Any) -> tuple[str, str, bool]:
    v = check("record_ab_result")
    if not isinstance(success, bool):
        raise v.fail("success must be a bool", success)
    return v.text("test_id", test_id), v.text("variant", variant), success


def finalization(test_id: Any, winner: Any, confidence: Any,
                 at: Any) -> tuple[str, str, float, datetime]:
    v = check("finalize_ab_test")
    return (v.text("test_id", test_id), v.text("winner", winner),
            v.finite("confidence", confidence), v.timestamp("at", at))


def export(start: Any, end: Any, format: Any) -> tuple[datetime, datetime, str]:
    v = check("export_training_data")
    moment_start, moment_end = v.timestamp("start", start), v.timestamp("end", end)
    return moment_start, moment_end, v.one_of("format", format, EXPORT_FORMATS)


__all__ = [
    "ab_result",
    "as_float32",
    "check",
    "day_range",
    "day_start",
    "days",
    "embedding",
    "export",
    "finalization",
    "from_blob",
    "metrics",
    "new_ab_test",
    "new_feedback",
    "new_prediction",
    "new_query",
    "new_run",
    "new_session",
    "new_trace",
    "new_vector",
    "run_filter",
    "runs_page",
    "same_dimension",
    "samples_page",
    "search",
    "to_blob",
    "vector_batch",
    "window",
]
