"""Deliberately broken variants of the reference ``extraction`` store.

The first ones are the defects of the real store seed 002 describes (a stale id
for a deduplicated block, a session and its first state in two autocommits,
foreign keys declared but never enabled); the rest are the ways the related
seeds get the same operations wrong.  ``MUTANTS`` maps each to the conformance
category that must catch it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs import extraction_inputs as inputs
from storecheck.conformance.specs.extraction import (
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
    ProcessSession,
    ProcessSessionUpdate,
    PurgeCounts,
    ReplayStep,
    SavedCodeBlock,
    SessionTotals,
    SpaceReport,
    replay_steps,
)
from storecheck.conformance.specs.text_search import matches, tokens
from storecheck.reference_impl.engine import ConnectionRules
from storecheck.reference_impl.engine.checkpoint import wal_bytes
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.extraction import MIGRATIONS, SqliteExtraction, rows as row_codec
from storecheck.reference_impl.extraction.rows import BLOCK_COLUMNS, EVENT_COLUMNS

from tests.mutants import edit_migration, per_chunk, sqlite_mutant_backends

_PURGED = "SELECT session_id FROM process_sessions WHERE ended_at < ?"


class DedupReturnsTheIgnoredRowsId(SqliteExtraction):
    """The seed's store: ``INSERT OR IGNORE`` then ``LastInsertId()``, which for an ignored
    row is the id of whatever the connection inserted last (or zero)."""

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock:
        saved = super().save_code_block(new)
        if saved.created:
            return saved
        with self._tx("save_code_block", write=False) as conn:
            (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM code_blocks").fetchone()
        return SavedCodeBlock(replace(saved.block, id=last), False)


class SessionAndFirstStateInTwoCommits(SqliteExtraction):
    """The seed's store: two autocommit inserts; a crash between them leaves a session
    without history."""

    def create_session(self, new: NewProcessSession) -> ProcessSession:
        new = inputs.new_session(new)
        with self._tx("create_session", new.session_id) as conn:
            conn.execute(
                "INSERT INTO process_sessions (agent_name, session_id, environment, started_at, "
                "stdout_log_path, stderr_log_path, extraction_config_version, "
                "environment_config_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (new.agent_name, new.session_id, new.environment, to_text(new.started_at),
                 new.stdout_log_path, new.stderr_log_path, new.extraction_config_version,
                 new.environment_config_version))
        with self._tx("create_session", new.session_id) as conn:
            self._record(conn, NewStateChange(new.session_id, new.started_at, "started"))
            return self._session(conn, new.session_id, "create_session")


class ForeignKeysNeverEnabled(SqliteExtraction):
    """The seed's store declares the foreign key but never runs ``PRAGMA foreign_keys``."""

    rules = ConnectionRules(foreign_keys=False)


class BatchCommitsPerRow(SqliteExtraction):
    def save_events(self, batch: Sequence[NewExtractionEvent]) -> list[ExtractionEvent]:
        return [self.save_event(event) for event in batch]


class BatchCommittedPerChunk(SqliteExtraction):
    """A large batch split into chunks of 500 (the reference's rows per statement), each
    chunk its own transaction: a batch refused past its first chunk keeps that chunk."""

    def save_events(self, batch: Sequence[NewExtractionEvent]) -> list[ExtractionEvent]:
        return per_chunk(batch, super().save_events)


class ActiveSessionsTiesByIdAscending(SqliteExtraction):
    """Active sessions started at one instant listed oldest id first, where every other
    session list breaks the tie by id descending."""

    def active_sessions(self) -> list[ProcessSession]:
        return sorted(super().active_sessions(),
                      key=lambda session: (-session.started_at.timestamp(), session.id))


class DedupByContentWithoutDigestIndex(SqliteExtraction):
    """Looks the content up, then inserts: without the UNIQUE digest two callers both
    find nothing and both insert."""

    migrations = edit_migration(MIGRATIONS, 1, "up", "digest TEXT NOT NULL UNIQUE",
                                "digest TEXT NOT NULL")

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock:
        new = inputs.new_code_block(new)
        with self._tx("save_code_block", write=False) as conn:
            row = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM code_blocks WHERE content = ?",
                               (new.content,)).fetchone()
        if row is not None:
            return SavedCodeBlock(row_codec.block(row), False)
        digest = hashlib.sha256(new.content.encode()).hexdigest()
        with self._tx("save_code_block") as conn:
            row = conn.execute(
                "INSERT INTO code_blocks (agent_name, session_id, timestamp, content, digest, "
                "language, line_start, line_end, context_json, parseable) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {BLOCK_COLUMNS}",
                (new.agent_name, new.session_id, to_text(new.timestamp), new.content, digest,
                 new.language, new.line_start, new.line_end, new.context_json,
                 None if new.parseable is None else int(new.parseable))).fetchone()
        return SavedCodeBlock(row_codec.block(row), True)


class StatsFromAStaleCache(SqliteExtraction):
    """Caches each agent's stats at the first call and never invalidates them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stats: dict[str, AgentStats] = {}

    def agent_stats(self, agent_name: str) -> AgentStats:
        if agent_name not in self._stats:
            self._stats[agent_name] = super().agent_stats(agent_name)
        return self._stats[agent_name]


class TimelineEndInclusive(SqliteExtraction):
    def timeline(self, agent_name: str, start: datetime, end: datetime) -> list[ExtractionEvent]:
        agent_name, start, end = inputs.window(agent_name, start, end)
        with self._tx("timeline", agent_name, write=False) as conn:
            found = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE agent_name = ? "
                "AND timestamp BETWEEN ? AND ? ORDER BY timestamp, id",
                (agent_name, to_text(start), to_text(end))).fetchall()
        return [row_codec.event(row) for row in found]


class PurgeParentsFirstOneStatementAtATime(SqliteExtraction):
    """Sessions first, then each child table, each its own autocommit (no foreign key
    complains: the children go before anyone checks)."""

    rules = ConnectionRules(foreign_keys=False)

    def purge_sessions(self, ended_before: datetime) -> PurgeCounts:
        cutoff = to_text(inputs.check("purge_sessions").timestamp("ended_before", ended_before))
        with self._tx("purge_sessions") as conn:
            doomed = [row[0] for row in conn.execute(_PURGED, (cutoff,)).fetchall()]
        counts = {"process_sessions": 0, "process_state_changes": 0, "extraction_events": 0,
                  "code_blocks": 0}
        for table in counts:
            for session_id in doomed:
                with self._tx("purge_sessions") as conn:
                    counts[table] += conn.execute(f"DELETE FROM {table} WHERE session_id = ?",
                                                  (session_id,)).rowcount
        return PurgeCounts(*counts.values())


class PurgeForgetsCodeBlocks(SqliteExtraction):
    def purge_sessions(self, ended_before: datetime) -> PurgeCounts:
        cutoff = to_text(inputs.check("purge_sessions").timestamp("ended_before", ended_before))
        with self._tx("purge_sessions") as conn:
            state_changes, events = [
                conn.execute(f"DELETE FROM {table} WHERE session_id IN ({_PURGED})",
                             (cutoff,)).rowcount
                for table in ("process_state_changes", "extraction_events")]
            sessions = conn.execute("DELETE FROM process_sessions WHERE ended_at < ?",
                                    (cutoff,)).rowcount
        return PurgeCounts(sessions, state_changes, events, 0)


class VacuumIncrementalOnly(SqliteExtraction):
    """``PRAGMA incremental_vacuum``, which gives pages back only in a file created with
    ``auto_vacuum = INCREMENTAL``: on this one it frees nothing."""

    def vacuum(self) -> SpaceReport:
        before = os.path.getsize(self.path) + wal_bytes(self.path)
        self.db.connection().execute("PRAGMA incremental_vacuum")
        return SpaceReport(before, os.path.getsize(self.path) + wal_bytes(self.path))


class PurgeEachTableItsOwnTransaction(SqliteExtraction):
    def purge_sessions(self, ended_before: datetime) -> PurgeCounts:
        cutoff = to_text(inputs.check("purge_sessions").timestamp("ended_before", ended_before))
        counts = []
        for table in ("process_state_changes", "extraction_events", "code_blocks"):
            with self._tx("purge_sessions") as conn:
                counts.append(conn.execute(
                    f"DELETE FROM {table} WHERE session_id IN ({_PURGED})", (cutoff,)).rowcount)
        with self._tx("purge_sessions") as conn:
            sessions = conn.execute("DELETE FROM process_sessions WHERE ended_at < ?",
                                    (cutoff,)).rowcount
        return PurgeCounts(sessions, *counts)


class ProgressReadThenWrite(SqliteExtraction):
    """Reads the totals, adds in Python, writes them back: concurrent additions are lost."""

    def record_progress(self, session_id: str, lines_processed: int, extraction_events: int,
                        feedback_outcomes: int) -> ProcessSession:
        session = self.get_session(session_id)
        lines, events, feedback = inputs.progress(lines_processed, extraction_events,
                                                  feedback_outcomes)
        with self._tx("record_progress", session_id) as conn:
            conn.execute(
                "UPDATE process_sessions SET total_lines_processed = ?, "
                "total_extraction_events = ?, total_feedback_outcomes = ? WHERE session_id = ?",
                (session.total_lines_processed + lines, session.total_extraction_events + events,
                 session.total_feedback_outcomes + feedback, session_id))
            return self._session(conn, session_id, "record_progress")


class CompletionCheckedThenSet(SqliteExtraction):
    """Checks ``ended_at`` in one transaction and completes in another: two racing
    completions both win."""

    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        if self.get_session(session_id).ended_at is not None:
            raise Conflict("extraction", "complete_session", "already completed", session_id)
        with self._tx("complete_session", session_id) as conn:
            conn.execute("UPDATE process_sessions SET ended_at = NULL WHERE session_id = ?",
                         (session_id,))
        return super().complete_session(session_id, exit_code, at, totals)


class CompletingTwiceAllowed(SqliteExtraction):
    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        with self._tx("complete_session", session_id) as conn:
            conn.execute("UPDATE process_sessions SET ended_at = NULL WHERE session_id = ?",
                         (session_id,))
            return super().complete_session(session_id, exit_code, at, totals)


class CompletedStateRecordedBeforeTheUpdate(SqliteExtraction):
    """The ``completed`` change in its own commit, then the session's update in another
    (which refused final totals then fail, leaving the change behind)."""

    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        code, moment, final = inputs.completion(exit_code, at, totals)
        if self.get_session(session_id).ended_at is None:
            with self._tx("complete_session", session_id) as conn:
                self._record(conn, NewStateChange(session_id, moment, "completed", code))
        with self._tx("complete_session", session_id) as conn:
            changed = conn.execute(
                "UPDATE process_sessions SET ended_at = ?, exit_code = ?, "
                "total_lines_processed = coalesce(?, total_lines_processed), "
                "total_extraction_events = coalesce(?, total_extraction_events), "
                "total_feedback_outcomes = coalesce(?, total_feedback_outcomes) "
                "WHERE session_id = ? AND ended_at IS NULL",
                (to_text(moment), code, *((None,) * 3 if final is None else (
                    final.lines_processed, final.extraction_events, final.feedback_outcomes)),
                 session_id))
            if changed.rowcount == 0:
                raise Conflict("extraction", "complete_session", "already completed", session_id)
            return self._session(conn, session_id, "complete_session")


class DigestOfLatin1Bytes(SqliteExtraction):
    """Hashes the content as Latin-1 with replacement: every character beyond U+00FF is
    the same ``?``, so different texts share a digest."""

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock:
        new = inputs.new_code_block(new)
        digest = hashlib.sha256(new.content.encode("latin-1", "replace")).hexdigest()
        with self._tx("save_code_block", digest) as conn:
            inserted = conn.execute(
                "INSERT INTO code_blocks (agent_name, session_id, timestamp, content, digest, "
                "language, line_start, line_end, context_json, parseable) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                (new.agent_name, new.session_id, to_text(new.timestamp), new.content, digest,
                 new.language, new.line_start, new.line_end, new.context_json,
                 None if new.parseable is None else int(new.parseable)))
            row = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM code_blocks WHERE digest = ?",
                               (digest,)).fetchone()
        return SavedCodeBlock(row_codec.block(row), inserted.rowcount == 1)


class MojibakeRepaired(SqliteExtraction):
    """Tries to undo mis-encoding (Latin-1 bytes read back as UTF-8) before storing."""

    def save_event(self, new: NewExtractionEvent) -> ExtractionEvent:
        line = new.original_line
        if isinstance(line, str):
            with contextlib.suppress(UnicodeError):
                line = line.encode("cp1252").decode("utf-8")
        return super().save_event(replace(new, original_line=line))


class ReplayDelaysNotScaled(SqliteExtraction):
    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        steps = super().replay(session_id, speed, start)
        return [replace(step, delay=step.delay * speed) for step in steps]


class HistoryWindowExcludesItsStart(SqliteExtraction):
    def session_history(self, agent_name: str, days: int, now: datetime) -> list[ProcessSession]:
        found = super().session_history(agent_name, days, now)
        _, since = inputs.history(agent_name, days, now)
        return [session for session in found if session.started_at > since]


class AnyLanguageMeansNoLanguage(SqliteExtraction):
    def code_blocks(self, agent_name: str, language: str | None, limit: int) -> list[CodeBlock]:
        found = super().code_blocks(agent_name, language, limit)
        return [block for block in found if language is not None or block.language is None]


class EventsNewestById(SqliteExtraction):
    """Orders by insertion (id) instead of by the event's own timestamp."""

    def events_by_agent(self, agent_name: str, limit: int) -> list[ExtractionEvent]:
        found = super().events_by_agent(agent_name, 1000)
        return sorted(found, key=lambda event: event.id, reverse=True)[:limit]


class RiskFilterAcrossAgents(SqliteExtraction):
    """``events_by_risk`` filters on the level alone: every agent's events at it."""

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        v = inputs.check("events_by_risk")
        v.text("agent_name", agent_name)
        risk_level, limit = v.text("risk_level", risk_level), v.limit(limit)
        with self._tx("events_by_risk", write=False) as conn:
            return [row_codec.event(row) for row in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE risk_level = ? "
                "ORDER BY timestamp DESC, id DESC LIMIT ?", (risk_level, limit))]


class RiskLevelMatchedWithoutCase(SqliteExtraction):
    """The level compared without case, so that a "High" asked for finds the "high" events
    (the stored levels are lower case, so a level the spec does not have finds some)."""

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        level = risk_level.lower() if isinstance(risk_level, str) else risk_level
        return super().events_by_risk(agent_name, level, limit)


class ReplayStartExclusive(SqliteExtraction):
    """A replay that skips to ``start`` leaves out the events at that very instant."""

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        steps = super().replay(session_id, speed, start)
        if start is None or not steps:
            return steps
        kept = [step.event for step in steps if step.event.timestamp > start]
        return replay_steps(kept, speed)


class ReplayWaitsFromTheStart(SqliteExtraction):
    """A replay that skips to ``start`` waits from ``start`` to its first event (the first
    delay is that gap at the speed, not zero)."""

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        steps = super().replay(session_id, speed, start)
        if start is None or not steps:
            return steps
        first = replace(steps[0], delay=(steps[0].event.timestamp - start) / speed)
        return [first, *steps[1:]]


class ReplayStartIgnored(SqliteExtraction):
    """The start instant is taken and never applied: every event of the session comes back."""

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        return super().replay(session_id, speed)


class QueryTotalOfThePage(SqliteExtraction):
    """``total`` counts the events of the page returned, not every event the filter
    matches."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        page = super().query_events(where, limit, after)
        return replace(page, total=len(page.items))


class QueryTotalAfterTheCursor(SqliteExtraction):
    """``total`` counted with the page's own conditions, the cursor's among them: the
    events left from here on, shrinking page by page."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        page = super().query_events(where, limit, after)
        left, cursor = 0, after
        while True:
            rest = super().query_events(where, 1000, cursor)
            left, cursor = left + len(rest.items), rest.next_cursor
            if cursor is None:
                return replace(page, total=left)


class QueryCursorOnTimeAlone(SqliteExtraction):
    """The cursor's id is never compared: the next page starts after every event at the
    cursor's instant, so one tied with the last item of a page is skipped."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        if isinstance(after, EventCursor) and isinstance(after.id, int):
            after = replace(after, id=-(2**63))
        return super().query_events(where, limit, after)


class QueryCursorInclusive(SqliteExtraction):
    """The page after a cursor starts at the cursor's own event (``<=``): every page
    repeats the last item of the one before."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        if isinstance(after, EventCursor) and isinstance(after.id, int):
            after = replace(after, id=after.id + 1)
        return super().query_events(where, limit, after)


class QueryNextCursorOnAFullPage(SqliteExtraction):
    """A page of ``limit`` events always gets a next cursor (the store reads ``limit`` rows,
    not one more to see whether any follows): an exact last page points at an empty one."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        page = super().query_events(where, limit, after)
        if page.next_cursor is None and page.items and len(page.items) == limit:
            last = page.items[-1]
            return replace(page, next_cursor=EventCursor(last.timestamp, last.id))
        return page


class QueryFilterDropsRiskLevel(SqliteExtraction):
    """The filter's risk level is never applied: the events at every level come back."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        if isinstance(where, EventFilter):
            where = replace(where, risk_level=None)
        return super().query_events(where, limit, after)


class PartialUpdateClearsFields(SqliteExtraction):
    def update_session(self, session_id: str, update: ProcessSessionUpdate) -> ProcessSession:
        session = super().update_session(session_id, update)
        if update.environment is None and session.environment is not None:
            with self._tx("update_session", session_id) as conn:
                conn.execute("UPDATE process_sessions SET environment = NULL "
                             "WHERE session_id = ?", (session_id,))
            return self.get_session(session_id)
        return session


class LineNumberCheckDropped(SqliteExtraction):
    migrations = edit_migration(MIGRATIONS, 1, "up",
                                "line_number INTEGER CHECK (line_number >= 1)",
                                "line_number INTEGER")


class IndexesDownLeavesOneBehind(SqliteExtraction):
    migrations = edit_migration(MIGRATIONS, 2, "down", "DROP INDEX IF EXISTS idx_blocks_session;\n",
                                "")


class SearchIndexStartsEmpty(SqliteExtraction):
    """The full-text index is created and kept from version 5 on, but never filled with the
    events stored before it: an upgraded store's older events are never found."""

    migrations = edit_migration(MIGRATIONS, 5, "up",
                                "INSERT INTO events_fts (events_fts) VALUES ('rebuild');", "")


class SearchTokenizerFoldsAccents(SqliteExtraction):
    """FTS5's default tokenizer (``unicode61``): ``É`` is found as ``é``, and ``cafe`` finds
    ``Café`` (diacritics removed), which the spec's exact non-ASCII rule does not."""

    migrations = edit_migration(MIGRATIONS, 5, "up", "tokenize = 'ascii'", "tokenize = 'unicode61'")


class SearchBySubstring(SqliteExtraction):
    """``LIKE '%text%'`` over the value and the line instead of the index: a word's middle
    (``rror`` in ``TypeError``) matches, and the query is one string, not its tokens."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        text, where, limit = inputs.event_search(text, where, limit)
        wanted = f"%{text}%"
        with self._tx("search_events", write=False) as conn:
            found = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE matched_value LIKE ? "
                "OR original_line LIKE ? ORDER BY timestamp DESC, id DESC", (wanted, wanted))
            hits = [row_codec.event(row) for row in found]
        return [e for e in hits if all(value is None or getattr(e, name) == value
                                       for name, value in vars(where).items())][:limit]


class SearchValueOnly(SqliteExtraction):
    """Only the matched value is searched: a word of the original line finds nothing."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        hits = super().search_events(text, where, 1000)
        return [e for e in hits if matches(text, e.matched_value or "")][:limit]


class SearchNewestById(SqliteExtraction):
    """Hits ordered by id alone (the index's order), newest saved first: an event saved late
    with an older timestamp comes before newer ones."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        hits = super().search_events(text, where, 1000)
        return sorted(hits, key=lambda e: e.id, reverse=True)[:limit]


class SearchWithoutTokensFindsNothing(SqliteExtraction):
    """A text without tokens makes an empty FTS query, whose error is caught as "no hits"."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        if isinstance(text, str) and not tokens(text):
            inputs.event_search(text, where, limit)
            return []
        return super().search_events(text, where, limit)


class SearchTextHandedToMatch(SqliteExtraction):
    """The caller's text goes to FTS5's ``MATCH`` as its query: quotes, ``NOT``, ``NEAR(``,
    ``column:`` and ``*`` are read as the query language's, not searched as words."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        if not isinstance(text, str) or not tokens(text):
            return super().search_events(text, where, limit)
        text, where, limit = inputs.event_search(text, where, limit)
        with self._tx("search_events", write=False) as conn:
            found = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE id IN "
                "(SELECT rowid FROM events_fts WHERE events_fts MATCH ?) "
                "ORDER BY timestamp DESC, id DESC", (text,))
            hits = [row_codec.event(row) for row in found]
        return [e for e in hits if all(value is None or getattr(e, name) == value
                                       for name, value in vars(where).items())][:limit]


class SearchTokensByWordPattern(SqliteExtraction):
    r"""Search in the application with Python's idea of a word: ``re.findall(r"\w+")`` over
    the lower-cased text, so ``_`` joins ``load_config`` into one token, and ``É``
    matches ``é``."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        text, where, limit = inputs.event_search(text, where, limit)
        every = super().search_events("", where, 1000)

        def words(value: str) -> list[str]:
            return re.findall(r"\w+", value.lower())

        wanted = words(text)
        return [e for e in every if all(
            any(token.startswith(term) for token in words(
                f"{e.matched_value or ''} {e.original_line or ''}")) for term in wanted)][:limit]


class SearchFilterIgnored(SqliteExtraction):
    """With text, the filter is dropped: every agent's events matching the text."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        if isinstance(text, str) and tokens(text) and isinstance(where, EventFilter):
            where = EventFilter()
        return super().search_events(text, where, limit)


class ReadsTakeTheWriteLock(SqliteExtraction):
    """Every read opens its transaction as a write (``BEGIN IMMEDIATE``): it waits for any
    writer to finish, and readers queue behind each other."""

    def _tx(self, operation: str, value: Any = None, *, write: bool = True) -> Any:
        return super()._tx(operation, value, write=True)



MUTANTS: dict[str, tuple[type[SqliteExtraction], str]] = {
    "risk_filter_across_agents": (RiskFilterAcrossAgents, "model"),
    "risk_level_matched_without_case": (RiskLevelMatchedWithoutCase, "model"),
    "replay_start_exclusive": (ReplayStartExclusive, "model"),
    "replay_waits_from_the_start": (ReplayWaitsFromTheStart, "model"),
    "replay_start_ignored": (ReplayStartIgnored, "model"),
    "query_total_of_the_page": (QueryTotalOfThePage, "model"),
    "query_total_after_the_cursor": (QueryTotalAfterTheCursor, "model"),
    "query_cursor_on_time_alone": (QueryCursorOnTimeAlone, "model"),
    "query_cursor_inclusive": (QueryCursorInclusive, "model"),
    "query_next_cursor_on_a_full_page": (QueryNextCursorOnAFullPage, "model"),
    "query_filter_drops_risk_level": (QueryFilterDropsRiskLevel, "model"),
    "dedup_returns_the_ignored_rows_id": (DedupReturnsTheIgnoredRowsId, "model"),
    "session_and_first_state_in_two_commits": (SessionAndFirstStateInTwoCommits, "acid"),
    "foreign_keys_never_enabled": (ForeignKeysNeverEnabled, "fk"),
    "batch_commits_per_row": (BatchCommitsPerRow, "acid"),
    "batch_committed_per_chunk": (BatchCommittedPerChunk, "acid"),
    "dedup_by_content_without_digest_index": (DedupByContentWithoutDigestIndex, "concurrency"),
    "stats_from_a_stale_cache": (StatsFromAStaleCache, "model"),
    "timeline_end_inclusive": (TimelineEndInclusive, "model"),
    "active_sessions_ties_by_id_ascending": (ActiveSessionsTiesByIdAscending, "model"),
    "purge_parents_first_one_statement_at_a_time": (PurgeParentsFirstOneStatementAtATime, "acid"),
    "purge_forgets_code_blocks": (PurgeForgetsCodeBlocks, "fk"),
    "vacuum_incremental_only": (VacuumIncrementalOnly, "fk"),
    "purge_each_table_its_own_transaction": (PurgeEachTableItsOwnTransaction, "acid"),
    "progress_read_then_write": (ProgressReadThenWrite, "concurrency"),
    "completion_checked_then_set": (CompletionCheckedThenSet, "concurrency"),
    "completing_twice_allowed": (CompletingTwiceAllowed, "model"),
    "completed_state_recorded_before_the_update": (CompletedStateRecordedBeforeTheUpdate,
                                                   "acid"),
    "digest_of_latin1_bytes": (DigestOfLatin1Bytes, "badinput"),
    "mojibake_repaired": (MojibakeRepaired, "badinput"),
    "replay_delays_not_scaled": (ReplayDelaysNotScaled, "model"),
    "history_window_excludes_its_start": (HistoryWindowExcludesItsStart, "model"),
    "any_language_means_no_language": (AnyLanguageMeansNoLanguage, "model"),
    "events_newest_by_id": (EventsNewestById, "model"),
    "partial_update_clears_fields": (PartialUpdateClearsFields, "model"),
    "line_number_check_dropped": (LineNumberCheckDropped, "badinput"),
    "indexes_down_leaves_one_behind": (IndexesDownLeavesOneBehind, "migration"),
    "reads_take_the_write_lock": (ReadsTakeTheWriteLock, "acid"),
    "search_index_starts_empty": (SearchIndexStartsEmpty, "migration"),
    "search_tokenizer_folds_accents": (SearchTokenizerFoldsAccents, "model"),
    "search_by_substring": (SearchBySubstring, "model"),
    "search_value_only": (SearchValueOnly, "model"),
    "search_newest_by_id": (SearchNewestById, "model"),
    "search_without_tokens_finds_nothing": (SearchWithoutTokensFindsNothing, "model"),
    "search_filter_ignored": (SearchFilterIgnored, "model"),
    "search_tokens_by_word_pattern": (SearchTokensByWordPattern, "model"),
    "search_text_handed_to_match": (SearchTextHandedToMatch, "badinput"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))

