"""What every reference store shares: connection, migrations, transactions, introspection."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.common import SpaceReport
from storecheck.reference_impl.engine.checkpoint import wal_bytes
from storecheck.reference_impl.engine.connection import (
    ConnectionRules,
    Database,
    plain_session,
    storage_cause,
    translate,
)
from storecheck.reference_impl.engine.maintenance import Health, backup, health, integrity_problems
from storecheck.reference_impl.engine.migrator import (
    AppliedMigration,
    Migration,
    Migrator,
    NotOurDatabase,
)
from storecheck.reference_impl.engine.sql import Connection, spec_errors

APPLICATION_ID_PREFIX = 0x5343_0000
"""``PRAGMA application_id`` of a store's file: "SC" and 16 bits of the spec's name."""


def application_id(spec: str) -> int:
    """The mark a store of ``spec`` leaves in its file's header."""
    return APPLICATION_ID_PREFIX | int.from_bytes(hashlib.sha256(spec.encode()).digest()[:2], "big")


def not_a_file(path: str) -> str | None:
    """What ``path`` is, if it exists and is no regular file: a database is never read
    from a directory, a named pipe (opening one blocks until a writer comes), a socket or
    a device."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return None


class SqliteStore:
    """Base of the reference stores; a subclass names its spec and migrations."""

    spec: ClassVar[str]
    migrations: ClassVar[tuple[Migration, ...]]
    rules: ClassVar[ConnectionRules] = ConnectionRules()
    sql_dialect = "sqlite"
    backup_directory_may_be_link: ClassVar[bool] = False
    """Set where a store's backup directory is meant to be a link to another disk."""
    database_class: type[Database] = Database
    migrator_class: type[Migrator] = Migrator

    def __init__(
        self,
        path: str,
        *,
        schema_version: int | None = None,
        rules: ConnectionRules | None = None,
        migrations: tuple[Migration, ...] | None = None,
    ) -> None:
        self.path = path
        self.db = self.database_class(path, rules or self.rules)
        self.migrator = self.migrator_class(self.db, migrations or self.migrations)
        try:
            unfit = not_a_file(path)
            if unfit:
                raise StorageFailed(self.spec, "open", StorageCause.CANNOT_OPEN,
                                    f"{path} is {unfit}")
            goal = self.migrator.goal(schema_version)
            if not (os.path.exists(path) and self._look_before_touching(goal)):
                self.migrator.migrate(goal)
            self._mark()
        except NotOurDatabase as exc:
            self.db.close()
            raise StorageFailed(self.spec, "open", StorageCause.FOREIGN, f"{path}: {exc}") from exc
        except sqlite3.Error as exc:
            self.db.close()
            cause = storage_cause(exc)
            if cause is not None:
                raise StorageFailed(self.spec, "open", cause, f"{path}: {exc}") from exc
            mapped = translate(exc, self.spec, "open", path)
            if mapped is exc:
                raise
            raise mapped from exc
        except BaseException:
            self.db.close()
            raise

    def _look_before_touching(self, goal: int) -> bool:
        """Read the existing file without changing a byte (the store's own connections
        would switch it to WAL first), refuse it if it is not a store of this spec, and
        say whether it is at ``goal`` already (then nothing needs the write lock)."""
        probe = self.database_class(self.path, replace(self.db.rules, read_only=True))
        try:
            found = probe.connection().execute("PRAGMA application_id").fetchone()[0]
            if found not in (0, application_id(self.spec)):
                raise NotOurDatabase(f"its application_id is {found:#010x}, not {self.spec}'s "
                                     f"{application_id(self.spec):#010x}: another "
                                     "application's file, left untouched")
            return self.migrator_class(probe, self.migrator.migrations).up_to(goal)
        finally:
            probe.close()

    def _mark(self) -> None:
        conn = self.db.connection()
        if conn.execute("PRAGMA application_id").fetchone()[0] == 0:
            conn.execute(f"PRAGMA application_id = {application_id(self.spec)}")

    def _storage(self, operation: str, value: Any = None) -> AbstractContextManager[None]:
        """Driver errors raised inside come out as the spec's errors."""
        return spec_errors(sqlite3.Error, translate, self.spec, operation, value)

    @contextmanager
    def _tx(self, operation: str, value: Any = None, *, write: bool = True) -> Iterator[Connection]:
        """A transaction whose driver errors come out as the spec's errors."""
        with self._storage(operation, value), self.db.atomic(write=write) as conn:
            yield conn

    def atomic(self) -> AbstractContextManager[None]:
        return _as_none(self._tx("atomic"))

    def backup_copy(self, name: str) -> Path:
        """A copy of the store's file at ``backups/name`` beside it (see
        :func:`~.maintenance.backup` for what is refused): an engine feature, apart from
        any spec's backup operations."""
        with self._storage("backup_copy", name):
            return backup(self.db, Path(self.path).parent / "backups", name,
                          directory_may_be_link=self.backup_directory_may_be_link)

    def file_health(self) -> Health:
        return health(self.db)

    def close(self) -> None:
        self.db.close()

    # -- capability: migrations ------------------------------------------------

    def schema_versions(self) -> Sequence[int]:
        return self.migrator.versions

    def schema_version(self) -> int:
        return self.migrator.current_version()

    def migrate(self, target: int, *, fail_after_statements: int | None = None) -> None:
        self.migrator.migrate(target, fail_after_statements=fail_after_statements)

    def migration_history(self) -> list[AppliedMigration]:
        return self.migrator.history()

    # -- capability: sql_introspection -----------------------------------------

    def schema_ddl(self) -> Mapping[str, str]:
        return schema_objects(self.db)

    def engine_session(self) -> Any:
        return plain_session(self.path, self.db.rules.busy_timeout_ms)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.db.connection()
        conn.execute("PRAGMA query_only = ON")
        try:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]
        finally:
            conn.execute("PRAGMA query_only = OFF")

    # -- capability: crash_durable, and maintenance ------------------------------

    def verify_integrity(self) -> list[str]:
        """Damage found in the file, as lines; a file too damaged to check says so here
        instead of raising."""
        problems = integrity_problems(self.db)
        try:
            for table, rowid, parent, _ in self.db.connection().execute("PRAGMA foreign_key_check"):
                problems.append(f"{table} row {rowid} points at a missing {parent}")
        except sqlite3.DatabaseError as exc:
            problems.append(f"foreign_key_check: {exc}")
        return problems


    # -- capabilities: lock_wait, stated_settings -------------------------------

    def _databases(self) -> list[tuple[str, Database]]:
        """Each SQLite file of the store, under the name its spec gives it."""
        return [("main", self.db)]

    def set_lock_wait(self, busy_timeout: float, deadline: float) -> None:
        for _, database in self._databases():
            database.set_lock_wait(busy_timeout, deadline)

    def connection_settings(self) -> Mapping[str, Mapping[str, str]]:
        with self._storage("connection_settings"):
            return {name: database.settings() for name, database in self._databases()}

    # -- capability: storage_limit ---------------------------------------------

    def limit_storage(self, extra_bytes: int | None) -> None:
        """Let the file grow by at most ``extra_bytes`` more (None lifts the limit): a full
        disk on demand, through SQLite's page-count limit."""
        self.db.limit_growth(extra_bytes)


@contextmanager
def _as_none(context: AbstractContextManager[Any]) -> Iterator[None]:
    with context:
        yield


def schema_objects(database: Database) -> dict[str, str]:
    """Object name -> CREATE statement of a database's own objects (not SQLite's, not the
    migration history)."""
    with database.atomic(write=False) as conn:
        found = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' AND tbl_name <> 'schema_migrations' ORDER BY name"
        ).fetchall()
    return {name: sql for name, sql in found}


class VacuumingStore(SqliteStore):
    """A store whose spec has ``vacuum``: the space deleted rows left given back to the file
    system (the WAL checkpointed away on either side of ``VACUUM``)."""

    def vacuum(self) -> SpaceReport:
        before = _file_bytes(self.path)
        with self._storage("vacuum"):
            self.db.checkpoint_truncate()
            self.db.connection().execute("VACUUM")
            self.db.checkpoint_truncate()
        return SpaceReport(before, _file_bytes(self.path))


def _file_bytes(path: str) -> int:
    return os.path.getsize(path) + wal_bytes(path)
