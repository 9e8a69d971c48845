"""The event store of the reference ``app_meta`` store: streams, snapshots, the feed.

On SQLite a write transaction holds the file's one write lock from ``BEGIN
IMMEDIATE`` to its commit, and positions come from ``AUTOINCREMENT`` inside it,
so events become visible in position order: a processor reading after its
checkpoint can never miss a lower position that commits later.  The
expected-version test runs inside that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Final

from storecheck.conformance.errors import Conflict, NotFound, StorageCause, StorageFailed
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    SPEC,
    LoadedAggregate,
    NewEvent,
    Snapshot,
    StoredEvent,
    event_checksum,
)
from storecheck.reference_impl.app_meta import rows
from storecheck.reference_impl.app_meta.pipelines import SqliteAppMetaPipelines
from storecheck.reference_impl.app_meta.rows import EVENT_COLUMNS, SNAPSHOT_COLUMNS
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.timestamps import to_text

INSERT_EVENT: Final = (
    "INSERT INTO events (event_id, event_type, aggregate_id, aggregate_type, sequence_number, "
    "event_data, metadata, trace_id, user_id, timestamp, checksum) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {EVENT_COLUMNS}")
# max(), not ORDER BY ... DESC LIMIT 1: translated for PostgreSQL, that ORDER BY gains
# NULLS LAST (SQLite's order), which the UNIQUE index cannot give, so PostgreSQL
# sorted the whole stream to find its head (found by the latency table's scaling row).
STREAM_HEAD: Final = (
    "SELECT aggregate_type, sequence_number FROM events WHERE aggregate_id = ? AND "
    "sequence_number = (SELECT max(sequence_number) FROM events WHERE aggregate_id = ?)")
READ_STREAM: Final = (f"SELECT {EVENT_COLUMNS} FROM events WHERE aggregate_id = ? "
                      "AND sequence_number >= ? ORDER BY sequence_number")
READ_SNAPSHOT: Final = f"SELECT {SNAPSHOT_COLUMNS} FROM aggregate_snapshots WHERE aggregate_id = ?"
READ_FEED: Final = f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?"


def verified(operation: str, found: Iterable[Any]) -> list[StoredEvent]:
    """The rows as events, or StorageFailed(CORRUPT) naming the first whose fields no
    longer match its checksum."""
    events = [rows.event(row) for row in found]
    for event in events:
        expected = event_checksum(event.event_id, event.event_type, event.aggregate_id,
                                  event.aggregate_type, event.sequence_number, event.data_json,
                                  event.metadata_json, event.trace_id, event.user_id,
                                  event.timestamp)
        if expected != event.checksum:
            raise StorageFailed(SPEC, operation, StorageCause.CORRUPT,
                                f"event {event.event_id!r} at position {event.position} does "
                                "not match its checksum", event.position)
    return events


class SqliteAppMetaEvents(SqliteAppMetaPipelines):
    """The event tables; :meth:`_events_tx` says which file holds them."""

    def _events_tx(self, operation: str, value: Any = None, *,
                   write: bool = True) -> AbstractContextManager[Connection]:
        return self._tx(operation, value, write=write)

    @staticmethod
    def _head(conn: Connection, aggregate_id: str) -> tuple[str | None, int]:
        row = conn.execute(STREAM_HEAD, (aggregate_id, aggregate_id)).fetchone()
        return (None, 0) if row is None else (row[0], row[1])

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        aggregate_id, aggregate_type, expected, checked = inputs.append(
            aggregate_id, aggregate_type, expected_version, events)
        with self._events_tx("append_events", aggregate_id) as conn:
            stored_type, version = self._head(conn, aggregate_id)
            if stored_type is not None and stored_type != aggregate_type:
                raise Conflict(SPEC, "append_events", f"the aggregate is a {stored_type}, "
                               f"not a {aggregate_type}", aggregate_id)
            if version != expected:
                raise Conflict(SPEC, "append_events", f"expected version {expected}, the "
                               f"aggregate is at {version}", aggregate_id)
            appended = []
            for offset, event in enumerate(checked, start=1):
                sequence = expected + offset
                checksum = event_checksum(event.event_id, event.event_type, aggregate_id,
                                          aggregate_type, sequence, event.data_json,
                                          event.metadata_json, event.trace_id, event.user_id,
                                          event.timestamp)
                appended.append(rows.event(conn.execute(INSERT_EVENT, (
                    event.event_id, event.event_type, aggregate_id, aggregate_type, sequence,
                    event.data_json, event.metadata_json, event.trace_id, event.user_id,
                    to_text(event.timestamp), checksum)).fetchone()))
            return appended

    def read_events(self, aggregate_id: str, from_version: int = 1) -> list[StoredEvent]:
        (aggregate_id,) = inputs.texts("read_events", aggregate_id=aggregate_id)
        from_version = inputs.version("read_events", "from_version", from_version, 1)
        with self._events_tx("read_events", aggregate_id, write=False) as conn:
            return verified("read_events", conn.execute(READ_STREAM, (aggregate_id, from_version)))

    def aggregate_version(self, aggregate_id: str) -> int:
        (aggregate_id,) = inputs.texts("aggregate_version", aggregate_id=aggregate_id)
        with self._events_tx("aggregate_version", aggregate_id, write=False) as conn:
            return self._head(conn, aggregate_id)[1]

    def save_snapshot(self, aggregate_id: str, version: int, state_json: str,
                      at: datetime) -> Snapshot:
        aggregate_id, version, state_json, at = inputs.snapshot(aggregate_id, version,
                                                                state_json, at)
        with self._events_tx("save_snapshot", aggregate_id) as conn:
            aggregate_type, current = self._head(conn, aggregate_id)
            if aggregate_type is None:
                raise NotFound(SPEC, "save_snapshot", "no such aggregate", aggregate_id)
            if version > current:
                raise Conflict(SPEC, "save_snapshot", f"the aggregate is at version {current}",
                               version)
            stored = conn.execute("SELECT sequence_number FROM aggregate_snapshots "
                                  "WHERE aggregate_id = ?", (aggregate_id,)).fetchone()
            if stored is not None and stored[0] >= version:
                raise Conflict(SPEC, "save_snapshot", f"a snapshot at version {stored[0]} "
                               "is stored already", version)
            return rows.snapshot(conn.execute(
                "INSERT INTO aggregate_snapshots (aggregate_id, aggregate_type, sequence_number, "
                "snapshot_data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (aggregate_id) "
                "DO UPDATE SET sequence_number = excluded.sequence_number, "
                "snapshot_data = excluded.snapshot_data, created_at = excluded.created_at "
                f"RETURNING {SNAPSHOT_COLUMNS}",
                (aggregate_id, aggregate_type, version, state_json, to_text(at))).fetchone())

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate:
        (aggregate_id,) = inputs.texts("load_aggregate", aggregate_id=aggregate_id)
        with self._events_tx("load_aggregate", aggregate_id, write=False) as conn:
            aggregate_type, version = self._head(conn, aggregate_id)
            if aggregate_type is None:
                raise NotFound(SPEC, "load_aggregate", "no such aggregate", aggregate_id)
            row = conn.execute(READ_SNAPSHOT, (aggregate_id,)).fetchone()
            snapshot = None if row is None else rows.snapshot(row)
            after = 0 if snapshot is None else snapshot.version
            events = verified("load_aggregate", conn.execute(READ_STREAM, (aggregate_id, after + 1)))
            return LoadedAggregate(aggregate_id, aggregate_type, version, snapshot, tuple(events))

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        after_position, limit = inputs.feed(after_position, limit)
        with self._events_tx("read_feed", after_position, write=False) as conn:
            return verified("read_feed", conn.execute(READ_FEED, (after_position, limit)))

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        processor, position, at = inputs.checkpoint(processor, position, at)
        with self._events_tx("set_checkpoint", processor) as conn:
            row = conn.execute("SELECT last_processed_sequence FROM event_checkpoints "
                               "WHERE processor_name = ?", (processor,)).fetchone()
            current = 0 if row is None else row[0]
            if position < current:
                raise Conflict(SPEC, "set_checkpoint", f"the processor is at {current}; "
                               "checkpoints only move forward", position)
            if position > current or row is None:
                conn.execute(
                    "INSERT INTO event_checkpoints (processor_name, last_processed_sequence, "
                    "updated_at) VALUES (?, ?, ?) ON CONFLICT (processor_name) DO UPDATE SET "
                    "last_processed_sequence = excluded.last_processed_sequence, "
                    "updated_at = excluded.updated_at", (processor, position, to_text(at)))
            return position

    def get_checkpoint(self, processor: str) -> int:
        (processor,) = inputs.texts("get_checkpoint", processor=processor)
        with self._events_tx("get_checkpoint", processor, write=False) as conn:
            row = conn.execute("SELECT last_processed_sequence FROM event_checkpoints "
                               "WHERE processor_name = ?", (processor,)).fetchone()
            return 0 if row is None else int(row[0])
