"""Deliberately broken event stores of the reference ``app_meta`` store (seed 001).

Each is a way an append-only log with optimistic concurrency is commonly got
wrong: a batch written event by event, the expected version read before the
write transaction, positions drawn before the append commits (the feed then
skips late commits), a feed that hands out events unverified, and a two-file
``atomic()`` that leaves the event file out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    SPEC,
    LoadedAggregate,
    NewEvent,
    StoredEvent,
    event_checksum,
)
from storecheck.reference_impl.app_meta import SqliteAppMeta, SqliteAppMetaSplit, rows as row_codec
from storecheck.reference_impl.app_meta.events import INSERT_EVENT, verified
from storecheck.reference_impl.app_meta.rows import EVENT_COLUMNS
from storecheck.reference_impl.engine.timestamps import to_text

from tests.mutants import sqlite_mutant_backends

INSERT_AT_POSITION = INSERT_EVENT.replace("INSERT INTO events (", "INSERT INTO events (id, ") \
    .replace("VALUES (", "VALUES (?, ")


class AppendsEventByEvent(SqliteAppMeta):
    """Each event of a batch appended in its own transaction: a refused event leaves the
    ones before it, and readers see a batch arrive piece by piece."""

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        for offset, event in enumerate(events):
            stored += super().append_events(aggregate_id, aggregate_type,
                                             expected_version + offset, [event])
        return stored


class AppendsPerChunk(SqliteAppMeta):
    """A large batch appended 500 events to a transaction: a batch refused past its first
    chunk keeps that chunk in the stream."""

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        for first in range(0, len(events), 500):
            stored += super().append_events(aggregate_id, aggregate_type,
                                             expected_version + first, events[first:first + 500])
        return stored


class ExpectedVersionReadBeforeTheWrite(SqliteAppMeta):
    """The stream's head read in one transaction and the events written in the next: two
    writers at the same expected version both pass the test."""

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        aggregate_id, aggregate_type, expected, checked = inputs.append(
            aggregate_id, aggregate_type, expected_version, events)
        with self._events_tx("append_events", aggregate_id, write=False) as conn:
            _check_head(conn, aggregate_id, aggregate_type, expected)
        with self._events_tx("append_events", aggregate_id) as conn:
            return [_insert(conn, event, aggregate_id, aggregate_type, expected + offset, None)
                    for offset, event in enumerate(checked, start=1)]


class PositionsDrawnBeforeCommit(SqliteAppMeta):
    """Positions reserved from a counter in a transaction of their own, then the events
    written in a second one (how a sequence behaves): a writer that reserved lower
    positions can commit after one that reserved higher, and a processor already past
    those never sees them."""

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        aggregate_id, aggregate_type, expected, checked = inputs.append(
            aggregate_id, aggregate_type, expected_version, events)
        with self._events_tx("append_events", aggregate_id) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS position_counter (n INTEGER NOT NULL)")
            conn.execute("INSERT INTO position_counter SELECT coalesce(max(id), 0) FROM events "
                         "WHERE NOT EXISTS (SELECT 1 FROM position_counter)")
            (last,) = conn.execute("UPDATE position_counter SET n = n + ? RETURNING n",
                                   (len(checked),)).fetchone()
        first = last - len(checked) + 1
        with self._events_tx("append_events", aggregate_id) as conn:
            _check_head(conn, aggregate_id, aggregate_type, expected)
            return [_insert(conn, event, aggregate_id, aggregate_type, expected + offset,
                            first + offset - 1)
                    for offset, event in enumerate(checked, start=1)]


def _check_head(conn: Any, aggregate_id: str, aggregate_type: str, expected: int) -> None:
    stored_type, version = SqliteAppMeta._head(conn, aggregate_id)
    if stored_type not in (None, aggregate_type) or version != expected:
        raise Conflict(SPEC, "append_events", "another type or a stale version", aggregate_id)


def _insert(conn: Any, event: NewEvent, aggregate_id: str, aggregate_type: str, sequence: int,
            position: int | None) -> StoredEvent:
    checksum = event_checksum(event.event_id, event.event_type, aggregate_id, aggregate_type,
                              sequence, event.data_json, event.metadata_json, event.trace_id,
                              event.user_id, event.timestamp)
    values = (event.event_id, event.event_type, aggregate_id, aggregate_type, sequence,
              event.data_json, event.metadata_json, event.trace_id, event.user_id,
              to_text(event.timestamp), checksum)
    if position is None:
        return row_codec.event(conn.execute(INSERT_EVENT, values).fetchone())
    return row_codec.event(conn.execute(INSERT_AT_POSITION, (position, *values)).fetchone())


class FeedNotVerified(SqliteAppMeta):
    """The aggregate reads verify each event's checksum, the feed does not: a processor is
    handed a tampered event as if it were the one appended."""

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        after_position, limit = inputs.feed(after_position, limit)
        with self._events_tx("read_feed", after_position, write=False) as conn:
            return [row_codec.event(row) for row in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after_position, limit))]


class SplitAtomicLeavesEventsOut(SqliteAppMetaSplit):
    """The production layout's ``atomic()`` holds the application file only: events
    appended in a block that rolls back stay committed in the events file."""

    def atomic(self) -> AbstractContextManager[None]:
        return self._atomic_app_only()

    @contextmanager
    def _atomic_app_only(self) -> Iterator[None]:
        with self._tx("atomic"):
            yield


class SplitBlockCommittedFileByFile(SqliteAppMetaSplit):
    """The production layout's ``atomic()`` as the seed's application commits it: the
    event file, then the application file, with no record between them, so a crash
    between the two commits keeps the block's events without its application writes."""

    def atomic(self) -> AbstractContextManager[None]:
        return self._file_by_file()

    @contextmanager
    def _file_by_file(self) -> Iterator[None]:
        with self._tx("atomic"), self.events_db.atomic():
            yield


class LoadReplaysWholeStream(SqliteAppMeta):
    """The snapshot is loaded, and then every event of the stream is read and the ones it
    covers dropped in the application: right events, cost of the whole stream."""

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate:
        loaded = super().load_aggregate(aggregate_id)
        if loaded.snapshot is None:
            return loaded
        every = self.read_events(aggregate_id)
        return LoadedAggregate(loaded.aggregate_id, loaded.aggregate_type, loaded.version,
                               loaded.snapshot, tuple(event for event in every
                                                      if event.sequence_number
                                                      > loaded.snapshot.version))


class FeedPagedByOffset(SqliteAppMeta):
    """The feed's page found by counting the events up to the position (an OFFSET), not by
    seeking to it: equal on SQLite's gapless positions, and it reads every earlier event."""

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        with self._tx("read_feed", after_position, write=False) as conn:
            return verified("read_feed", conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id LIMIT ? OFFSET "
                "(SELECT count(*) FROM events WHERE id <= ?)", (limit, after_position)))


class FeedAfterInclusive(SqliteAppMeta):
    """``after`` read as "from": the feed hands back the event the processor is at, so a
    processor paging by its last position reads the same page forever."""

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        with self._tx("read_feed", after_position, write=False) as conn:
            return verified("read_feed", conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id >= ? ORDER BY id LIMIT ?",
                (after_position, limit)))


COSTS: dict[str, tuple[type[Any], str]] = {
    "load_replays_whole_stream": (LoadReplaysWholeStream, "latency"),
    "feed_paged_by_offset": (FeedPagedByOffset, "latency"),
}
"""Right rows at the wrong cost: only the scaling checks see them."""


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "appends_event_by_event": (AppendsEventByEvent, "acid"),
    "appends_per_chunk": (AppendsPerChunk, "acid"),
    "expected_version_read_before_the_write": (ExpectedVersionReadBeforeTheWrite, "concurrency"),
    "positions_drawn_before_commit": (PositionsDrawnBeforeCommit, "concurrency"),
    "feed_not_verified": (FeedNotVerified, "badinput"),
    "feed_after_inclusive": (FeedAfterInclusive, "concurrency"),
    "split_atomic_leaves_events_out": (SplitAtomicLeavesEventsOut, "acid"),
    "split_block_committed_file_by_file": (SplitBlockCommittedFileByFile, "acid"),
    **COSTS,
}

globals().update(sqlite_mutant_backends(MUTANTS, __name__))
