"""The records of spec ``telemetry`` (seed 000): what its operations take and return.

The rules they obey are the spec's (:mod:`storecheck.conformance.specs.telemetry`), which
names every record here again, so either module may be imported for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class NewSession:
    id: str
    started_at: datetime
    profile: str | None = None
    client_version: str | None = None
    os_family: str | None = None


@dataclass(frozen=True)
class Session:
    id: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: int | None
    """Whole milliseconds from start to end, rounded down."""
    profile: str | None
    client_version: str | None
    os_family: str | None


@dataclass(frozen=True)
class NewQueryEvent:
    id: str
    session_id: str
    timestamp: datetime
    query_text: str
    """Never stored: only its :func:`query_hash` and length."""
    query_type: str
    latency_ms: int
    tool_calls: int = 0
    retrieval_count: int = 0
    result_count: int | None = None
    result_quality_score: float | None = None
    error_category: str | None = None
    """``None``: no error occurred."""
    profile_used: str | None = None
    tools_used_json: str = "[]"
    """A JSON array of tool names, kept in its exact spelling."""


@dataclass(frozen=True)
class QueryEvent:
    id: str
    session_id: str
    timestamp: datetime
    query_hash: str
    query_length: int
    query_type: str
    latency_ms: int
    tool_calls: int
    retrieval_count: int
    result_count: int | None
    result_quality_score: float | None
    error_category: str | None
    profile_used: str | None
    tools_used_json: str


@dataclass(frozen=True)
class NewFeedbackEvent:
    id: str
    session_id: str
    timestamp: datetime
    feedback_type: str
    query_id: str | None = None
    rating: int | None = None
    category: str | None = None
    context_hash: str | None = None


@dataclass(frozen=True)
class FeedbackEvent:
    id: str
    session_id: str
    timestamp: datetime
    feedback_type: str
    query_id: str | None
    rating: int | None
    category: str | None
    context_hash: str | None


@dataclass(frozen=True)
class NewTraceEvent:
    id: str
    session_id: str
    timestamp: datetime
    thinktool_name: str
    step_count: int
    total_ms: int
    query_id: str | None = None
    coherence_score: float | None = None
    depth_score: float | None = None
    step_types_json: str = "[]"


@dataclass(frozen=True)
class TraceEvent:
    id: str
    session_id: str
    timestamp: datetime
    thinktool_name: str
    step_count: int
    total_ms: int
    query_id: str | None
    coherence_score: float | None
    depth_score: float | None
    step_types_json: str


@dataclass(frozen=True)
class SessionActivity:
    queries: tuple[QueryEvent, ...]
    feedback: tuple[FeedbackEvent, ...]
    traces: tuple[TraceEvent, ...]


@dataclass(frozen=True)
class DeletedRows:
    sessions: int
    queries: int
    feedback: int
    traces: int
    feature_vectors: int


@dataclass(frozen=True)
class AggregatedMetrics:
    query_count: int
    feedback_count: int
    avg_latency_ms: float | None
    p50_latency_ms: int | None
    p95_latency_ms: int | None
    p99_latency_ms: int | None
    error_rate: float | None
    """Queries with an error category over queries."""
    positive_feedback_ratio: float | None
    queries_by_type: Mapping[str, int]
    """Query type -> count, only types with queries."""


@dataclass(frozen=True)
class DailyAggregate:
    day: date
    metrics: AggregatedMetrics


@dataclass(frozen=True)
class AnonymizedQuery:
    day: date
    query_type: str
    query_length: int
    latency_ms: int
    tool_calls: int
    result_quality_score: float | None
    error_occurred: bool
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True)
class NewTrainingRun:
    id: str
    model_type: str
    model_version: str
    started_at: datetime
    hyperparameters_json: str | None = None


@dataclass(frozen=True)
class TrainingMetrics:
    status: str
    """``completed`` or ``failed``."""
    completed_at: datetime
    accuracy: float | None = None
    loss: float | None = None
    f1_score: float | None = None
    sample_count: int | None = None


@dataclass(frozen=True)
class TrainingRun:
    id: str
    model_type: str
    model_version: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    hyperparameters_json: str | None
    accuracy: float | None
    loss: float | None
    f1_score: float | None
    sample_count: int | None


@dataclass(frozen=True)
class NewFeatureVector:
    query_id: str
    feature_set: str
    embedding: tuple[float, ...]
    created_at: datetime


@dataclass(frozen=True)
class FeatureVector:
    id: int
    """Store-assigned."""
    query_id: str
    feature_set: str
    embedding: tuple[float, ...]
    """As stored: each component rounded to float32."""
    created_at: datetime


@dataclass(frozen=True)
class SimilarQuery:
    query_id: str
    similarity: float


@dataclass(frozen=True)
class NewPrediction:
    id: str
    run_id: str
    predicted_value: str
    confidence: float
    predicted_at: datetime
    input_hash: str | None = None


@dataclass(frozen=True)
class Prediction:
    id: str
    run_id: str
    predicted_value: str
    confidence: float
    predicted_at: datetime
    input_hash: str | None
    actual_value: str | None
    is_correct: bool | None


@dataclass(frozen=True)
class NewABTest:
    id: str
    name: str
    variants: tuple[str, str]
    started_at: datetime


@dataclass(frozen=True)
class ABTest:
    id: str
    name: str
    variants: tuple[str, str]
    started_at: datetime
    winner: str | None
    confidence: float | None
    finalized_at: datetime | None


@dataclass(frozen=True)
class VariantResult:
    variant: str
    trials: int
    successes: int
    success_rate: float | None


@dataclass(frozen=True)
class ABTestResults:
    test: ABTest
    variants: tuple[VariantResult, VariantResult]
    p_value: float | None


@dataclass(frozen=True)
class TrainingDataExport:
    format: str
    row_count: int
    content: bytes


@dataclass(frozen=True)
class LabeledSample:
    query_id: str
    query_type: str
    query_length: int
    latency_ms: int
    result_quality_score: float | None
    label: bool
    """Whether the query's latest thumbs feedback (``timestamp``, then id) is thumbs up."""


@dataclass(frozen=True)
class RunCursor:
    """A place in the training runs' order (``started_at`` desc, then ``id``): the page
    after it holds the runs started before ``started_at``, and those started at it with a
    greater ``id``.  A place no run holds is still a place."""

    started_at: datetime
    id: str


@dataclass(frozen=True)
class RunPage:
    items: tuple[TrainingRun, ...]
    next_cursor: RunCursor | None
    """The last item's place when more runs follow it; ``None`` on the last page."""


@dataclass(frozen=True)
class SampleCursor:
    """A place in the labelled samples' order (the query's ``timestamp`` desc, then its id
    desc): the page after it holds the samples of queries older than ``timestamp``, and
    those at it with a smaller ``query_id``."""

    timestamp: datetime
    query_id: str


@dataclass(frozen=True)
class SamplePage:
    items: tuple[LabeledSample, ...]
    next_cursor: SampleCursor | None
    """The last item's place when more samples follow it; ``None`` on the last page."""


@dataclass(frozen=True)
class ModelPerformance:
    model_version: str
    runs: int
    completed_runs: int
    predictions: int
    labelled: int
    correct: int
    accuracy: float | None


@dataclass(frozen=True)
class ModelComparison:
    a: ModelPerformance
    b: ModelPerformance
    accuracy_difference: float | None
    """``b.accuracy - a.accuracy``; ``None`` when either is."""
    p_value: float | None
    """:func:`two_proportion_p_value` of the correct over the labelled predictions."""
