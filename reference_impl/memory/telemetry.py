"""The ``telemetry`` model: the spec's rules over plain dictionaries, obviously correct."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    EXPORT_COLUMNS,
    FEEDBACK_CATEGORIES,
    FEEDBACK_TYPES,
    QUERY_TYPES,
    SPEC,
    AggregatedMetrics,
    AnonymizedQuery,
    DailyAggregate,
    DeletedRows,
    ExportRow,
    FeedbackEvent,
    LabeledSample,
    NewFeedbackEvent,
    NewQueryEvent,
    NewSession,
    NewTraceEvent,
    QueryEvent,
    SampleCursor,
    SamplePage,
    Session,
    SessionActivity,
    TraceEvent,
    TrainingDataExport,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.telemetry_ml import (
    RULES,
    MemoryTelemetryMl,
    State,
    in_range,
    non_negative,
    none_first,
    oldest_first,
    unique,
)


class MemoryTelemetry(MemoryTelemetryMl):
    """Implements :class:`~storecheck.conformance.specs.telemetry.TelemetryStore`."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- sessions and events -----------------------------------------------------------

    def create_session(self, new: NewSession) -> Session:
        new = inputs.new_session(new)

        def change(s: State) -> Session:
            RULES.check("create_session", "id <> ''", new.id != "", new.id)
            unique("create_session", s.sessions, new.id)
            s.sessions[new.id] = Session(new.id, new.started_at, None, None, new.profile,
                                         new.client_version, new.os_family)
            return s.sessions[new.id]
        return self._apply(change)

    def end_session(self, session_id: str, at: datetime) -> Session:
        v = inputs.check("end_session")
        session_id, at = v.text("session_id", session_id), v.timestamp("at", at)

        def change(s: State) -> Session:
            session = RULES.found("end_session", s.sessions, session_id, "session")
            if session.ended_at is not None:
                raise Conflict(SPEC, "end_session", "the session has ended", session_id)
            RULES.check("end_session", "ended_at >= started_at", at >= session.started_at, at)
            s.sessions[session_id] = replace(
                session, ended_at=at,
                duration_ms=(at - session.started_at) // timedelta(milliseconds=1))
            return s.sessions[session_id]
        return self._apply(change)

    def get_session(self, session_id: str) -> Session:
        inputs.check("get_session").text("session_id", session_id)
        return self._read(lambda s: RULES.found("get_session", s.sessions, session_id, "session"))

    def record_query(self, new: NewQueryEvent) -> QueryEvent:
        new = inputs.new_query(new)
        operation = "record_query"

        def change(s: State) -> QueryEvent:
            RULES.check(operation, "id <> ''", new.id != "", new.id)
            RULES.check(operation, "query_type IN QUERY_TYPES", new.query_type in QUERY_TYPES,
                   new.query_type)
            non_negative(operation, latency_ms=new.latency_ms, tool_calls=new.tool_calls,
                          retrieval_count=new.retrieval_count, result_count=new.result_count)
            RULES.check(operation, "result_quality_score BETWEEN 0 AND 1",
                   in_range(new.result_quality_score, 0, 1), new.result_quality_score)
            RULES.check(operation, "error_category <> ''", new.error_category != "",
                   new.error_category)
            unique(operation, s.queries, new.id)
            RULES.parent(operation, s.sessions, new.session_id, "session_id")
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
            RULES.check(operation, "id <> ''", new.id != "", new.id)
            RULES.check(operation, "feedback_type IN FEEDBACK_TYPES",
                   new.feedback_type in FEEDBACK_TYPES, new.feedback_type)
            RULES.check(operation, "rating BETWEEN 1 AND 5", in_range(new.rating, 1, 5), new.rating)
            RULES.check(operation, "category IN FEEDBACK_CATEGORIES",
                   new.category is None or new.category in FEEDBACK_CATEGORIES, new.category)
            unique(operation, s.feedback, new.id)
            RULES.parent(operation, s.sessions, new.session_id, "session_id")
            RULES.parent(operation, s.queries, new.query_id, "query_id")
            s.feedback[new.id] = FeedbackEvent(
                new.id, new.session_id, new.timestamp, new.feedback_type, new.query_id,
                new.rating, new.category, new.context_hash)
            return s.feedback[new.id]
        return self._apply(change)

    def record_trace(self, new: NewTraceEvent) -> TraceEvent:
        new = inputs.new_trace(new)
        operation = "record_trace"

        def change(s: State) -> TraceEvent:
            RULES.check(operation, "id <> ''", new.id != "", new.id)
            RULES.check(operation, "thinktool_name <> ''", new.thinktool_name != "",
                   new.thinktool_name)
            non_negative(operation, step_count=new.step_count, total_ms=new.total_ms,
                          depth_score=new.depth_score)
            RULES.check(operation, "coherence_score BETWEEN 0 AND 1",
                   in_range(new.coherence_score, 0, 1), new.coherence_score)
            unique(operation, s.traces, new.id)
            RULES.parent(operation, s.sessions, new.session_id, "session_id")
            RULES.parent(operation, s.queries, new.query_id, "query_id")
            s.traces[new.id] = TraceEvent(
                new.id, new.session_id, new.timestamp, new.thinktool_name, new.step_count,
                new.total_ms, new.query_id, new.coherence_score, new.depth_score,
                new.step_types_json)
            return s.traces[new.id]
        return self._apply(change)

    def session_activity(self, session_id: str) -> SessionActivity:
        inputs.check("session_activity").text("session_id", session_id)

        def look(s: State) -> SessionActivity:
            RULES.found("session_activity", s.sessions, session_id, "session")
            return SessionActivity(
                oldest_first((q for q in s.queries.values() if q.session_id == session_id),
                              lambda q: (q.timestamp, q.id)),
                oldest_first((f for f in s.feedback.values() if f.session_id == session_id),
                              lambda f: (f.timestamp, f.id)),
                oldest_first((t for t in s.traces.values() if t.session_id == session_id),
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
            RULES.found("delete_session", s.sessions, session_id, "session")
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
                none_first(a.result_quality_score), a.error_occurred, a.thumbs_up,
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
