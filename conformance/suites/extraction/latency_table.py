"""``extraction`` latency targets (seed 002) and the workloads that measure them.

Seed 002's targets: "Batch operations optimized (<10ms per 100 records)" (line
453) and "Query by agent: <10ms for 1000 records" (line 80).  Its benchmark
(lines 194-207) is a Go peer's, not a target: ~7 µs per single insert, ~10 µs
per session create, ~3 µs per session get, and a batch of 100 given as both
~445,000 ns/op (line 198) and "~4.5ms" (line 205).  The reference's batch
(one statement of 100 rows in one transaction) measures 3 to 4.5 ms at the
median on a shared two-core machine: level with the slower Go figure, so it is
printed in the ``save_events (100)`` row rather than held as a target that
the machine's noise would decide.  The other rows are project targets held to
the seed's 10 ms bound.  Every row is measured on
10,000 events (the seed's queries speak of 1,000): 1,000 sessions of ten events
each, four agents, a code block and six state changes per session, half the sessions
completed; and nine sessions without events of a fifth, idle agent per session.

``SCALING`` bounds how much each read and write may cost more on 10,000 events
than on 1,000.  ``agent_stats``, ``pattern_stats``, ``active_sessions`` and
``purge_sessions`` are left out: counting an agent's events, listing every
running session and deleting every old one grow with the data by nature.

The seed's store description adds "Batch insert (10 records): ~72µs" (line 78),
again the Go peer's figure: the ``save_events (10)`` row holds a batch of ten to line
453's bound for a batch operation (10 ms) and prints the 72 µs beside it.  Read pro rata
(1 ms for ten records) the bound sits under what one commit costs: the bare SQL of the
batch measured 0.63 ms at the median and the reference 1.08 ms on a quiet shared
machine, so the row would fail every correct store on a slower disk.  A store that
commits the ten one by one is the floor multiple's to catch.

``search_events`` (the seed's full-text search, line 468, with no figure of its own) is
held to the same 10 ms for a word few events hold: the index's hits come first, each event
then by its key.  A word every event holds is another matter: its 10,000 hits are read and
sorted by time to keep 100 (about 20 ms on the reference for every agent's events, 4 ms for
one agent's), as in any index that keeps no time order; the row is not held.

The seed's figures are benchmark means (Go's ns/op), so its rows are held at the
median; the project's rows at p99.  "Query by agent ... for 1000 records" is read
as a query on a table of 1,000 records (here ten times that) returning a page of
100: returning all 1,000 rows costs 4 ms of bare SQL on SQLite before a single
record is built.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from storecheck.conformance.latency import PROJECT_TARGET, LatencyTarget
from storecheck.conformance.scaling import LARGE, Growth
from storecheck.conformance.specs.extraction import (
    EventCursor,
    EventFilter,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
)
from storecheck.conformance.specs.text_search import tokens
from storecheck.fixtures.extraction import AGENTS, EVENT_TYPES, PATTERNS, T0
from storecheck.reference_impl.engine.text_index import FTS5_TOKENS
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.extraction.store import (
    EVENTS_BY_AGENT,
    EVENTS_OF_SESSION,
    INSERT_CHANGE,
    INSERT_SESSION,
    SELECT_SESSION,
    event_statements,
    event_values,
    insert_events_statement,
    search_statement,
)

DATASET: Final = LARGE
EVENTS_PER_SESSION: Final = 10
BATCH: Final = 100
RUNNING_STATES: Final = 6
"""``running`` state changes per session beside its ``started`` (and, for half, its
``completed``): a wrapped process reports its state as it goes, and without this many a
whole scan of the state changes (a forgotten index on their session) costs less than the
call around it, and hides in the growth from 1,000 to 10,000 events."""
IDLE_AGENT: Final = "idle"
IDLE_SESSIONS: Final = 9
"""Sessions of an agent that never extracts anything, beside each session of the dataset's
four agents: a wrapper started and left waiting.  No timed read asks for them; without them
the sessions are a tenth of the events, and a whole scan of them (a forgotten index on
(agent, started_at)) costs less than the ten sessions a page returns."""
BENCH_SESSION: Final = "bench-session"
STEP: Final = timedelta(milliseconds=100)
"""The dataset's events are this far apart, in the order they were saved."""
SEED_453: Final = "seed 002 line 453: batch operations < 10ms per 100 records"
SEED_80: Final = "seed 002 line 80: query by agent < 10ms for 1000 records"
SEED_453_TEN: Final = ("seed 002 line 453: batch operations < 10ms, a batch of ten (line 78: "
                       "the Go peer's ~72µs)")
SMALL_BATCH: Final = 10
TEN_MS: Final = f"{PROJECT_TARGET}: the seed's 10ms bound (lines 80, 453) for every call"
SEED_436: Final = (f"{PROJECT_TARGET}: the seed's 10ms query bound (line 80) for its query "
                   "endpoint, which its tests time without a target (line 436), a page of 100 "
                   "with its total")
NOW: Final = T0 + timedelta(days=30)


@dataclass
class Dataset:
    session_ids: list[str]
    last_start: datetime
    """When the dataset's last session started."""
    batches: list[list[NewExtractionEvent]]
    """Batches of 100 new events made in advance, so the timing is the store's alone."""

    def session(self, i: int) -> str:
        return self.session_ids[(i * 7919) % len(self.session_ids)]

    def batch(self, i: int) -> list[NewExtractionEvent]:
        return self.batches[i % len(self.batches)]


def _event(n: int, session_id: str, agent: str, at: Any = None) -> NewExtractionEvent:
    return NewExtractionEvent(
        agent, session_id, T0 + n * STEP if at is None else at, EVENT_TYPES[n % 3],
        PATTERNS[n % 3], f"TypeError: undefined at line {n}", f'  File "main.py", line {n}',
        n % 5000 + 1, '{"confidence": 0.5}', None, ("low", "medium", "high")[n % 3], n % 2 == 0)


def load(store: Any, transactional: bool, calls: int, size: int = DATASET) -> Dataset:
    """``size`` events in sessions of ten, saved in batches of 100 (ten sessions each), each
    session with :data:`RUNNING_STATES` state changes beside its first and
    :data:`IDLE_SESSIONS` sessions of the idle agent beside it."""
    sessions = size // EVENTS_PER_SESSION
    data = Dataset([f"sess-{n:06d}" for n in range(sessions)],
                   T0 + (sessions - 1) * EVENTS_PER_SESSION * STEP, [])
    for first in range(0, sessions, BATCH // EVENTS_PER_SESSION):
        def write(first: int = first) -> None:
            batch = []
            for s in range(first, min(first + BATCH // EVENTS_PER_SESSION, sessions)):
                session_id, agent = data.session_ids[s], AGENTS[s % len(AGENTS)]
                start = T0 + s * EVENTS_PER_SESSION * STEP
                store.create_session(NewProcessSession(agent, session_id, start, "bench"))
                for k in range(IDLE_SESSIONS):
                    store.create_session(NewProcessSession(IDLE_AGENT, f"idle-{s:06d}-{k}",
                                                           start + k * STEP, "bench"))
                for k in range(1, RUNNING_STATES + 1):
                    store.record_state_change(NewStateChange(session_id, start + k * STEP,
                                                             "running"))
                batch += [_event(s * EVENTS_PER_SESSION + k, session_id, agent)
                          for k in range(EVENTS_PER_SESSION)]
                store.save_code_block(_block(s, session_id, agent, start))
                if s % 2:
                    store.complete_session(session_id, s % 3, start + EVENTS_PER_SESSION * STEP)
            store.save_events(batch)
        if transactional:
            with store.atomic():
                write()
        else:
            write()
    store.create_session(NewProcessSession("bench", BENCH_SESSION, NOW, "bench"))
    data.batches = [[_event(n, "bench-batch", "bench", NOW) for n in range(b, b + BATCH)]
                    for b in range(0, BATCH * 20, BATCH)]
    return data


def _block(n: int, session_id: str, agent: str, at: datetime) -> NewCodeBlock:
    return NewCodeBlock(agent, session_id, at, f"def f{n}():\n    return {n}\n",
                        ("python", "go")[n % 2], 1, 2, "{}", True)


Workload = Callable[[Any, Dataset, int], Any]
Floor = Callable[[sqlite3.Connection, Dataset, int], Any]


def _save_events(store: Any, data: Dataset, i: int) -> Any:
    return store.save_events(data.batch(i))


def _save_events_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    batch = data.batch(i)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(insert_events_statement(len(batch)),
                 [value for new in batch for value in event_values(new)]).fetchall()
    conn.execute("COMMIT")


def _save_ten(store: Any, data: Dataset, i: int) -> Any:
    return store.save_events(_ten(data, i))


def _ten(data: Dataset, i: int) -> list[NewExtractionEvent]:
    start = i % (BATCH // SMALL_BATCH) * SMALL_BATCH
    return data.batch(i)[start:start + SMALL_BATCH]


def _save_ten_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    batch = _ten(data, i)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(insert_events_statement(len(batch)),
                 [value for new in batch for value in event_values(new)]).fetchall()
    conn.execute("COMMIT")


def _save_event(store: Any, data: Dataset, i: int) -> Any:
    return store.save_event(data.batch(i)[i % BATCH])


def _by_agent(limit: int) -> Workload:
    def by_agent(store: Any, data: Dataset, i: int) -> Any:
        return store.events_by_agent(AGENTS[i % len(AGENTS)], limit)

    return by_agent


def _by_agent_floor(limit: int) -> Floor:
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        conn.execute("BEGIN")
        conn.execute(EVENTS_BY_AGENT, (AGENTS[i % len(AGENTS)], limit)).fetchall()
        conn.execute("COMMIT")

    return floor


def _by_type(store: Any, data: Dataset, i: int) -> Any:
    return store.events_by_type(AGENTS[i % len(AGENTS)], EVENT_TYPES[i % 3], 100)


def _by_risk(level: str | None) -> Workload:
    """A level of the dataset's (``None``: each in turn), or one none of its events has."""
    def by_risk(store: Any, data: Dataset, i: int) -> Any:
        return store.events_by_risk(AGENTS[i % len(AGENTS)],
                                    level or ("low", "medium", "high")[i % 3], 100)

    return by_risk


def _by_pattern(store: Any, data: Dataset, i: int) -> Any:
    return store.events_by_pattern(AGENTS[i % len(AGENTS)], PATTERNS[i % 3], 100)


def _query_filter(i: int, combined: bool) -> EventFilter:
    """Every agent's events, or one agent's of one type and pattern (a third of them)."""
    if not combined:
        return EventFilter()
    return EventFilter(AGENTS[i % len(AGENTS)], EVENT_TYPES[i % 3], PATTERNS[i % 3])


def _middle(data: Dataset) -> EventCursor:
    """A place half way down the newest-first order: the dataset's events are saved
    ``STEP`` apart with ids in that order, so the place is the same at every size."""
    return EventCursor(T0 + (len(data.session_ids) * EVENTS_PER_SESSION // 2) * STEP, 10**12)


def _query(combined: bool, deep: bool) -> Workload:
    """A page of 100 with its total: the first, or the one after the middle event."""
    def query(store: Any, data: Dataset, i: int) -> Any:
        return store.query_events(_query_filter(i, combined), 100,
                                  _middle(data) if deep else None)

    return query


def _query_floor(combined: bool, deep: bool) -> Floor:
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        query = event_statements(_query_filter(i, combined))
        conn.execute("BEGIN")
        conn.execute(query.total, query.values).fetchone()
        if deep:
            middle = _middle(data)
            conn.execute(query.page_after, (*query.values, to_text(middle.timestamp), middle.id,
                                            101)).fetchall()
        else:
            conn.execute(query.first_page, (*query.values, 101)).fetchall()
        conn.execute("COMMIT")

    return floor


def _one_event_words(data: Dataset, i: int) -> tuple[str, EventFilter]:
    """A line number only one event's text holds, with that event's agent: its number
    times ten is past the dataset, so no longer number starts with it, and the agent leaves
    out the benchmark's own batches, whose lines repeat the first 2,000 numbers."""
    size = len(data.session_ids) * EVENTS_PER_SESSION
    n = size // 10 + (i * 7919) % (size - size // 10)
    return str(n), EventFilter(AGENTS[n // EVENTS_PER_SESSION % len(AGENTS)])


def _search(store: Any, data: Dataset, i: int) -> Any:
    text, where = _one_event_words(data, i)
    return store.search_events(text, where, 100)


def _search_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    text, where = _one_event_words(data, i)
    sql, values = search_statement(where, FTS5_TOKENS)
    conn.execute("BEGIN")
    conn.execute(sql, (FTS5_TOKENS.match(tokens(text)), *values, 100)).fetchall()
    conn.execute("COMMIT")


def _by_session(store: Any, data: Dataset, i: int) -> Any:
    return store.events_by_session(data.session(i))


def _by_session_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(EVENTS_OF_SESSION, (data.session(i),)).fetchall()
    conn.execute("COMMIT")


def _timeline(store: Any, data: Dataset, i: int) -> Any:
    """The first 200 events' window: the same 50 hits of one agent at every size."""
    return store.timeline(AGENTS[i % len(AGENTS)], T0, T0 + 200 * STEP)


def _code_blocks(store: Any, data: Dataset, i: int) -> Any:
    """A full page at both sizes: the 1,000-event dataset holds 25 sessions per agent, 12 of
    them with a block in each language."""
    return store.code_blocks(AGENTS[i % len(AGENTS)], ("python", "go", None)[i % 3], 10)


_fresh_ids = itertools.count()
"""New session ids: a workload is called again with the same ``i`` (warm-up, each target)."""


def _create_session(store: Any, data: Dataset, i: int) -> Any:
    return store.create_session(NewProcessSession("bench", f"new-{next(_fresh_ids)}", NOW,
                                                  "bench"))


def _create_session_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    session_id, at = f"floor-{next(_fresh_ids)}", to_text(NOW)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(INSERT_SESSION, ("bench", session_id, "bench", at, None, None, None,
                                  None)).fetchone()
    conn.execute(INSERT_CHANGE, (session_id, at, "started", None, None)).fetchone()
    conn.execute("COMMIT")


def _get_session(store: Any, data: Dataset, i: int) -> Any:
    return store.get_session(data.session(i))


def _get_session_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(SELECT_SESSION, (data.session(i),)).fetchone()
    conn.execute("COMMIT")


def _sessions_by_agent(store: Any, data: Dataset, i: int) -> Any:
    return store.sessions_by_agent(AGENTS[i % len(AGENTS)], 10)


def _history(store: Any, data: Dataset, i: int) -> Any:
    """Sessions started since the dataset's last 40: the same ten per agent at every size."""
    since = data.last_start - 39 * EVENTS_PER_SESSION * STEP
    return store.session_history(AGENTS[i % len(AGENTS)], 1, since + timedelta(days=1))


def _record_progress(store: Any, data: Dataset, i: int) -> Any:
    return store.record_progress(data.session(i), 10, 1, 0)


def _state_change(store: Any, data: Dataset, i: int) -> Any:
    """Into a session no read asks for: a few hundred calls on either dataset would pile
    onto the small one's sessions ten times as thickly, and make its reads the slower."""
    return store.record_state_change(NewStateChange(BENCH_SESSION, NOW, "running"))


def _state_changes(store: Any, data: Dataset, i: int) -> Any:
    return store.state_changes(data.session(i))


def _replay(store: Any, data: Dataset, i: int) -> Any:
    return store.replay(data.session(i), 2.0)


KEYED = "a lookup by key through the primary key or a unique index: log n"
PAGE = "the newest rows of one key, read in order from an index on (key, time, id)"
SESSION = "one session's rows through an index on session_id"
WRITE = "an insert or an update by key updates each index at log n"
QUERY = ("the page read in order from an index on (time, id), from the cursor on; the total "
         "the table's count, which SQLite keeps in its B-tree pages")

SCALING: Final[tuple[tuple[Growth, Workload], ...]] = (
    (Growth("save_event", 2.5, WRITE), _save_event),
    (Growth("save_events (100)", 2.5, WRITE), _save_events),
    (Growth("events_by_agent (100)", 2.5, PAGE), _by_agent(100)),
    (Growth("events_by_type (100)", 2.5, PAGE), _by_type),
    (Growth("events_by_pattern (100)", 2.5, PAGE), _by_pattern),
    (Growth("events_by_risk (100)", 2.5, PAGE), _by_risk(None)),
    (Growth("events_by_risk (a level no event has)", 2.5, "found empty at once through an "
            "index on (agent, risk, time); without it every event of the agent is read"),
     _by_risk("critical")),
    (Growth("query_events (every agent, 100)", 2.5, QUERY), _query(False, False)),
    (Growth("query_events (every agent, 100 after the middle)", 2.5, QUERY),
     _query(False, True)),
    (Growth("search_events (a number one event holds)", 2.5, "the one hit's postings in the "
            "full-text index, then the event by its key"), _search),
    (Growth("events_by_session", 2.5, SESSION), _by_session),
    (Growth("timeline (a fixed window)", 2.5, "the same 50 hits, found through an index "
            "on (agent, time)"), _timeline),
    (Growth("code_blocks (10)", 2.5, PAGE), _code_blocks),
    (Growth("create_session", 2.5, WRITE), _create_session),
    (Growth("get_session", 2.5, KEYED), _get_session),
    (Growth("sessions_by_agent (10)", 2.5, PAGE), _sessions_by_agent),
    (Growth("session_history (a fixed window)", 2.5, "the same ten sessions, found through an "
            "index on (agent, started_at)"), _history),
    (Growth("record_progress", 2.5, WRITE), _record_progress),
    (Growth("record_state_change", 2.5, WRITE), _state_change),
    (Growth("state_changes", 2.5, SESSION), _state_changes),
    (Growth("replay", 2.5, SESSION), _replay),
)

LARGEST_SCALING: Final[tuple[tuple[Growth, Workload], ...]] = tuple(
    row for row in SCALING if row[0].reason not in (WRITE, QUERY))
"""The queries, timed once more from 10,000 to 100,000 events by the thorough profile: the
seed's open item "optimize query performance for large datasets (>1M records)" (line 467)
asks them to stay fast far past the latency table's dataset.  The writes are left out: they
would reuse the keys their run on 10,000 events took; so is ``query_events``, whose total
counts every event (the count walks the table's pages: 2.1x from 10,000 to 100,000 on the
reference, against 1.0x from 1,000 to 10,000)."""

TARGETS: Final[tuple[tuple[LatencyTarget, Workload, Floor | None], ...]] = (
    (LatencyTarget("save_events (100)", DATASET, 50, 10, SEED_453), _save_events,
     _save_events_floor),
    (LatencyTarget("save_events (10)", DATASET, 50, 10, SEED_453_TEN), _save_ten,
     _save_ten_floor),
    (LatencyTarget("events_by_agent (100)", DATASET, 50, 10, SEED_80), _by_agent(100),
     _by_agent_floor(100)),
    (LatencyTarget("query_events (every agent, 100)", DATASET, 99, 10, SEED_436),
     _query(False, False), _query_floor(False, False)),
    (LatencyTarget("query_events (agent, type and pattern, 100 after the middle)", DATASET, 99,
                   10, SEED_436), _query(True, True), _query_floor(True, True)),
    (LatencyTarget("search_events (a number one event holds)", DATASET, 99, 10, TEN_MS),
     _search, _search_floor),
    (LatencyTarget("events_by_session", DATASET, 99, 10, TEN_MS), _by_session,
     _by_session_floor),
    (LatencyTarget("save_event", DATASET, 99, 10, TEN_MS), _save_event, None),
    (LatencyTarget("create_session", DATASET, 99, 10, TEN_MS), _create_session,
     _create_session_floor),
    (LatencyTarget("get_session", DATASET, 99, 10, TEN_MS), _get_session, _get_session_floor),
    (LatencyTarget("timeline", DATASET, 99, 10, TEN_MS), _timeline, None),
    (LatencyTarget("replay", DATASET, 99, 10, TEN_MS), _replay, None),
)
