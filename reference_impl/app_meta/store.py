"""The reference ``app_meta`` store on SQLite (seed 001), in the seed's two layouts.

* MVP (:class:`SqliteAppMeta`): one file holds the application's tables and the
  event store, ``synchronous=NORMAL``.
* Production (:class:`SqliteAppMetaSplit`): the application's tables in the
  location's file, the event store in ``<location>.events`` written with
  ``synchronous=FULL`` (an event the caller saw committed survives a power cut,
  not only a crash).  Each file has its own migrations; an ``atomic()`` block
  holds a transaction on both files and commits the events file first (the
  events are the record the application's tables are rebuilt from): between two
  files SQLite's WAL mode gives no atomic commit, so a crash between the two
  commits can keep a block's events without its application writes.

  The two layouts have one schema: the event file's migrations follow the
  application's (its tables exist from version 1 on, as in the MVP file), and
  :meth:`schema_ddl` reports both files' objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any, ClassVar

from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.app_meta import SPEC
from storecheck.reference_impl.app_meta.maintenance import SqliteAppMetaMaintenance
from storecheck.reference_impl.engine import load_migrations
from storecheck.reference_impl.engine.connection import ConnectionRules, Database
from storecheck.reference_impl.engine.migrator import Migration
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import not_a_file, schema_objects

APP_MIGRATIONS = load_migrations("storecheck.reference_impl.app_meta.migrations")
EVENT_MIGRATIONS = load_migrations("storecheck.reference_impl.app_meta.event_migrations")
EVENTS_SUFFIX = ".events"


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
        try:
            self.event_migrator = self.migrator_class(self.events_db, self.event_migrations)
            self._follow_application()
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
        with self._storage(operation, value), self.events_db.atomic(write=write) as conn:
            yield conn

    @contextmanager
    def _both(self) -> Iterator[None]:
        # The events file's transaction is the inner one, so it commits first.
        with self._tx("atomic"), self._events_file("atomic", None, True):
            yield

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
