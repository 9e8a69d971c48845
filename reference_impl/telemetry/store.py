"""The reference ``telemetry`` store on SQLite (seed 000)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from storecheck.conformance.errors import Conflict, NotFound
from storecheck.conformance.specs import telemetry_inputs as inputs
from storecheck.conformance.specs.telemetry import (
    SPEC,
    AggregatedMetrics,
    AnonymizedQuery,
    DailyAggregate,
    DeletedRows,
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
    query_hash,
    ratio,
    training_data,
)
from storecheck.reference_impl.engine import load_migrations
from storecheck.reference_impl.engine.pages import keyset_page, rows_to_read
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.timestamps import from_text, to_text
from storecheck.reference_impl.telemetry import rows
from storecheck.reference_impl.telemetry.ml import SqliteTelemetryMl
from storecheck.reference_impl.telemetry.rows import (
    AGGREGATE_COLUMNS,
    EXPORT_COLUMNS_SQL,
    FEEDBACK_COLUMNS,
    QUERY_COLUMNS,
    SESSION_COLUMNS,
    TRACE_COLUMNS,
    row_limit,
)
from storecheck.reference_impl.telemetry.similarity import SERIAL_COMMITS, VectorIndex

MIGRATIONS = load_migrations("storecheck.reference_impl.telemetry.migrations")
SELECT_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
IN_WINDOW: Final = "timestamp >= ? AND timestamp < ?"
PERCENTILES: Final = (50, 95, 99)
INSERT_QUERY: Final = (
    "INSERT INTO queries (id, session_id, timestamp, query_hash, query_length, query_type, "
    "latency_ms, tool_calls, retrieval_count, result_count, result_quality_score, "
    "error_category, profile_used, tools_used) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {QUERY_COLUMNS}")
EXPORT: Final = (f"SELECT {EXPORT_COLUMNS_SQL} FROM v_training_data_export "
                 "WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp, query_id")
UPSERT_AGGREGATE: Final = (
    f"INSERT INTO daily_aggregates ({AGGREGATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (date) DO UPDATE SET " + ", ".join(
        f"{column} = excluded.{column}" for column in AGGREGATE_COLUMNS.split(", ")[1:]))
DOOMED_QUERIES: Final = "SELECT id FROM queries WHERE session_id IN ({doomed})"
DELETE_SESSIONS: Final = (
    # Children first (the seed's keys have no action), all in the caller's transaction;
    # ``{doomed}`` is the statement selecting the ids of the sessions to delete.
    ("feature_vectors", f"DELETE FROM feature_vectors WHERE query_id IN ({DOOMED_QUERIES})"),
    ("feedback", "DELETE FROM feedback WHERE session_id IN ({doomed}) "
                 f"OR query_id IN ({DOOMED_QUERIES})"),
    ("traces", "DELETE FROM reasoning_traces WHERE session_id IN ({doomed}) "
               f"OR query_id IN ({DOOMED_QUERIES})"),
    ("queries", "DELETE FROM queries WHERE session_id IN ({doomed})"),
    ("sessions", "DELETE FROM sessions WHERE id IN ({doomed})"),
)


def query_values(new: NewQueryEvent) -> tuple[object, ...]:
    """:data:`INSERT_QUERY`'s parameters: the text's hash and length, never the text."""
    return (new.id, new.session_id, to_text(new.timestamp), query_hash(new.query_text),
            len(new.query_text), new.query_type, new.latency_ms, new.tool_calls,
            new.retrieval_count, new.result_count, new.result_quality_score,
            new.error_category, new.profile_used, new.tools_used_json)


INSERT_SESSION: Final = ("INSERT INTO sessions (id, started_at, profile, client_version, os_family) "
                         f"VALUES (?, ?, ?, ?, ?) RETURNING {SESSION_COLUMNS}")
INSERT_FEEDBACK: Final = (
    "INSERT INTO feedback (id, session_id, timestamp, feedback_type, query_id, rating, category, "
    f"context_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {FEEDBACK_COLUMNS}")
INSERT_TRACE: Final = (
    "INSERT INTO reasoning_traces (id, session_id, timestamp, thinktool_name, step_count, "
    "total_ms, query_id, coherence_score, depth_score, step_types) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TRACE_COLUMNS}")


def session_values(new: NewSession) -> tuple[object, ...]:
    """:data:`INSERT_SESSION`'s parameters."""
    return (new.id, to_text(new.started_at), new.profile, new.client_version, new.os_family)


def feedback_values(new: NewFeedbackEvent) -> tuple[object, ...]:
    """:data:`INSERT_FEEDBACK`'s parameters."""
    return (new.id, new.session_id, to_text(new.timestamp), new.feedback_type, new.query_id,
            new.rating, new.category, new.context_hash)


def trace_values(new: NewTraceEvent) -> tuple[object, ...]:
    """:data:`INSERT_TRACE`'s parameters."""
    return (new.id, new.session_id, to_text(new.timestamp), new.thinktool_name, new.step_count,
            new.total_ms, new.query_id, new.coherence_score, new.depth_score,
            new.step_types_json)


_LABELED: Final = (
    "SELECT * FROM (SELECT q.id, q.query_type, q.query_length, q.latency_ms, "
    "q.result_quality_score, (SELECT f.feedback_type = 'thumbs_up' FROM feedback AS f "
    "WHERE f.query_id = q.id AND f.feedback_type IN ('thumbs_up', 'thumbs_down') "
    "ORDER BY f.timestamp DESC, f.id DESC LIMIT 1) AS label, q.timestamp "
    "FROM queries AS q) WHERE label IS NOT NULL")
"""Every query with thumbs feedback, labelled by its latest; the listing and its pages
add their order (and the page its place) to it."""
_NEWEST_FIRST: Final = " ORDER BY timestamp DESC, id DESC LIMIT ?"


def _sample(row: Any) -> LabeledSample:
    return LabeledSample(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


class SqliteTelemetry(SqliteTelemetryMl):
    """Implements :class:`~storecheck.conformance.specs.telemetry.TelemetryStore`."""

    spec = SPEC
    migrations = MIGRATIONS

    def __init__(self, path: str, **options: Any) -> None:
        super().__init__(path, **options)
        self.vectors = VectorIndex(SERIAL_COMMITS)

    # -- sessions and events -----------------------------------------------------------

    @staticmethod
    def _session(conn: Connection, session_id: str, operation: str) -> Session:
        row = conn.execute(SELECT_SESSION, (session_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such session", session_id)
        return rows.session(row)

    def create_session(self, new: NewSession) -> Session:
        new = inputs.new_session(new)
        with self._tx("create_session", new.id) as conn:
            return rows.session(conn.execute(INSERT_SESSION, session_values(new)).fetchone())

    def end_session(self, session_id: str, at: datetime) -> Session:
        v = inputs.check("end_session")
        session_id, at = v.text("session_id", session_id), v.timestamp("at", at)
        with self._tx("end_session", session_id) as conn:
            session = self._session(conn, session_id, "end_session")
            if session.ended_at is not None:
                raise Conflict(SPEC, "end_session", "the session has ended", session_id)
            duration = (at - session.started_at) // timedelta(milliseconds=1)
            # The condition again in the UPDATE: of two concurrent ends, one changes nothing.
            changed = conn.execute("UPDATE sessions SET ended_at = ?, duration_ms = ? "
                                   "WHERE id = ? AND ended_at IS NULL",
                                   (to_text(at), duration, session_id))
            if changed.rowcount == 0:
                raise Conflict(SPEC, "end_session", "the session has ended", session_id)
            return self._session(conn, session_id, "end_session")

    def get_session(self, session_id: str) -> Session:
        inputs.check("get_session").text("session_id", session_id)
        with self._tx("get_session", session_id, write=False) as conn:
            return self._session(conn, session_id, "get_session")

    def record_query(self, new: NewQueryEvent) -> QueryEvent:
        new = inputs.new_query(new)
        with self._tx("record_query", new.id) as conn:
            return rows.query(conn.execute(INSERT_QUERY, query_values(new)).fetchone())

    def record_feedback(self, new: NewFeedbackEvent) -> FeedbackEvent:
        new = inputs.new_feedback(new)
        with self._tx("record_feedback", new.id) as conn:
            return rows.feedback(conn.execute(INSERT_FEEDBACK, feedback_values(new)).fetchone())

    def record_trace(self, new: NewTraceEvent) -> TraceEvent:
        new = inputs.new_trace(new)
        with self._tx("record_trace", new.id) as conn:
            return rows.trace(conn.execute(INSERT_TRACE, trace_values(new)).fetchone())

    def session_activity(self, session_id: str) -> SessionActivity:
        inputs.check("session_activity").text("session_id", session_id)
        with self._tx("session_activity", session_id, write=False) as conn:
            self._session(conn, session_id, "session_activity")
            oldest_first = "WHERE session_id = ? ORDER BY timestamp, id"
            return SessionActivity(
                tuple(rows.query(row) for row in conn.execute(
                    f"SELECT {QUERY_COLUMNS} FROM queries {oldest_first}", (session_id,))),
                tuple(rows.feedback(row) for row in conn.execute(
                    f"SELECT {FEEDBACK_COLUMNS} FROM feedback {oldest_first}", (session_id,))),
                tuple(rows.trace(row) for row in conn.execute(
                    f"SELECT {TRACE_COLUMNS} FROM reasoning_traces {oldest_first}",
                    (session_id,))))

    @staticmethod
    def _delete_sessions(conn: Connection, doomed: str, values: tuple[object, ...]) -> DeletedRows:
        """Delete the sessions whose ids ``doomed`` selects, and everything of them."""
        counts = {name: conn.execute(statement.format(doomed=doomed),
                                     values * statement.count("{doomed}")).rowcount
                  for name, statement in DELETE_SESSIONS}
        return DeletedRows(counts["sessions"], counts["queries"], counts["feedback"],
                           counts["traces"], counts["feature_vectors"])

    def delete_session(self, session_id: str) -> DeletedRows:
        inputs.check("delete_session").text("session_id", session_id)
        with self._tx("delete_session", session_id) as conn:
            self._session(conn, session_id, "delete_session")
            return self._delete_sessions(conn, "SELECT id FROM sessions WHERE id = ?",
                                         (session_id,))

    def prune_old_data(self, before: datetime) -> DeletedRows:
        cutoff = to_text(inputs.check("prune_old_data").timestamp("before", before))
        with self._tx("prune_old_data", cutoff) as conn:
            return self._delete_sessions(conn, "SELECT id FROM sessions WHERE ended_at < ?",
                                         (cutoff,))

    # -- aggregates ----------------------------------------------------------------------

    @staticmethod
    def _metrics(conn: Connection, start: str, end: str) -> AggregatedMetrics:
        count, total, errors = conn.execute(
            f"SELECT count(*), sum(latency_ms), count(error_category) FROM queries "
            f"WHERE {IN_WINDOW}", (start, end)).fetchone()
        p50, p95, p99 = (
            None if count == 0 else conn.execute(
                f"SELECT latency_ms FROM queries WHERE {IN_WINDOW} ORDER BY latency_ms "
                "LIMIT 1 OFFSET ?", (start, end,
                                    max(1, math.ceil(percent * count / 100)) - 1)).fetchone()[0]
            for percent in PERCENTILES)
        by_type = dict(conn.execute(f"SELECT query_type, count(*) FROM queries "
                                    f"WHERE {IN_WINDOW} GROUP BY query_type", (start, end)))
        feedback, positive = conn.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN feedback_type = 'thumbs_up' THEN 1 ELSE 0 END), "
            "0) FROM feedback "
            f"WHERE {IN_WINDOW}", (start, end)).fetchone()
        # int(): PostgreSQL's sum() over a bigint column is numeric.
        return AggregatedMetrics(count, feedback, ratio(int(total or 0), count), p50, p95, p99,
                                 ratio(errors, count), ratio(int(positive), feedback), by_type)

    def aggregated_metrics(self, start: datetime, end: datetime) -> AggregatedMetrics:
        start, end = inputs.window("aggregated_metrics", start, end)
        with self._tx("aggregated_metrics", (start, end), write=False) as conn:
            return self._metrics(conn, to_text(start), to_text(end))

    def batch_update_aggregates(self, days: Sequence[date]) -> list[DailyAggregate]:
        checked = inputs.days(days)
        computed: list[DailyAggregate] = []
        with self._tx("batch_update_aggregates", len(checked)) as conn:
            for day in checked:
                start = inputs.day_start(day)
                metrics = self._metrics(conn, to_text(start),
                                        to_text(start + timedelta(days=1)))
                conn.execute(UPSERT_AGGREGATE, (day.isoformat(), *rows.metrics_values(metrics)))
                computed.append(DailyAggregate(day, metrics))
        return computed

    def daily_aggregates(self, first: date, last: date) -> list[DailyAggregate]:
        first, last = inputs.day_range(first, last)
        with self._tx("daily_aggregates", (first, last), write=False) as conn:
            found = conn.execute(f"SELECT {AGGREGATE_COLUMNS} FROM daily_aggregates "
                                 "WHERE date >= ? AND date <= ? ORDER BY date",
                                 (first.isoformat(), last.isoformat()))
            return [rows.aggregate(row) for row in found]

    def export_anonymized(self, start: datetime, end: datetime) -> list[AnonymizedQuery]:
        start, end = inputs.window("export_anonymized", start, end)
        with self._tx("export_anonymized", (start, end), write=False) as conn:
            found = conn.execute(
                "SELECT substr(timestamp, 1, 10) AS day, query_type, query_length, latency_ms, "
                "tool_calls, result_quality_score, error_occurred, thumbs_up, thumbs_down "
                f"FROM v_training_data_export WHERE {IN_WINDOW} "
                "ORDER BY 1, 2, 3, 4, 5, 6 NULLS FIRST, 7, 8, 9",
                (to_text(start), to_text(end))).fetchall()
        return [AnonymizedQuery(date.fromisoformat(row[0]), row[1], row[2], row[3], row[4],
                                row[5], bool(row[6]), row[7], row[8]) for row in found]

    # -- exports ---------------------------------------------------------------------------

    def export_training_data(self, start: datetime, end: datetime,
                             format: str) -> TrainingDataExport:
        start, end, format = inputs.export(start, end, format)
        with self._tx("export_training_data", (start, end), write=False) as conn:
            found = conn.execute(EXPORT, (to_text(start), to_text(end))).fetchall()
        return training_data([rows.export_row(row) for row in found], format)

    def get_labeled_samples(self, limit: int | None) -> list[LabeledSample]:
        limit = inputs.check("get_labeled_samples").optional_limit(limit)
        with self._tx("get_labeled_samples", limit, write=False) as conn:
            found = conn.execute(_LABELED + _NEWEST_FIRST, (row_limit(limit),)).fetchall()
        return [_sample(row) for row in found]

    def labeled_samples_page(self, limit: int,
                             after: SampleCursor | None = None) -> SamplePage:
        limit, after = inputs.samples_page(limit, after)
        with self._tx("labeled_samples_page", limit, write=False) as conn:
            if after is None:
                found = conn.execute(_LABELED + _NEWEST_FIRST, (rows_to_read(limit),)).fetchall()
            else:
                # The bound on the time alone lets the time index seek to the place.
                place = to_text(after.timestamp)
                found = conn.execute(
                    _LABELED + " AND timestamp <= ? AND (timestamp, id) < (?, ?)" + _NEWEST_FIRST,
                    (place, place, after.query_id, rows_to_read(limit))).fetchall()
        # The place is the query's time, which a sample does not carry: read from the row.
        page, cursor = keyset_page(found, limit, lambda row: SampleCursor(from_text(row[6]), row[0]))
        return SamplePage(tuple(_sample(row) for row in page), cursor)
