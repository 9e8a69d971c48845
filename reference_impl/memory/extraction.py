"""The ``extraction`` model: the spec's rules over plain dictionaries, obviously correct."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, fields, replace
from datetime import datetime

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import extraction_inputs as inputs
from storecheck.conformance.specs.extraction import (
    RISK_LEVELS,
    SPEC,
    STATES,
    AgentStats,
    CodeBlock,
    EventCursor,
    EventFilter,
    EventPage,
    ExtractionEvent,
    ImportCounts,
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
    SpaceReport,
    StateChange,
)
from storecheck.conformance.specs.extraction_inputs import parse_export
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore
from storecheck.reference_impl.memory.rules import Rules

RULES = Rules(SPEC)
_check = RULES.check


@dataclass
class State:
    events: dict[int, ExtractionEvent] = field(default_factory=dict)
    blocks: dict[int, CodeBlock] = field(default_factory=dict)
    sessions: dict[str, ProcessSession] = field(default_factory=dict)
    changes: dict[int, StateChange] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)

    def copy(self) -> State:
        return State(dict(self.events), dict(self.blocks), dict(self.sessions),
                     dict(self.changes), dict(self.last_ids))

    def next_id(self, table: str) -> int:
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]


def _newest_first(rows: Iterable[ExtractionEvent], limit: int) -> list[ExtractionEvent]:
    return sorted(rows, key=lambda e: (e.timestamp, e.id), reverse=True)[:limit]


def _filter_fields(where: EventFilter) -> dict[str, str]:
    """The fields an event must equal: those the filter gives."""
    return {name: value for name, value in (
        ("agent_name", where.agent_name), ("event_type", where.event_type),
        ("pattern", where.pattern), ("risk_level", where.risk_level)) if value is not None}


def _content(event: ExtractionEvent) -> str:
    """What a search reads of an event: its matched value and original line, apart."""
    return "\n".join(text for text in (event.matched_value, event.original_line) if text)


def _in_order(rows: Iterable[ExtractionEvent]) -> list[ExtractionEvent]:
    return sorted(rows, key=lambda e: (e.timestamp, e.id))


def _sessions_newest_first(rows: Iterable[ProcessSession]) -> list[ProcessSession]:
    return sorted(rows, key=lambda s: (s.started_at, s.id), reverse=True)


class MemoryExtraction(MemoryStore[State]):
    """Implements :class:`~storecheck.conformance.specs.extraction.ExtractionStore`."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- extraction events -------------------------------------------------------

    @staticmethod
    def _check_event(new: NewExtractionEvent | ExtractionEvent, operation: str) -> None:
        for name in ("agent_name", "session_id", "event_type", "pattern"):
            _check(operation, f"{name} <> ''", getattr(new, name) != "", getattr(new, name))
        _check(operation, "line_number >= 1", new.line_number is None or new.line_number >= 1,
               new.line_number)
        _check(operation, "risk_level IN RISK_LEVELS",
               new.risk_level is None or new.risk_level in RISK_LEVELS, new.risk_level)

    @classmethod
    def _insert_event(cls, s: State, new: NewExtractionEvent, operation: str) -> ExtractionEvent:
        cls._check_event(new, operation)
        event = ExtractionEvent(
            s.next_id("events"), new.agent_name, new.session_id, new.timestamp, new.event_type,
            new.pattern, new.matched_value, new.original_line, new.line_number,
            new.metadata_json, new.code_block_language, new.risk_level, new.auto_confirmable)
        s.events[event.id] = event
        return event

    def save_event(self, new: NewExtractionEvent) -> ExtractionEvent:
        checked = inputs.new_event(new)
        return self._apply(lambda s: self._insert_event(s, checked, "save_event"))

    def save_events(self, batch: Sequence[NewExtractionEvent]) -> list[ExtractionEvent]:
        checked = inputs.event_batch(batch)
        return self._apply(lambda s: [self._insert_event(s, new, "save_events")
                                      for new in checked])

    def _agent_events(self, operation: str, agent_name: str, limit: int,
                      **equal: str) -> list[ExtractionEvent]:
        v = inputs.check(operation)
        v.text("agent_name", agent_name)
        for name, value in equal.items():
            v.text(name, value)
        limit = v.limit(limit)
        return self._read(lambda s: _newest_first(
            (e for e in s.events.values() if e.agent_name == agent_name
             and all(getattr(e, name) == value for name, value in equal.items())), limit))

    def events_by_agent(self, agent_name: str, limit: int) -> list[ExtractionEvent]:
        return self._agent_events("events_by_agent", agent_name, limit)

    def events_by_type(self, agent_name: str, event_type: str,
                       limit: int) -> list[ExtractionEvent]:
        return self._agent_events("events_by_type", agent_name, limit, event_type=event_type)

    def events_by_pattern(self, agent_name: str, pattern: str,
                          limit: int) -> list[ExtractionEvent]:
        return self._agent_events("events_by_pattern", agent_name, limit, pattern=pattern)

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        return self._agent_events("events_by_risk", agent_name, limit, risk_level=risk_level)

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        where, limit, after = inputs.event_query(where, limit, after)
        wanted = _filter_fields(where)

        def look(s: State) -> EventPage:
            matched = _newest_first((e for e in s.events.values() if all(
                getattr(e, name) == value for name, value in wanted.items())), len(s.events))
            following = matched if after is None else [
                e for e in matched if e.timestamp < after.timestamp
                or (e.timestamp == after.timestamp and e.id < after.id)]
            page = tuple(following[:limit])
            return EventPage(page, len(matched), EventCursor(page[-1].timestamp, page[-1].id)
                             if len(following) > limit else None)

        return self._read(look)

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        text, where, limit = inputs.event_search(text, where, limit)
        wanted = _filter_fields(where)

        def look(s: State) -> list[ExtractionEvent]:
            return _newest_first((e for e in s.events.values() if all(
                getattr(e, name) == value for name, value in wanted.items())
                and formulas.search_matches(text, _content(e))), limit)

        return self._read(look)

    def events_by_session(self, session_id: str) -> list[ExtractionEvent]:
        inputs.check("events_by_session").text("session_id", session_id)
        return self._read(lambda s: _in_order(
            e for e in s.events.values() if e.session_id == session_id))

    def agent_stats(self, agent_name: str) -> AgentStats:
        inputs.check("agent_stats").text("agent_name", agent_name)

        def look(s: State) -> AgentStats:
            events = [e for e in s.events.values() if e.agent_name == agent_name]
            sessions = [p for p in s.sessions.values() if p.agent_name == agent_name]
            completed = [p for p in sessions if p.ended_at is not None]
            succeeded = sum(1 for p in completed if p.exit_code == 0)
            return AgentStats(
                agent_name, len(events), dict(Counter(e.event_type for e in events)),
                dict(Counter(e.risk_level for e in events if e.risk_level is not None)),
                len(sessions), len(completed),
                succeeded / len(completed) if completed else None)

        return self._read(look)

    def pattern_stats(self, pattern: str) -> PatternStats:
        inputs.check("pattern_stats").text("pattern", pattern)

        def look(s: State) -> PatternStats:
            events = [e for e in s.events.values() if e.pattern == pattern]
            times = [e.timestamp for e in events]
            return PatternStats(pattern, len(events), dict(Counter(e.agent_name for e in events)),
                                dict(Counter(e.event_type for e in events)),
                                min(times, default=None), max(times, default=None))

        return self._read(look)

    def timeline(self, agent_name: str, start: datetime, end: datetime) -> list[ExtractionEvent]:
        agent_name, start, end = inputs.window(agent_name, start, end)
        return self._read(lambda s: _in_order(
            e for e in s.events.values()
            if e.agent_name == agent_name and start <= e.timestamp < end))

    # -- code blocks -------------------------------------------------------------

    @staticmethod
    def _check_block(new: NewCodeBlock | CodeBlock, operation: str) -> None:
        for name in ("agent_name", "session_id"):
            _check(operation, f"{name} <> ''", getattr(new, name) != "", getattr(new, name))
        _check(operation, "line_start >= 1", new.line_start is None or new.line_start >= 1,
               new.line_start)
        _check(operation, "line_end >= 1", new.line_end is None or new.line_end >= 1,
               new.line_end)
        _check(operation, "line_end >= line_start",
               new.line_start is None or new.line_end is None or new.line_end >= new.line_start,
               (new.line_start, new.line_end))

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock:
        new = inputs.new_code_block(new)

        def change(s: State) -> SavedCodeBlock:
            self._check_block(new, "save_code_block")
            digest = formulas.sha256_hex(new.content)
            for block in s.blocks.values():
                if block.digest == digest:
                    return SavedCodeBlock(block, False)
            block = CodeBlock(s.next_id("blocks"), new.agent_name, new.session_id, new.timestamp,
                              new.content, digest, new.language, new.line_start, new.line_end,
                              new.context_json, new.parseable)
            s.blocks[block.id] = block
            return SavedCodeBlock(block, True)

        return self._apply(change)

    def code_blocks(self, agent_name: str, language: str | None, limit: int) -> list[CodeBlock]:
        v = inputs.check("code_blocks")
        v.text("agent_name", agent_name)
        v.optional_text("language", language)
        limit = v.limit(limit)
        return self._read(lambda s: sorted(
            (b for b in s.blocks.values() if b.agent_name == agent_name
             and (language is None or b.language == language)),
            key=lambda b: (b.timestamp, b.id), reverse=True)[:limit])

    # -- process sessions --------------------------------------------------------

    @staticmethod
    def _session(s: State, session_id: str, operation: str) -> ProcessSession:
        if session_id not in s.sessions:
            raise NotFound(SPEC, operation, "no such process session", session_id)
        return s.sessions[session_id]

    @staticmethod
    def _record(s: State, new: NewStateChange, operation: str) -> StateChange:
        _check(operation, "session_id <> ''", new.session_id != "", new.session_id)
        _check(operation, "state IN STATES", new.state in STATES, new.state)
        if new.session_id not in s.sessions:
            raise ConstraintViolation(SPEC, operation, ConstraintKind.FOREIGN_KEY,
                                      "process_state_changes.session_id", new.session_id)
        change = StateChange(s.next_id("changes"), new.session_id, new.timestamp, new.state,
                             new.exit_code, new.metadata_json)
        s.changes[change.id] = change
        return change

    def create_session(self, new: NewProcessSession) -> ProcessSession:
        new = inputs.new_session(new)

        def change(s: State) -> ProcessSession:
            for name in ("agent_name", "session_id"):
                _check("create_session", f"{name} <> ''", getattr(new, name) != "",
                       getattr(new, name))
            if new.session_id in s.sessions:
                raise ConstraintViolation(SPEC, "create_session", ConstraintKind.UNIQUE,
                                          "process_sessions.session_id", new.session_id)
            session = ProcessSession(
                s.next_id("sessions"), new.agent_name, new.session_id, new.started_at,
                new.environment, None, None, 0, 0, 0, new.stdout_log_path, new.stderr_log_path,
                new.extraction_config_version, new.environment_config_version)
            s.sessions[new.session_id] = session
            self._record(s, NewStateChange(new.session_id, new.started_at, "started"),
                         "create_session")
            return session

        return self._apply(change)

    def update_session(self, session_id: str, update: ProcessSessionUpdate) -> ProcessSession:
        inputs.check("update_session").text("session_id", session_id)
        update = inputs.session_update(update)
        given = {name: getattr(update, name) for name in (
            "environment", "stdout_log_path", "stderr_log_path", "extraction_config_version",
            "environment_config_version") if getattr(update, name) is not None}

        def change(s: State) -> ProcessSession:
            s.sessions[session_id] = replace(self._session(s, session_id, "update_session"),
                                             **given)
            return s.sessions[session_id]

        return self._apply(change)

    def record_progress(self, session_id: str, lines_processed: int, extraction_events: int,
                        feedback_outcomes: int) -> ProcessSession:
        inputs.check("record_progress").text("session_id", session_id)
        lines, events, feedback = inputs.progress(lines_processed, extraction_events,
                                                  feedback_outcomes)

        def change(s: State) -> ProcessSession:
            session = self._session(s, session_id, "record_progress")
            s.sessions[session_id] = replace(
                session, total_lines_processed=session.total_lines_processed + lines,
                total_extraction_events=session.total_extraction_events + events,
                total_feedback_outcomes=session.total_feedback_outcomes + feedback)
            return s.sessions[session_id]

        return self._apply(change)

    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        inputs.check("complete_session").text("session_id", session_id)
        exit_code, at, totals = inputs.completion(exit_code, at, totals)

        def change(s: State) -> ProcessSession:
            session = self._session(s, session_id, "complete_session")
            if session.ended_at is not None:
                raise Conflict(SPEC, "complete_session", "session already completed", session_id)
            if totals is not None:
                for name in ("lines_processed", "extraction_events", "feedback_outcomes"):
                    _check("complete_session", f"total_{name} >= 0", getattr(totals, name) >= 0,
                           getattr(totals, name))
                session = replace(session, total_lines_processed=totals.lines_processed,
                                  total_extraction_events=totals.extraction_events,
                                  total_feedback_outcomes=totals.feedback_outcomes)
            s.sessions[session_id] = replace(session, ended_at=at, exit_code=exit_code)
            self._record(s, NewStateChange(session_id, at, "completed", exit_code),
                         "complete_session")
            return s.sessions[session_id]

        return self._apply(change)

    def get_session(self, session_id: str) -> ProcessSession:
        inputs.check("get_session").text("session_id", session_id)
        return self._read(lambda s: self._session(s, session_id, "get_session"))

    def sessions_by_agent(self, agent_name: str, limit: int) -> list[ProcessSession]:
        v = inputs.check("sessions_by_agent")
        v.text("agent_name", agent_name)
        limit = v.limit(limit)
        return self._read(lambda s: _sessions_newest_first(
            p for p in s.sessions.values() if p.agent_name == agent_name)[:limit])

    def session_history(self, agent_name: str, days: int, now: datetime) -> list[ProcessSession]:
        agent_name, since = inputs.history(agent_name, days, now)
        return self._read(lambda s: _sessions_newest_first(
            p for p in s.sessions.values()
            if p.agent_name == agent_name and p.started_at >= since))

    def active_sessions(self) -> list[ProcessSession]:
        return self._read(lambda s: _sessions_newest_first(
            p for p in s.sessions.values() if p.ended_at is None))

    def record_state_change(self, new: NewStateChange) -> StateChange:
        new = inputs.new_state_change(new)
        return self._apply(lambda s: self._record(s, new, "record_state_change"))

    def state_changes(self, session_id: str) -> list[StateChange]:
        inputs.check("state_changes").text("session_id", session_id)

        def look(s: State) -> list[StateChange]:
            self._session(s, session_id, "state_changes")
            return sorted((c for c in s.changes.values() if c.session_id == session_id),
                          key=lambda c: (c.timestamp, c.id))

        return self._read(look)

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        v = inputs.check("replay")
        v.text("session_id", session_id)
        factor = inputs.speed(speed)
        begin = v.optional_timestamp("start", start)

        def look(s: State) -> list[ReplayStep]:
            self._session(s, session_id, "replay")
            events = _in_order(e for e in s.events.values() if e.session_id == session_id
                               and (begin is None or e.timestamp >= begin))
            # The first event waits on itself: no delay.
            before = [event.timestamp for event in events[:1] + events[:-1]]
            return [ReplayStep(event, formulas.replay_delay(event.timestamp - earlier, factor))
                    for event, earlier in zip(events, before, strict=True)]

        return self._read(look)

    def purge_sessions(self, ended_before: datetime) -> PurgeCounts:
        cutoff = inputs.check("purge_sessions").timestamp("ended_before", ended_before)

        def change(s: State) -> PurgeCounts:
            gone = {p.session_id for p in s.sessions.values()
                    if p.ended_at is not None and p.ended_at < cutoff}
            counts = []
            for table in (s.changes, s.events, s.blocks):
                doomed = [key for key, row in table.items() if row.session_id in gone]
                for key in doomed:
                    del table[key]
                counts.append(len(doomed))
            for session_id in gone:
                del s.sessions[session_id]
            return PurgeCounts(len(gone), *counts)

        return self._apply(change)

    def vacuum(self) -> SpaceReport:
        """Nothing to reclaim: the model has no file."""
        return SpaceReport(0, 0)

    # -- export and import -------------------------------------------------------

    def export_data(self) -> bytes:
        def look(s: State) -> bytes:
            tables = (("process_sessions", sorted(s.sessions.values(), key=lambda r: r.id)),
                      ("process_state_changes", [s.changes[k] for k in sorted(s.changes)]),
                      ("extraction_events", [s.events[k] for k in sorted(s.events)]),
                      ("code_blocks", [s.blocks[k] for k in sorted(s.blocks)]))
            return b"".join(
                formulas.export_jsonl(("table", *(f.name for f in fields(row))),
                                      [(table, *astuple(row))])
                for table, found in tables for row in found)

        return self._read(look)

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        sessions = [r for r in records if isinstance(r, ProcessSession)]
        changes = [r for r in records if isinstance(r, StateChange)]
        events = [r for r in records if isinstance(r, ExtractionEvent)]
        blocks = [r for r in records if isinstance(r, CodeBlock)]
        operation = "import_data"

        def unique(taken: set[object], key: object, column: str) -> None:
            if key in taken:
                raise ConstraintViolation(SPEC, operation, ConstraintKind.UNIQUE, column, key)
            taken.add(key)

        def change(s: State) -> ImportCounts:
            if s.sessions or s.changes or s.events or s.blocks:
                raise Conflict(SPEC, operation, "the store holds rows", None)
            ids: set[object] = set()
            session_ids: set[object] = set()
            for session in sessions:
                for name in ("agent_name", "session_id"):
                    _check(operation, f"{name} <> ''", getattr(session, name) != "",
                           getattr(session, name))
                for name in ("total_lines_processed", "total_extraction_events",
                             "total_feedback_outcomes"):
                    _check(operation, f"{name} >= 0", getattr(session, name) >= 0,
                           getattr(session, name))
                unique(ids, session.id, "process_sessions.id")
                unique(session_ids, session.session_id, "process_sessions.session_id")
                s.sessions[session.session_id] = session
            ids = set()
            for state_change in changes:
                _check(operation, "session_id <> ''", state_change.session_id != "",
                       state_change.session_id)
                _check(operation, "state IN STATES", state_change.state in STATES,
                       state_change.state)
                unique(ids, state_change.id, "process_state_changes.id")
                if state_change.session_id not in s.sessions:
                    raise ConstraintViolation(SPEC, operation, ConstraintKind.FOREIGN_KEY,
                                              "process_state_changes.session_id",
                                              state_change.session_id)
                s.changes[state_change.id] = state_change
            ids = set()
            for event in events:
                self._check_event(event, operation)
                unique(ids, event.id, "extraction_events.id")
                s.events[event.id] = event
            ids = set()
            digests: set[object] = set()
            for block in blocks:
                self._check_block(block, operation)
                unique(ids, block.id, "code_blocks.id")
                unique(digests, block.digest, "code_blocks.digest")
                s.blocks[block.id] = block
            for table, rows in (("sessions", s.sessions.values()), ("changes", s.changes.values()),
                                ("events", s.events.values()), ("blocks", s.blocks.values())):
                s.last_ids[table] = max([s.last_ids.get(table, 0), *(row.id for row in rows)])
            return ImportCounts(len(sessions), len(changes), len(events), len(blocks))

        return self._apply(change)
