"""Spec ``extraction``: the agent extraction store of seed 002.

An agent wrapper reads an agent's output line by line, matches patterns, and
stores what it extracts (``extraction_events``), the code blocks it sees
(``code_blocks``, deduplicated by a SHA-256 digest of their content), and the
lifecycle of each wrapped process (``process_sessions`` and their
``process_state_changes``).  Rules beyond the records' types:

* Time is always passed in (``timestamp`` / ``at`` / ``now``), timezone-aware,
  returned in UTC with microseconds.  Store-assigned ids are integers that
  increase in creation order and break every tie below.
* Events: ``save_events`` is one transaction: every event is stored, or (one
  refused) none is; ids follow the batch's order.  ``events_by_agent``,
  ``events_by_type``, ``events_by_pattern`` and ``events_by_risk`` list the
  agent's events newest first (``timestamp`` desc, then ``id`` desc) up to ``limit``;
  ``events_by_session`` lists a session's events oldest first (``timestamp``,
  then ``id``); ``timeline(agent, start, end)`` lists the agent's events with
  ``start <= timestamp < end`` oldest first (the end instant is excluded, so
  consecutive windows never share an event).  ``query_events(where, limit, after)``
  is the seed's query endpoint (``GET /api/query/extractions?agent&type&pattern&limit``,
  with its ``total``): the events every given field of ``where`` (an
  :class:`EventFilter`) equals, across all agents when it names none, newest
  first, a page of at most ``limit`` after the cursor ``after``; the page's
  ``total`` counts every event the filter matches, on any page, and its
  ``next_cursor`` (the last event's ``timestamp`` and ``id``) is set exactly when
  more events follow.  A cursor may be handed back at any UTC offset, and one no
  stored event carries still marks a place in the order.  ``search_events(text, where,
  limit)`` is the seed's full-text search over extraction content (line 468): the events
  whose matched value and original line, taken together, match ``text`` by the search rule
  the specs share (:mod:`~storecheck.conformance.specs.text_search`: every query token a
  prefix of some token of either; ASCII letters in any case), and that every given field of
  ``where`` equals; newest first (``timestamp`` desc, ``id`` desc), at most ``limit``.  A
  text without tokens (empty, or punctuation alone) matches every event the filter matches.
  Hits are not ranked by relevance: a log is read newest first, and an order every store
  can be held to is one the seed's "recent first" reads already use.  These reads select by the stored
  value: an agent name or session id nothing carries (an empty one included)
  finds an empty list, not :class:`NotFound` or a CHECK violation (events need
  no process session).
* Statistics are computed from the stored rows at the time of the call
  (:class:`AgentStats`, :class:`PatternStats`).
* Code blocks: the store computes ``digest`` = SHA-256 of the content's UTF-8
  bytes, 64 lowercase hex digits (a caller cannot supply one).  Saving content
  whose digest is stored changes nothing and returns the **stored** block
  (its id, agent, session, ...) with ``created`` false; across all agents and
  sessions a content is stored once.  Only a block that breaks no rule can be a
  duplicate: one that breaks a CHECK rule is refused with it, even when its
  content is stored.  ``code_blocks(agent, language, limit)``
  lists newest first (``timestamp`` desc, ``id`` desc); ``language=None`` means
  any language.
* Process sessions: ``create_session`` stores the session and its ``started``
  state change (at ``started_at``) in one transaction.  ``record_progress``
  adds to the running totals; concurrent calls never lose an addition.
  ``complete_session`` sets ``ended_at`` and ``exit_code`` (and, when given,
  sets the totals to the final ones: they replace, not add) and records a
  ``completed`` state change with that exit code, in one transaction;
  completing a completed session is :class:`Conflict` (of concurrent
  completions exactly one wins).  ``sessions_by_agent`` and
  ``session_history`` list ``started_at`` desc then ``id`` desc;
  ``session_history(agent, days, now)`` holds the agent's sessions with
  ``started_at >= now - days``; ``active_sessions`` those without
  ``ended_at``, in the same order.  State changes list in ``timestamp`` order, then ``id``.
* Replay (:func:`replay_steps`): a session's events in ``events_by_session``
  order, each with the delay before it: zero for the first, then the gap to
  the previous event divided by ``speed`` (``timedelta`` division, rounded to
  the microsecond, halves to even).  ``speed`` is a finite number in
  ``[0.1, 100]``.  Given ``start`` (the seed's "skip to timestamp"), the replay
  begins there: only the events with ``timestamp >= start``, the first of them
  with no delay.  A session id with no process session is :class:`NotFound`.
  The seed's player also pauses, resumes and exports to HAR (lines 405-407):
  those are a player's, done with the steps the store returns (a pause is a
  wait between two of them, a HAR file one rendering of them), so no operation
  stands for them.
* Retention: ``purge_sessions(ended_before)`` deletes, in one transaction,
  every session with ``ended_at < ended_before`` together with its state
  changes, its extraction events and its code blocks (by ``session_id``);
  running sessions are never purged.  It returns how many rows of each went.
  ``vacuum()`` then gives the space the purged rows left back to the storage
  (the seed's "archive old data, vacuum database", line 485): everything stored
  reads back the same, and on a store whose files the harness may read the
  bytes after are fewer than before.  Archiving is the purge: the seed names no
  place the old data would go, and an export of it is a caller's reading of
  the sessions before it purges them.
* Backup and restore (the seed's "database backup/restore", lines 466 and 473-475), for
  stores declaring ``backup_restore``: the operations and rules every spec with backups
  shares (:class:`~storecheck.conformance.specs.backups.Backups`), one file per backup
  named ``extraction_<instant>.db``.  A restore also verifies that every code block of
  the backup has the digest of its content (else ``StorageFailed(CORRUPT)``: a block
  whose content changed would stand in the way of the content it now holds and hide the
  one it was saved with), and the store searches the restored events as it searched them
  when the backup was taken.
* Export and import (the seed's "data export/import", line 475): ``export_data()``
  writes every row as JSON Lines and ``import_data(data)`` puts such a text back into an
  empty store, all or nothing, ids included
  (:mod:`~storecheck.conformance.specs.extraction_export` states the format and the
  rules).  Unlike a backup, an export needs no file of the store's and no SQLite to read.
* Monitoring (the seed's "query timing logs, slow query detection" and "database
  size tracking", lines 479 and 484) is the running application's instrument, not
  a behaviour a caller reads back from the store, so no operation stands for it:
  the store's size is :meth:`ExtractionStore.vacuum`'s ``bytes_before``, and the
  time each call takes is what the ``latency`` checks measure against the seed's
  bounds.

Errors.  An operation addressing a session that does not exist raises
:class:`NotFound`; a state change for a session id that has no process
session is ``ConstraintViolation(FOREIGN_KEY)`` (the seed's foreign key); a
duplicate ``session_id`` is ``ConstraintViolation(UNIQUE)``; an empty agent
name, session id, event type, pattern or state (a state change's session id
included: an empty one is CHECK before it is a missing session), a risk level
outside :data:`RISK_LEVELS`, a state outside :data:`STATES`, a line number
below 1 (``line_number``, ``line_start`` and ``line_end`` alike),
``line_end < line_start``, negative totals: ``ConstraintViolation(CHECK)``.  A
wrong type, a naive timestamp, JSON text that does not parse, a negative day
count, a limit outside 1 to 1,000, a speed outside ``[0.1, 100]``:
:class:`ValidationError`.  When one call breaks several rules the first
applies in this order: ValidationError, NotFound, Conflict, CHECK, UNIQUE,
FOREIGN KEY.  A batch is checked whole before it is stored: the
ValidationError of its first event with one wins over any storage error, and
among storage errors the first event's that breaks one.

Values.  Text (lines, matched values, code, paths) is stored and returned
verbatim, mis-encoded text (mojibake such as ``\u00c3\u00b0\u00c5\u00b8``)
and NUL included; JSON text (``metadata_json``, ``context_json``) keeps its
exact spelling.

Threads.  One store object may be shared by any number of threads; ``atomic()``
belongs to the calling thread.  Reads never wait for a writer: while another store
object (another connection or process) holds a write transaction open, every read
answers within a second with the data committed before it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from storecheck.conformance.specs.common import ForeignKey, Operation, SpaceReport as SpaceReport

SPEC: Final = "extraction"
SEED: Final = "002_8e20c77259dd2cf8.txt"
RISK_LEVELS: Final[tuple[str, ...]] = ("low", "medium", "high", "critical")
STATES: Final[tuple[str, ...]] = ("started", "running", "paused", "completed")
"""The seed's "state transition history (started, running, paused, completed)"."""
SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2, 3, 4, 5)
"""1: the seed's tables and indexes; 2: the indexes the time-ordered reads need (by
agent, type, pattern and session), which the seed's set lacks, in place of the four
seed indexes no read uses; 3: the index of an agent's events by risk level; 4: the index
of every agent's events newest first (:meth:`ExtractionStore.query_events` naming no
agent); 5: the full-text index of each event's matched value and original line
(:meth:`ExtractionStore.search_events`), built over the events already stored."""
MIN_SPEED: Final = 0.1
MAX_SPEED: Final = 100.0

FOREIGN_KEYS: Final[tuple[ForeignKey, ...]] = (
    ForeignKey("process_state_changes", "session_id", "process_sessions", "session_id",
               "NO ACTION"),
)
"""The seed declares this one key, without a cascade: retention deletes the children
itself, before their parent, in the same transaction."""

STORE_ASSIGNED_IDS: Final[dict[tuple[str, str], str]] = {
    ("ExtractionEvent", "id"): "event",
    ("CodeBlock", "id"): "code_block",
    ("ProcessSession", "id"): "process_session",
    ("StateChange", "id"): "state_change",
    ("EventCursor", "id"): "event",
}
"""Fields whose values the store picks: compared up to a consistent renaming."""


def content_digest(content: str) -> str:
    """The code block digest: SHA-256 of the UTF-8 bytes, lowercase hex."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


# --- records ---------------------------------------------------------------


@dataclass(frozen=True)
class NewExtractionEvent:
    agent_name: str
    session_id: str
    timestamp: datetime
    event_type: str
    pattern: str
    matched_value: str | None = None
    original_line: str | None = None
    line_number: int | None = None
    """1-based; ``None`` when the match spans no single line."""
    metadata_json: str | None = None
    code_block_language: str | None = None
    risk_level: str | None = None
    auto_confirmable: bool = False


@dataclass(frozen=True)
class ExtractionEvent:
    id: int
    """Store-assigned."""
    agent_name: str
    session_id: str
    timestamp: datetime
    event_type: str
    pattern: str
    matched_value: str | None
    original_line: str | None
    line_number: int | None
    metadata_json: str | None
    code_block_language: str | None
    risk_level: str | None
    auto_confirmable: bool


@dataclass(frozen=True)
class NewCodeBlock:
    agent_name: str
    session_id: str
    timestamp: datetime
    content: str
    language: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    context_json: str | None = None
    parseable: bool | None = None


@dataclass(frozen=True)
class CodeBlock:
    id: int
    """Store-assigned."""
    agent_name: str
    session_id: str
    timestamp: datetime
    content: str
    digest: str
    """:func:`content_digest` of ``content``."""
    language: str | None
    line_start: int | None
    line_end: int | None
    context_json: str | None
    parseable: bool | None


@dataclass(frozen=True)
class SavedCodeBlock:
    block: CodeBlock
    """The stored block: the new one, or the one that already held this content."""
    created: bool


@dataclass(frozen=True)
class NewProcessSession:
    agent_name: str
    session_id: str
    started_at: datetime
    environment: str | None = None
    stdout_log_path: str | None = None
    stderr_log_path: str | None = None
    extraction_config_version: str | None = None
    environment_config_version: str | None = None


@dataclass(frozen=True)
class ProcessSession:
    id: int
    """Store-assigned."""
    agent_name: str
    session_id: str
    started_at: datetime
    environment: str | None
    ended_at: datetime | None
    exit_code: int | None
    total_lines_processed: int
    total_extraction_events: int
    total_feedback_outcomes: int
    stdout_log_path: str | None
    stderr_log_path: str | None
    extraction_config_version: str | None
    environment_config_version: str | None


@dataclass(frozen=True)
class SessionTotals:
    """A session's final counts, as the wrapper knows them when the process ends."""

    lines_processed: int
    extraction_events: int
    feedback_outcomes: int


@dataclass(frozen=True)
class ProcessSessionUpdate:
    """Fields left ``None`` keep their value (a partial update is never a replace)."""

    environment: str | None = None
    stdout_log_path: str | None = None
    stderr_log_path: str | None = None
    extraction_config_version: str | None = None
    environment_config_version: str | None = None


@dataclass(frozen=True)
class NewStateChange:
    session_id: str
    timestamp: datetime
    state: str
    exit_code: int | None = None
    metadata_json: str | None = None


@dataclass(frozen=True)
class StateChange:
    id: int
    """Store-assigned."""
    session_id: str
    timestamp: datetime
    state: str
    exit_code: int | None
    metadata_json: str | None


@dataclass(frozen=True)
class AgentStats:
    agent_name: str
    total_events: int
    events_by_type: Mapping[str, int]
    """Event type -> count, only types with events."""
    events_by_risk: Mapping[str, int]
    """Risk level -> count, only levels with events (events without a level not counted)."""
    total_sessions: int
    completed_sessions: int
    success_rate: float | None
    """Completed sessions with exit code 0 over completed sessions; ``None`` with none."""


@dataclass(frozen=True)
class PatternStats:
    pattern: str
    total_events: int
    events_by_agent: Mapping[str, int]
    events_by_type: Mapping[str, int]
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class ReplayStep:
    event: ExtractionEvent
    delay: timedelta
    """Wait before this event: zero for the first."""


@dataclass(frozen=True)
class PurgeCounts:
    sessions: int
    state_changes: int
    events: int
    code_blocks: int


@dataclass(frozen=True)
class ImportCounts:
    """How many rows of each table ``import_data`` stored."""

    sessions: int
    state_changes: int
    events: int
    code_blocks: int


@dataclass(frozen=True)
class EventFilter:
    """What :meth:`ExtractionStore.query_events` selects: every field given must equal the
    event's; one left ``None`` matches any value, so an empty filter matches every event
    of every agent.  Text nothing carries (an empty one included) matches no event."""

    agent_name: str | None = None
    event_type: str | None = None
    pattern: str | None = None
    risk_level: str | None = None


@dataclass(frozen=True)
class EventCursor:
    """A place in the newest-first order: the page after it holds the events older than
    ``timestamp``, and those at ``timestamp`` with a smaller ``id``."""

    timestamp: datetime
    id: int


@dataclass(frozen=True)
class EventPage:
    items: tuple[ExtractionEvent, ...]
    total: int
    """Every event the filter matches, on this page or any other (the seed's ``total``)."""
    next_cursor: EventCursor | None
    """The last item's place when more events follow it; ``None`` on the last page."""


def replay_steps(events: Sequence[ExtractionEvent], speed: float) -> list[ReplayStep]:
    """The replay of ``events`` (already in session order) at ``speed``: the rule itself."""
    if not (isinstance(speed, int | float) and not isinstance(speed, bool)
            and math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
        raise ValueError(f"speed must be a number in [{MIN_SPEED}, {MAX_SPEED}]")
    steps: list[ReplayStep] = []
    for index, event in enumerate(events):
        gap = timedelta(0) if index == 0 else event.timestamp - events[index - 1].timestamp
        steps.append(ReplayStep(event, gap / speed))
    return steps


# --- the Protocol ------------------------------------------------------------


class ExtractionStore(Protocol):
    """What an implementation of ``extraction`` offers."""

    def save_event(self, new: NewExtractionEvent) -> ExtractionEvent: ...

    def save_events(self, batch: Sequence[NewExtractionEvent]) -> list[ExtractionEvent]:
        """All or nothing, in one transaction; ids follow the batch's order."""

    def events_by_agent(self, agent_name: str, limit: int) -> list[ExtractionEvent]: ...

    def events_by_type(self, agent_name: str, event_type: str,
                       limit: int) -> list[ExtractionEvent]: ...

    def events_by_pattern(self, agent_name: str, pattern: str,
                          limit: int) -> list[ExtractionEvent]: ...

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        """The seed's filtering by risk level: the agent's events at ``risk_level``, newest
        first.  A level outside :data:`RISK_LEVELS` finds an empty list (no event carries
        one), as does an event without a level, which no level names."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        """The seed's ``GET /api/query/extractions``: the events ``where`` matches, newest
        first (``timestamp`` desc, ``id`` desc), a page of at most ``limit`` after
        ``after``, with the total the filter matches."""

    def search_events(self, text: str, where: EventFilter,
                      limit: int) -> list[ExtractionEvent]:
        """The seed's full-text search for extraction content: the events ``where`` matches
        whose matched value and original line hold every token of ``text`` as a token's
        prefix, newest first (``timestamp`` desc, ``id`` desc), at most ``limit``."""

    def events_by_session(self, session_id: str) -> list[ExtractionEvent]: ...

    def agent_stats(self, agent_name: str) -> AgentStats: ...

    def pattern_stats(self, pattern: str) -> PatternStats: ...

    def timeline(self, agent_name: str, start: datetime,
                 end: datetime) -> list[ExtractionEvent]:
        """``start <= timestamp < end``, oldest first."""

    def save_code_block(self, new: NewCodeBlock) -> SavedCodeBlock: ...

    def code_blocks(self, agent_name: str, language: str | None,
                    limit: int) -> list[CodeBlock]: ...

    def create_session(self, new: NewProcessSession) -> ProcessSession:
        """The session and its ``started`` state change, in one transaction."""

    def update_session(self, session_id: str,
                       update: ProcessSessionUpdate) -> ProcessSession: ...

    def record_progress(self, session_id: str, lines_processed: int, extraction_events: int,
                        feedback_outcomes: int) -> ProcessSession:
        """Add to the running totals (each addition 0 to 2**31 - 1); none is ever lost."""

    def complete_session(self, session_id: str, exit_code: int, at: datetime,
                         totals: SessionTotals | None = None) -> ProcessSession:
        """End the session and record its ``completed`` state change, in one transaction;
        ``totals``, when given, replace the running totals (the wrapper's final counts)."""

    def get_session(self, session_id: str) -> ProcessSession: ...

    def sessions_by_agent(self, agent_name: str, limit: int) -> list[ProcessSession]: ...

    def session_history(self, agent_name: str, days: int,
                        now: datetime) -> list[ProcessSession]: ...

    def active_sessions(self) -> list[ProcessSession]: ...

    def record_state_change(self, new: NewStateChange) -> StateChange: ...

    def state_changes(self, session_id: str) -> list[StateChange]: ...

    def replay(self, session_id: str, speed: float,
               start: datetime | None = None) -> list[ReplayStep]:
        """The session's events (from ``start`` on, when given) with their delays."""

    def purge_sessions(self, ended_before: datetime) -> PurgeCounts: ...

    def vacuum(self) -> SpaceReport:
        """Give back the space deleted rows left; the store's bytes before and after."""

    def export_data(self) -> bytes:
        """Every row the store holds, as JSON Lines
        (:mod:`~storecheck.conformance.specs.extraction_export`)."""

    def import_data(self, data: bytes) -> ImportCounts:
        """An export's rows put into a store that holds none, all or nothing
        (:mod:`~storecheck.conformance.specs.extraction_export`)."""

    def close(self) -> None: ...


OPERATIONS: Final[tuple[Operation, ...]] = tuple(
    Operation(name, summary, writes) for name, summary, writes in (
        ("save_event", "SaveExtraction(event)", True),
        ("save_events", "SaveExtractionBatch(events): one transaction", True),
        ("events_by_agent", "GetExtractionsByAgent(agent, limit): recent first", False),
        ("events_by_type", "GetExtractionsByType(agent, type, limit)", False),
        ("events_by_risk", "filtering by risk level (agent, level, limit)", False),
        ("events_by_pattern", "GetExtractionsByPattern(agent, pattern, limit)", False),
        ("query_events", "GET /api/query/extractions?agent&type&pattern&limit: total, "
         "pages", False),
        ("search_events", "full-text search for extraction content", False),
        ("events_by_session", "GetExtractionsBySession(sessionID)", False),
        ("agent_stats", "GetExtractionStats(agent); GET /api/query/stats/agent/:name", False),
        ("pattern_stats", "GET /api/query/stats/pattern/:pattern", False),
        ("timeline", "GET /api/query/timeline?agent=X&from=TS&to=TS", False),
        ("save_code_block", "SaveCodeBlock(block): deduplicated by digest", True),
        ("code_blocks", "GetCodeBlocks(agent, language, limit)", False),
        ("create_session", "CreateSession(agent, sessionID, env)", True),
        ("update_session", "UpdateSession(sessionID, updates)", True),
        ("record_progress", "running totals per session", True),
        ("complete_session", "CompleteSession(sessionID, exitCode, stats)", True),
        ("get_session", "GetSession(sessionID)", False),
        ("sessions_by_agent", "GetSessionsByAgent(agent, limit)", False),
        ("session_history", "GetSessionHistory(agent, days)", False),
        ("active_sessions", "GetActiveSessions()", False),
        ("record_state_change", "RecordStateChange(change)", True),
        ("state_changes", "GetStateChanges(sessionID)", False),
        ("replay", "GET /api/replay/session/:id?speed=1.0; skip to timestamp", False),
        ("purge_sessions", "retention policies (auto-delete old data)", True),
        ("vacuum", "vacuum database: reclaim what purged rows left", True),
        ("export_data", "recovery: data export", False),
        ("import_data", "recovery: data import, into an empty store", True),
    )
)
