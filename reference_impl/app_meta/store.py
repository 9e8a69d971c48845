"""The reference ``app_meta`` store on SQLite (seed 001), in the seed's two layouts.

* MVP (:class:`SqliteAppMeta`): one file holds the application's tables and the
  event store, ``synchronous=NORMAL``.
* Production (:class:`SqliteAppMetaSplit`): the application's tables in the
  location's file, the event store in ``<location>.events`` written with
  ``synchronous=FULL`` (an event the caller saw committed survives a power cut,
  not only a crash).  Each file has its own migrations; an ``atomic()`` block
  holds a transaction on both files and commits the events file first (the
  events are the record the application's tables are rebuilt from).  Between two
  files SQLite's WAL mode gives no atomic commit, so a block that changed the
  event file leaves an undo record before its first commit, and one whose second
  commit never came is taken back before the event file is read or written again
  (:mod:`.cross_file`).

  The two layouts have one schema: the event file's migrations follow the
  application's (its tables exist from version 1 on, as in the MVP file), and
  :meth:`schema_ddl` reports both files' objects.

The seed's tuning (64 MB page cache, temporary storage in memory, a 128 MB memory map) is
not adopted: ``python -m tests.tuning_benchmark --spec app_meta`` measured no gain on the
latency table's dataset (median of 22 timed rows 0.99x with the cache alone, 0.98x with
all three, within the run's noise): every timed read is an index walk whose pages SQLite's
default 2 MiB cache holds, and no timed query sorts enough to spill.  A memory map would
also turn an I/O error on the file into a SIGBUS where the spec wants ``StorageFailed``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final

from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.app_meta import SPEC, Snapshot
from storecheck.reference_impl.app_meta.cross_file import (
    CHECKPOINTS,
    SNAPSHOTS,
    UNDO_SUFFIX,
    OpenBlock,
    UndoTable,
    open_block,
    read_record,
    undo,
    write_record,
)
from storecheck.reference_impl.app_meta.maintenance import SqliteAppMetaMaintenance
from storecheck.reference_impl.engine import load_migrations
from storecheck.reference_impl.engine.connection import ConnectionRules, Database
from storecheck.reference_impl.engine.migrator import Migration
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import not_a_file, schema_objects

APP_MIGRATIONS = load_migrations("storecheck.reference_impl.app_meta.migrations")
EVENT_MIGRATIONS = load_migrations("storecheck.reference_impl.app_meta.event_migrations")
EVENTS_SUFFIX = ".events"
READ_BEGINS: Final = "SELECT count(*) FROM sqlite_master WHERE 0"
"""A read that fixes the transaction's snapshot of the event file (SQLite takes it at the
first read, not at BEGIN)."""


def one_file(app: tuple[Migration, ...],
             events: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """The MVP layout's migrations: the event tables join the application's first step,
    as in the seed's single migration set."""
    first, (event_store,) = app[0], events
    joined = replace(first, up=first.up + "\n" + event_store.up,
                     down=event_store.down + "\n" + first.down)
    return (joined, *app[1:])


class SqliteAppMeta(SqliteAppMetaMaintenance):
    """Implements :class:`~storecheck.conformance.specs.app_meta.AppMetaStore` (MVP layout)."""

    spec = SPEC
    migrations = one_file(APP_MIGRATIONS, EVENT_MIGRATIONS)


class SqliteAppMetaSplit(SqliteAppMetaMaintenance):
    """The production layout: the event store in its own file, ``synchronous=FULL``."""

    spec = SPEC
    migrations = APP_MIGRATIONS
    event_migrations: ClassVar[tuple[Migration, ...]] = EVENT_MIGRATIONS
    event_rules: ClassVar[ConnectionRules] = ConnectionRules(synchronous="FULL")

    def __init__(self, path: str, **options: Any) -> None:
        unfit = not_a_file(path + EVENTS_SUFFIX)
        if unfit:
            raise StorageFailed(SPEC, "open", StorageCause.CANNOT_OPEN,
                                f"{path + EVENTS_SUFFIX} is {unfit}")
        super().__init__(path, **options)
        self.events_db = self.database_class(path + EVENTS_SUFFIX, self.event_rules)
        self.undo_record = Path(path + UNDO_SUFFIX)
        self._blocks = threading.local()
        try:
            self.event_migrator = self.migrator_class(self.events_db, self.event_migrations)
            self._follow_application()
            self._settle("open")
        except BaseException:
            self.close()
            raise

    def _follow_application(self) -> None:
        # The event store exists from the application's version 1 on, as in one file.
        goal = self.event_migrator.goal(None) if self.schema_version() >= 1 else 0
        self.event_migrator.migrate(goal)

    def migrate(self, target: int, *, fail_after_statements: int | None = None) -> None:
        if target >= 1:
            self.event_migrator.migrate(self.event_migrator.goal(None))
        try:
            super().migrate(target, fail_after_statements=fail_after_statements)
        finally:
            self._follow_application()  # a failed step leaves the event store where it was

    def schema_ddl(self) -> Mapping[str, str]:
        return dict(sorted({**super().schema_ddl(), **schema_objects(self.events_db)}.items()))

    def _events_tx(self, operation: str, value: Any = None, *,
                   write: bool = True) -> AbstractContextManager[Connection]:
        return self._events_file(operation, value, write)

    @contextmanager
    def _events_file(self, operation: str, value: Any, write: bool) -> Iterator[Connection]:
        """A transaction on the event file, begun only once no block is torn (see
        :mod:`.cross_file`): looked for after the transaction's first read, so the events
        it reads are never those of a block whose other half is not committed."""
        for attempt in range(2):
            with self._storage(operation, value), self.events_db.atomic(write=write) as conn:
                outermost = self.events_db.nesting() == 1
                if outermost:
                    conn.execute(READ_BEGINS).fetchone()
                if attempt or not outermost or not self.undo_record.exists():
                    yield conn
                    return
            self._settle(operation)

    def _settle(self, operation: str) -> None:
        """An undo record left by a block is judged under the application file's write lock
        (a live writer between its two commits holds it): the block is taken back from the
        event file unless the application file committed it."""
        if not self.undo_record.exists():
            return
        with self._tx(operation) as app:
            try:
                record = read_record(self.undo_record)
            except ValueError as exc:
                raise StorageFailed(SPEC, operation, StorageCause.CORRUPT,
                                    f"{self.undo_record} is damaged: {exc}") from exc
            if record is None:
                return
            if app.execute("PRAGMA user_version").fetchone()[0] < int(record["block"]):
                with self._storage(operation), self.events_db.atomic() as events:
                    undo(events, record)
            self.undo_record.unlink(missing_ok=True)

    @contextmanager
    def _both(self) -> Iterator[None]:
        # The events file's transaction is the inner one, so it commits first; an undo
        # record written before it takes it back if the application file's never comes.
        if self.db.nesting():
            with self._tx("atomic"), self._events_file("atomic", None, True):
                yield
            return
        recorded = False
        try:
            with self._tx("atomic") as app, self._events_file("atomic", None, True) as events:
                block = self._blocks.open = open_block(events)
                try:
                    yield
                finally:
                    self._blocks.open = None
                if block.changed_events(events):
                    number = int(app.execute("PRAGMA user_version").fetchone()[0]) + 1
                    app.execute(f"PRAGMA user_version = {number}")
                    write_record(self.undo_record, number, block)
                    recorded = True
        except BaseException:
            if recorded:  # a commit failed: the record says what the event file keeps
                self._settle("atomic")
            raise
        if recorded:
            self.undo_record.unlink(missing_ok=True)

    def _remember(self, table: UndoTable, key: object) -> None:
        """A row of the event file as it is before a cross-file block first changes it."""
        block: OpenBlock | None = getattr(self._blocks, "open", None)
        if block is not None and isinstance(key, str):
            block.remember(self.events_db.connection(), table, key)

    def save_snapshot(self, aggregate_id: str, version: int, state_json: str,
                      at: datetime) -> Snapshot:
        self._remember(SNAPSHOTS, aggregate_id)
        return super().save_snapshot(aggregate_id, version, state_json, at)

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        self._remember(CHECKPOINTS, processor)
        return super().set_checkpoint(processor, position, at)

    def atomic(self) -> AbstractContextManager[None]:
        return self._both()

    def _files(self) -> list[tuple[str, Database, str]]:
        return [*super()._files(), ("events", self.events_db, EVENTS_SUFFIX)]

    def _hold_all(self, operation: str) -> AbstractContextManager[object]:
        return self._both()

    def _databases(self) -> list[tuple[str, Database]]:
        return [*super()._databases(), ("events", self.events_db)]

    def close(self) -> None:
        super().close()
        events_db: Database | None = getattr(self, "events_db", None)
        if events_db is not None:
            events_db.close()


__all__ = ["APP_MIGRATIONS", "EVENT_MIGRATIONS", "SqliteAppMeta", "SqliteAppMetaSplit"]
