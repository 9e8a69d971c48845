"""The reference ``extraction`` store on SQLite (seed 002)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Final, NamedTuple

from storecheck.conformance.errors import Conflict, NotFound
from storecheck.conformance.specs import extraction_inputs as inputs
from storecheck.conformance.specs.extraction import (
    SPEC,
    AgentStats,
    CodeBlock,
    EventCursor,
    EventFilter,
    EventPage,
    ExtractionEvent,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
    PatternStats,
    ProcessSession,
    ProcessSessionUpdate,
    PurgeCounts,
    ReplayStep,
    SavedCodeBlock,
    SessionTotals,
    StateChange,
    content_digest,
    replay_steps,
)
from storecheck.conformance.specs.text_search import matches, tokens
from storecheck.reference_impl.engine import load_migrations
from storecheck.reference_impl.engine.pages import keyset_page, rows_to_read
from storecheck.reference_impl.engine.sql import Connection, qualified
from storecheck.reference_impl.engine.store import VacuumingStore
from storecheck.reference_impl.engine.text_index import FTS5_TOKENS, TokenMatch
from storecheck.reference_impl.engine.timestamps import optional_from_text, to_text
from storecheck.reference_impl.extraction import rows
from storecheck.reference_impl.extraction.backups import ExtractionBackups
from storecheck.reference_impl.extraction.export import ExtractionExport
from storecheck.reference_impl.extraction.rows import (
    BLOCK_COLUMNS,
    CHANGE_COLUMNS,
    EVENT_COLUMNS,
    SESSION_COLUMNS,
)

MIGRATIONS = load_migrations("storecheck.reference_impl.extraction.migrations")

EVENT_INSERT_HEAD: Final = (
    "INSERT INTO extraction_events (agent_name, session_id, timestamp, event_type, pattern, "
    "matched_value, original_line, line_number, metadata_json, code_block_language, risk_level, "
    "auto_confirmable) VALUES "
)
EVENT_ROW: Final = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_EVENT: Final = f"{EVENT_INSERT_HEAD}{EVENT_ROW} RETURNING {EVENT_COLUMNS}"
ROWS_PER_INSERT: Final = 500
"""A batch is inserted this many events per statement (12 parameters each: far below
SQLite's 32,766 and PostgreSQL's 65,535 per statement)."""


def insert_events_statement(count: int) -> str:
    """One INSERT of ``count`` events: one round trip for a batch instead of one per event."""
    return f"{EVENT_INSERT_HEAD}{', '.join([EVENT_ROW] * count)} RETURNING {EVENT_COLUMNS}"
NEWEST_FIRST: Final = "ORDER BY timestamp DESC, id DESC LIMIT ?"
INSERT_CHANGE: Final = (
    "INSERT INTO process_state_changes (session_id, timestamp, state, exit_code, metadata_json) "
    f"VALUES (?, ?, ?, ?, ?) RETURNING {CHANGE_COLUMNS}"
)
SESSIONS_NEWEST_FIRST: Final = "ORDER BY started_at DESC, id DESC"
EVENTS_BY_AGENT: Final = (
    f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE agent_name = ? {NEWEST_FIRST}")
EVENTS_OF_SESSION: Final = (
    f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE session_id = ? ORDER BY timestamp, id")
EVENTS_OF_SESSION_FROM: Final = (
    f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE session_id = ? AND timestamp >= ? "
    "ORDER BY timestamp, id")
SELECT_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM process_sessions WHERE session_id = ?"
INSERT_SESSION: Final = (
    "INSERT INTO process_sessions (agent_name, session_id, environment, started_at, "
    "stdout_log_path, stderr_log_path, extraction_config_version, environment_config_version) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {SESSION_COLUMNS}"
)
UPDATABLE: Final = ("environment", "stdout_log_path", "stderr_log_path",
                    "extraction_config_version", "environment_config_version")

AGENT_EVENTS_BY: Final = {
    field: f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE agent_name = ? AND {field} = ? "
           f"{NEWEST_FIRST}"
    for field in ("event_type", "pattern", "risk_level")}
"""One agent's events with one column equal to a value, newest first, through the index on
(agent, that column, time, id)."""


FILTERED: Final = tuple(field.name for field in fields(EventFilter))
"""The columns an :class:`EventFilter` may name: its fields, by the same names."""


class EventQuery(NamedTuple):
    """The statements of one ``query_events`` filter and the values they all start with."""

    total: str
    """The count of every event the filter matches."""
    first_page: str
    page_after: str
    """Bound with :attr:`values`, then the cursor's timestamp and id, then the limit."""
    values: tuple[object, ...]


def event_statements(where: EventFilter) -> EventQuery:
    """The count, the first page and a page after a cursor of ``query_events`` for the
    fields ``where`` gives (the columns are :data:`FILTERED`'s; every value is bound)."""
    given = _given(where)
    equal = [f"{name} = ?" for name in given]
    # A row value seeks into the index to the cursor; an OR of two comparisons walks it.
    after = [*equal, "(timestamp, id) < (?, ?)"]
    return EventQuery(
        f"SELECT count(*) FROM extraction_events{_where(equal)}",
        f"SELECT {EVENT_COLUMNS} FROM extraction_events{_where(equal)} {NEWEST_FIRST}",
        f"SELECT {EVENT_COLUMNS} FROM extraction_events{_where(after)} {NEWEST_FIRST}",
        tuple(getattr(where, name) for name in given))


EVENTS_INDEX: Final = "events_fts"
"""The full-text index of each event's matched value and original line (version 5)."""


def search_statement(where: EventFilter, token_match: TokenMatch) -> tuple[str, tuple[object, ...]]:
    """``search_events``: the events whose text ``token_match``'s one parameter matches
    and that ``where`` selects, newest first; bound with the match, the values returned,
    then the limit."""
    given = _given(where)
    conditions = [f"e.id = {EVENTS_INDEX}.rowid", token_match.condition.format(index=EVENTS_INDEX),
                  *(f"e.{name} = ?" for name in given)]
    # CROSS JOIN keeps SQLite's order as written: the index's few hits first, each event
    # then by its key.  Driven from a filter's index instead, every event of the agent
    # would ask the index about itself (35 ms on 10,000 events against 0.02 ms).
    return (f"SELECT {qualified(EVENT_COLUMNS, 'e')} FROM {EVENTS_INDEX} CROSS JOIN extraction_events AS e"
            f"{_where(conditions)} ORDER BY e.timestamp DESC, e.id DESC LIMIT ?",
            tuple(getattr(where, name) for name in given))


def _given(where: EventFilter) -> list[str]:
    """The :data:`FILTERED` columns ``where`` gives a value for."""
    return [name for name in FILTERED if getattr(where, name) is not None]


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def _searched_text(event: ExtractionEvent) -> str:
    return " ".join(text for text in (event.matched_value, event.original_line) if text is not None)


def event_values(new: NewExtractionEvent) -> tuple[object, ...]:
    return (new.agent_name, new.session_id, to_text(new.timestamp), new.event_type, new.pattern,
            new.matched_value, new.original_line, new.line_number, new.metadata_json,
            new.code_block_language, new.risk_level, int(new.auto_confirmable))


class SqliteExtraction(ExtractionBackups, ExtractionExport, VacuumingStore):
    """Implements :class:`~storecheck.conformance.specs.extraction.ExtractionStore`."""

    spec = SPEC
    migrations = MIGRATIONS
    token_match: TokenMatch = FTS5_TOKENS

    # -- extraction events -------------------------------------------------------

    def save_event(self, new: NewExtractionEvent) -> ExtractionEvent:
        new = inputs.new_event(new)
        with self._tx("save_event", new.session_id) as conn:
            return rows.event(conn.execute(INSERT_EVENT, event_values(new)).fetchone())

    def save_events(self, batch: Sequence[NewExtractionEvent]) -> list[ExtractionEvent]:
        checked = inputs.event_batch(batch)
        stored: list[ExtractionEvent] = []
        with self._tx("save_events", len(checked)) as conn:
            for first in range(0, len(checked), ROWS_PER_INSERT):
                found = self._insert_events(conn, checked[first:first + ROWS_PER_INSERT])
                # RETURNING's row order is unspecified; the ids follow the batch's order.
                stored += sorted((rows.event(row) for row in found), key=lambda e: e.id)
        return stored

    def _insert_events(self, conn: Connection,
                       chunk: Sequence[NewExtractionEvent]) -> list[tuple[object, ...]]:
        """The stored rows of ``chunk``, inserted by one statement."""
        return conn.execute(insert_events_statement(len(chunk)), [
            value for new in chunk for value in event_values(new)]).fetchall()

    def _events(self, operation: str, statement: str,
                values: tuple[object, ...]) -> list[ExtractionEvent]:
        with self._tx(operation, values, write=False) as conn:
            found = conn.execute(statement, values).fetchall()
        return [rows.event(row) for row in found]

    def events_by_agent(self, agent_name: str, limit: int) -> list[ExtractionEvent]:
        v = inputs.check("events_by_agent")
        return self._events("events_by_agent", EVENTS_BY_AGENT,
                            (v.text("agent_name", agent_name), v.limit(limit)))

    def _agent_events_by(self, operation: str, field: str, agent_name: str, value: str,
                         limit: int) -> list[ExtractionEvent]:
        """The agent's events whose ``field`` (a column of :data:`AGENT_EVENTS_BY`) is
        ``value``, newest first."""
        v = inputs.check(operation)
        return self._events(operation, AGENT_EVENTS_BY[field],
                            (v.text("agent_name", agent_name), v.text(field, value),
                             v.limit(limit)))

    def events_by_type(self, agent_name: str, event_type: str,
                       limit: int) -> list[ExtractionEvent]:
        return self._agent_events_by("events_by_type", "event_type", agent_name, event_type,
                                     limit)

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        return self._agent_events_by("events_by_risk", "risk_level", agent_name, risk_level,
                                     limit)

    def events_by_pattern(self, agent_name: str, pattern: str,
                          limit: int) -> list[ExtractionEvent]:
        return self._agent_events_by("events_by_pattern", "pattern", agent_name, pattern, limit)

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        where, limit, after = inputs.event_query(where, limit, after)
        query = event_statements(where)
        with self._tx("query_events", query.values, write=False) as conn:
            total = conn.execute(query.total, query.values).fetchone()[0]
            read = rows_to_read(limit)
            found = (conn.execute(query.first_page, (*query.values, read)) if after is None
                     else conn.execute(query.page_after, (*query.values, to_text(after.timestamp),
                                                          after.id, read))).fetchall()
        items, cursor = keyset_page([rows.event(row) for row in found], limit,
                                    lambda e: EventCursor(e.timestamp, e.id))
        return EventPage(items, total, cursor)

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        text, where, limit = inputs.event_search(text, where, limit)
        terms = tokens(text)
        if not terms:
            every = event_statements(where)
            sql, values = every.first_page, every.values
        else:
            sql, values = search_statement(where, self.token_match)
            values = (self.token_match.match(terms), *values)
        # The index holds a prefix of a very long token: its hits are every event with a
        # token starting like the query's, and the spec's rule picks the real ones.
        recheck = self.token_match.needs_recheck(terms)
        with self._tx("search_events", text, write=False) as conn:
            found = [rows.event(row) for row in conn.execute(
                sql, (*values, 2**62 if recheck else limit)).fetchall()]
        if recheck:
            found = [event for event in found if matches(text, _searched_text(event))]
        return found[:limit]

    def events_by_session(self, session_id: str) -> list[ExtractionEvent]:
        inputs.check("events_by_session").text("session_id", session_id)
        with self._tx("events_by_session", session_id, write=False) as conn:
            return self._session_events(conn, session_id)

    @staticmethod
    def _session_events(conn: Connection, session_id: str,
                        start: datetime | None = None) -> list[ExtractionEvent]:
        """The session's events oldest first, from ``start`` on when given."""
        found = (conn.execute(EVENTS_OF_SESSION, (session_id,)) if start is None
                 else conn.execute(EVENTS_OF_SESSION_FROM, (session_id, to_text(start))))
        return [rows.event(row) for row in found]

    def agent_stats(self, agent_name: str) -> AgentStats:
        inputs.check("agent_stats").text("agent_name", agent_name)
        with self._tx("agent_stats", agent_name, write=False) as conn:
            by_type = dict(conn.execute(
                "SELECT event_type, count(*) FROM extraction_events WHERE agent_name = ? "
                "GROUP BY event_type", (agent_name,)).fetchall())
            by_risk = dict(conn.execute(
                "SELECT risk_level, count(*) FROM extraction_events WHERE agent_name = ? "
                "AND risk_level IS NOT NULL GROUP BY risk_level", (agent_name,)).fetchall())
            sessions, completed, succeeded = conn.execute(
                "SELECT count(*), count(ended_at), "
                "coalesce(sum(CASE WHEN ended_at IS NOT NULL AND exit_code = 0 THEN 1 ELSE 0 END), 0) "
                "FROM process_sessions WHERE agent_name = ?", (agent_name,)).fetchone()
        return AgentStats(agent_name, sum(by_type.values()), by_type, by_risk, sessions,
                          completed, succeeded / completed if completed else None)

    def pattern_stats(self, pattern: str) -> PatternStats:
        inputs.check("pattern_stats").text("pattern", pattern)
        with self._tx("pattern_stats", pattern, write=False) as conn:
            by_agent = dict(conn.execute(
                "SELECT agent_name, count(*) FROM extraction_events WHERE pattern = ? "
                "GROUP BY agent_name", (pattern,)).fetchall())
            by_type = dict(conn.execute(
                "SELECT event_type, count(*) FROM extraction_events WHERE pattern = ? "
                "GROUP BY event_type", (pattern,)).fetchall())
            first, last = conn.execute(
                "SELECT min(timestamp), max(timestamp) FROM extraction_events WHERE pattern = ?",
                (pattern,)).fetchone()
        return PatternStats(pattern, sum(by_agent.values()), by_agent, by_type,
                            optional_from_text(first), optional_from_text(last))

    def timeline(self, agent_name: str, start: datetime, end: datetime) -> list[ExtractionEvent]:
        agent_name, start, end = inputs.window(agent_name, start, end)
        with self._tx("timeline", agent_name, write=False) as conn:
            found = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE agent_name = ? "
                "AND timestamp >= ? AND timestamp < ? ORDER BY timestamp, id",
                (agent_name, to_text(start), to_text(end))).fetchall()
        return [rows.event(row) for row in found]

    # -- code blocks -------------------------------------------------------------

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock:
        new = inputs.new_code_block(new)
        digest = content_digest(new.content)
        with self._tx("save_code_block", digest) as conn:
            # DO NOTHING on the digest only: a CHECK still refuses a bad block, and the
            # stored block is read back by its digest, never by the last insert's id.
            inserted = conn.execute(
                "INSERT INTO code_blocks (agent_name, session_id, timestamp, content, digest, "
                "language, line_start, line_end, context_json, parseable) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                (new.agent_name, new.session_id, to_text(new.timestamp), new.content, digest,
                 new.language, new.line_start, new.line_end, new.context_json,
                 None if new.parseable is None else int(new.parseable)))
            row = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM code_blocks WHERE digest = ?",
                               (digest,)).fetchone()
        return SavedCodeBlock(rows.block(row), inserted.rowcount == 1)

    def code_blocks(self, agent_name: str, language: str | None, limit: int) -> list[CodeBlock]:
        v = inputs.check("code_blocks")
        v.text("agent_name", agent_name)
        v.optional_text("language", language)
        limit = v.limit(limit)
        with self._tx("code_blocks", agent_name, write=False) as conn:
            if language is None:
                found = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM code_blocks "
                                     f"WHERE agent_name = ? {NEWEST_FIRST}",
                                     (agent_name, limit)).fetchall()
            else:
                found = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM code_blocks "
                                     f"WHERE agent_name = ? AND language = ? {NEWEST_FIRST}",
                                     (agent_name, language, limit)).fetchall()
        return [rows.block(row) for row in found]

    # -- process sessions --------------------------------------------------------

    @staticmethod
    def _session(conn: Connection, session_id: str, operation: str) -> ProcessSession:
        row = conn.execute(SELECT_SESSION, (session_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such process session", session_id)
        return rows.session(row)

    @staticmethod
    def _record(conn: Connection, new: NewStateChange) -> StateChange:
        return rows.change(conn.execute(INSERT_CHANGE, (
            new.session_id, to_text(new.timestamp), new.state, new.exit_code,
            new.metadata_json)).fetchone())

    def create_session(self, new: NewProcessSession) -> ProcessSession:
        new = inputs.new_session(new)
        with self._tx("create_session", new.session_id) as conn:
            row = conn.execute(INSERT_SESSION, (
                new.agent_name, new.session_id, new.environment, to_text(new.started_at),
                new.stdout_log_path, new.stderr_log_path, new.extraction_config_version,
                new.environment_config_version)).fetchone()
            # The same transaction: a session never exists without its first state.
            self._record(conn, NewStateChange(new.session_id, new.started_at, "started"))
        return rows.session(row)

    def update_session(self, session_id: str, update: ProcessSessionUpdate) -> ProcessSession:
        inputs.check("update_session").text("session_id", session_id)
        update = inputs.session_update(update)
        with self._tx("update_session", session_id) as conn:
            # No row changed means no such session: the read below raises NotFound.
            conn.execute(
                "UPDATE process_sessions SET "
                + ", ".join(f"{name} = coalesce(?, {name})" for name in UPDATABLE)
                + " WHERE session_id = ?",
                (*(getattr(update, name) for name in UPDATABLE), session_id))
            return self._session(conn, session_id, "update_session")

    def record_progress(self, session_id: str, lines_processed: int, extraction_events: int,
                        feedback_outcomes: int) -> ProcessSession:
        inputs.check("record_progress").text("session_id", session_id)
        values = inputs.progress(lines_processed, extraction_events, feedback_outcomes)
        with self._tx("record_progress", session_id) as conn:
            # One UPDATE reading and writing the totals: no read-modify-write window.  No
            # row changed means no such session: the read below raises NotFound.
            conn.execute(
                "UPDATE process_sessions SET total_lines_processed = total_lines_processed + ?, "
                "total_extraction_events = total_extraction_events + ?, "
                "total_feedback_outcomes = total_feedback_outcomes + ? WHERE session_id = ?",
                (*values, session_id))
            return self._session(conn, session_id, "record_progress")

    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        inputs.check("complete_session").text("session_id", session_id)
        exit_code, at, totals = inputs.completion(exit_code, at, totals)
        final = (None, None, None) if totals is None else (
            totals.lines_processed, totals.extraction_events, totals.feedback_outcomes)
        with self._tx("complete_session", session_id) as conn:
            # The condition and the change in one statement: of concurrent completions
            # exactly one finds ended_at still NULL.
            changed = conn.execute(
                "UPDATE process_sessions SET ended_at = ?, exit_code = ?, "
                "total_lines_processed = coalesce(?, total_lines_processed), "
                "total_extraction_events = coalesce(?, total_extraction_events), "
                "total_feedback_outcomes = coalesce(?, total_feedback_outcomes) "
                "WHERE session_id = ? AND ended_at IS NULL",
                (to_text(at), exit_code, *final, session_id))
            if changed.rowcount == 0:
                self._session(conn, session_id, "complete_session")
                raise Conflict(SPEC, "complete_session", "session already completed", session_id)
            self._record(conn, NewStateChange(session_id, at, "completed", exit_code))
            return self._session(conn, session_id, "complete_session")

    def get_session(self, session_id: str) -> ProcessSession:
        inputs.check("get_session").text("session_id", session_id)
        with self._tx("get_session", session_id, write=False) as conn:
            return self._session(conn, session_id, "get_session")

    def sessions_by_agent(self, agent_name: str, limit: int) -> list[ProcessSession]:
        v = inputs.check("sessions_by_agent")
        agent_name, limit = v.text("agent_name", agent_name), v.limit(limit)
        with self._tx("sessions_by_agent", agent_name, write=False) as conn:
            found = conn.execute(f"SELECT {SESSION_COLUMNS} FROM process_sessions "
                                 f"WHERE agent_name = ? {SESSIONS_NEWEST_FIRST} LIMIT ?",
                                 (agent_name, limit)).fetchall()
        return [rows.session(row) for row in found]

    def session_history(self, agent_name: str, days: int, now: datetime) -> list[ProcessSession]:
        agent_name, since = inputs.history(agent_name, days, now)
        with self._tx("session_history", agent_name, write=False) as conn:
            found = conn.execute(f"SELECT {SESSION_COLUMNS} FROM process_sessions "
                                 f"WHERE agent_name = ? AND started_at >= ? "
                                 f"{SESSIONS_NEWEST_FIRST}", (agent_name, to_text(since)))
            return [rows.session(row) for row in found]

    def active_sessions(self) -> list[ProcessSession]:
        with self._tx("active_sessions", write=False) as conn:
            found = conn.execute(f"SELECT {SESSION_COLUMNS} FROM process_sessions "
                                 f"WHERE ended_at IS NULL {SESSIONS_NEWEST_FIRST}")
            return [rows.session(row) for row in found]

    def record_state_change(self, new: NewStateChange) -> StateChange:
        new = inputs.new_state_change(new)
        with self._tx("record_state_change", new.session_id) as conn:
            return self._record(conn, new)

    def state_changes(self, session_id: str) -> list[StateChange]:
        inputs.check("state_changes").text("session_id", session_id)
        with self._tx("state_changes", session_id, write=False) as conn:
            self._session(conn, session_id, "state_changes")
            found = conn.execute(f"SELECT {CHANGE_COLUMNS} FROM process_state_changes "
                                 "WHERE session_id = ? ORDER BY timestamp, id", (session_id,))
            return [rows.change(row) for row in found]

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        v = inputs.check("replay")
        v.text("session_id", session_id)
        factor = inputs.speed(speed)
        begin = v.optional_timestamp("start", start)
        with self._tx("replay", session_id, write=False) as conn:
            self._session(conn, session_id, "replay")
            events = self._session_events(conn, session_id, begin)
        return replay_steps(events, factor)

    def purge_sessions(self, ended_before: datetime) -> PurgeCounts:
        cutoff = to_text(inputs.check("purge_sessions").timestamp("ended_before", ended_before))
        ended = "SELECT session_id FROM process_sessions WHERE ended_at < ?"
        with self._tx("purge_sessions", cutoff) as conn:
            # Children first, parents last, one transaction: the foreign key from the state
            # changes holds at every statement, and a failure leaves everything in place.
            counts = [conn.execute(f"DELETE FROM {table} WHERE session_id IN ({ended})",
                                   (cutoff,)).rowcount
                      for table in ("process_state_changes", "extraction_events", "code_blocks")]
            sessions = conn.execute("DELETE FROM process_sessions WHERE ended_at < ?",
                                    (cutoff,)).rowcount
        return PurgeCounts(sessions, *counts)
