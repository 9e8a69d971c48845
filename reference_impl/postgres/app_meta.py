"""The reference ``app_meta`` store on PostgreSQL (seed 001's MVP layout: one schema).

Its operations are the SQLite reference's.  Two things SQLite's single writer
gives for free need a tool of their own at READ COMMITTED:

* **Feed order.**  A processor reads "events after my checkpoint, by
  position".  Positions come from a sequence, drawn when a row is inserted, but
  transactions commit in any order: a writer that drew position 7 may commit
  after another's position 8 is visible, and a processor that had read 8 would
  never see 7.  Every event-appending transaction therefore takes one
  transaction-scoped advisory lock before drawing a position, so appends commit
  one after another in position order (a table lock would also block readers;
  an xid watermark would let appends run in parallel but makes every feed read
  compare transaction snapshots, and the seed's store appends from one process).
  Appends serialise; reads and the application's tables do not wait.
* **The expected-version test** reads the stream's head and then inserts.  Two
  racing appends at the same expected version both read the same head; the
  second insert then hits ``UNIQUE (aggregate_id, sequence_number)``, which is
  the clash the spec calls Conflict.  The advisory lock above already queues
  them, so the loser reads the winner's head and reports the Conflict itself.

Snapshots and checkpoints read, then upsert: a row lock (``FOR UPDATE``) on
the aggregate's newest event or the checkpoint row would not cover a first
snapshot or a first checkpoint, so they take the same lock keyed by table.
Sequences leave gaps when a transaction rolls back; the spec's positions need
only increase, so gaps are allowed (paging the feed by OFFSET would not be).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, NoReturn

from storecheck.conformance.specs.app_meta import NewEvent, Snapshot, StoredEvent
from storecheck.reference_impl.app_meta.store import SqliteAppMeta
from storecheck.reference_impl.postgres.store import PostgresStore, WithoutBackups

_LOCK_EVENT_LOG: Final = "SELECT pg_advisory_xact_lock(hashtext('storecheck.app_meta.events'))"
_LOCK_SNAPSHOTS: Final = "SELECT pg_advisory_xact_lock(hashtext('storecheck.app_meta.snapshots'))"
_LOCK_CHECKPOINTS: Final = (
    "SELECT pg_advisory_xact_lock(hashtext('storecheck.app_meta.checkpoints'))")


class PgAppMeta(WithoutBackups, PostgresStore, SqliteAppMeta):
    """Implements :class:`~storecheck.conformance.specs.app_meta.AppMetaStore` (not its
    maintenance: :class:`~storecheck.reference_impl.postgres.store.WithoutBackups`)."""

    def backup_due(self, at: datetime, interval: timedelta) -> NoReturn:
        raise self._not_here("backup_due")

    def health(self) -> NoReturn:
        raise self._not_here("health")

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        with self._tx("append_events", aggregate_id) as conn:
            self._native(conn).execute_native(_LOCK_EVENT_LOG)
            return super().append_events(aggregate_id, aggregate_type, expected_version, events)

    def save_snapshot(self, aggregate_id: str, version: int, state_json: str,
                      at: datetime) -> Snapshot:
        with self._tx("save_snapshot", aggregate_id) as conn:
            self._native(conn).execute_native(_LOCK_SNAPSHOTS)
            return super().save_snapshot(aggregate_id, version, state_json, at)

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        with self._tx("set_checkpoint", processor) as conn:
            self._native(conn).execute_native(_LOCK_CHECKPOINTS)
            return super().set_checkpoint(processor, position, at)
