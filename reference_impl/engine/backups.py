"""Backup and restore of a reference store (:mod:`storecheck.conformance.specs.backups`).

A backup is taken inside a write transaction on every file of the store, so it
is one moment of all of them: writers wait for the copy (the online backup
API, into memory), not for the file to be written.  Only the backup's name,
made from its instant, reaches the file system, and no path reaches SQL.

Restore cannot use the backup API: it refuses a destination with an open
transaction, and without one another connection could write between the
check and the copy.  So each file's tables are replaced in one write
transaction from the backup file, attached read-only, after every file of the
backup has passed its integrity and size checks, its schema and the contents
its spec verifies.  Between two files (app_meta's production layout) the
replacement is two commits, in the order ``atomic()`` commits them.

Only ordinary tables are copied: a full-text index (a virtual table and the
shadow tables behind it) is kept by the store's own triggers as the rows are
deleted and inserted, so it is rebuilt from the restored rows rather than
trusted from the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final

from storecheck.conformance.errors import Conflict, NotFound, StorageCause, StorageFailed
from storecheck.conformance.specs.backups import (
    BACKUPS_SUFFIX,
    Backup,
    backup_instant,
    backup_name,
)
from storecheck.conformance.specs.common import Validator
from storecheck.reference_impl.engine.connection import Database
from storecheck.reference_impl.engine.maintenance import (
    BackupExists,
    BackupRefused,
    copy_problems,
    image,
    read_only,
    write_new_file,
)
from storecheck.reference_impl.engine.store import SqliteStore, application_id

BACKUP_VERSION: Final = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
USER_TABLES: Final = ("SELECT name FROM pragma_table_list WHERE schema = ? AND type = 'table' "
                      "AND name NOT LIKE 'sqlite%' ORDER BY name")
"""The ordinary tables of one attached file (``main`` or ``restored``): not a virtual
table, not the shadow tables behind one."""
SCHEMA_OBJECTS: Final = ("SELECT type, name, tbl_name, sql FROM sqlite_master "
                         "WHERE name NOT LIKE 'sqlite%' ORDER BY type, name")
"""Every table, column (by name, type and place), constraint, index, view and trigger of a
file, as the migrations wrote them: equal in two files of one schema version."""

SchemaObject = tuple[str, str, str, str | None]


def _version_of(path: Path) -> int:
    """The schema version recorded in a backup file; 0 if it cannot be read."""
    try:
        conn = read_only(path)
        try:
            return int(conn.execute(BACKUP_VERSION).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _mark_of(path: Path) -> int:
    """The backup file's ``PRAGMA application_id``: which spec's store wrote it."""
    conn = read_only(path)
    try:
        return int(conn.execute("PRAGMA application_id").fetchone()[0])
    finally:
        conn.close()


def _schema_of(conn: sqlite3.Connection) -> list[SchemaObject]:
    return [tuple(row) for row in conn.execute(SCHEMA_OBJECTS)]


def _first_difference(live: list[SchemaObject], copied: list[SchemaObject]) -> str:
    """Where a backup's schema departs from the store's, in words."""
    live_by_name = {(kind, name): sql for kind, name, _, sql in live}
    copied_by_name = {(kind, name): sql for kind, name, _, sql in copied}
    for key in sorted(live_by_name.keys() | copied_by_name.keys()):
        kind, name = key
        if key not in copied_by_name:
            return f"it lacks the {kind} {name}"
        if key not in live_by_name:
            return f"it has a {kind} {name} the store's schema has not"
        if live_by_name[key] != copied_by_name[key]:
            return f"its {kind} {name} is defined as {copied_by_name[key]!r}, not {live_by_name[key]!r}"
    return "it differs"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class BackingUpStore(SqliteStore):
    """Implements :class:`~storecheck.conformance.specs.backups.Backups` for a store whose
    data is in its file (or files: :meth:`_files`)."""

    def _files(self) -> list[tuple[str, Database, str]]:
        """Each file of the store: its name in a health report, its database, and the
        suffix its copy takes after the backup's name."""
        return [(self.spec, self.db, "")]

    def _hold_all(self, operation: str) -> AbstractContextManager[object]:
        """A write transaction on every file of the store."""
        return self._tx(operation)

    def _verify_contents(self, path: Path, name: str) -> None:
        """Raise StorageFailed(CORRUPT) if a backup file's rows break a rule of the spec that
        the schema cannot hold (a checksum, a digest); the spec's store says which."""

    @property
    def backup_directory(self) -> Path:
        return Path(self.path + BACKUPS_SUFFIX)

    def backup(self, at: datetime) -> Backup:
        at = Validator(self.spec, "backup").timestamp("at", at)
        name = backup_name(self.spec, at)
        with self._hold_all("backup"):
            images = [(suffix, image(database.path)) for _, database, suffix in self._files()]
        written: list[Path] = []
        try:
            for suffix, data in images:
                written.append(write_new_file(self.backup_directory, name + suffix, data,
                                              directory_may_be_link=self.backup_directory_may_be_link))
        except (BackupRefused, OSError) as exc:
            for path in written:
                path.unlink(missing_ok=True)
            if isinstance(exc, BackupExists):
                raise Conflict(self.spec, "backup", str(exc), name) from None
            cause = StorageCause.CANNOT_OPEN if isinstance(exc, BackupRefused) else StorageCause.IO_ERROR
            raise StorageFailed(self.spec, "backup", cause, str(exc), name) from exc
        return self._described(name)

    def _described(self, name: str) -> Backup:
        taken_at = backup_instant(self.spec, name)
        assert taken_at is not None
        paths = [self.backup_directory / (name + suffix) for _, _, suffix in self._files()]
        return Backup(name, taken_at, _version_of(paths[0]),
                      sum(path.stat().st_size for path in paths if path.is_file()))

    def list_backups(self) -> list[Backup]:
        if not self.backup_directory.is_dir():
            return []
        names = sorted(path.name for path in self.backup_directory.iterdir()
                       if backup_instant(self.spec, path.name) is not None)
        return [self._described(name) for name in names]

    def restore(self, name: str) -> Backup:
        v = Validator(self.spec, "restore")
        name = v.text("name", name)
        if backup_instant(self.spec, name) is None:
            raise v.fail("name must be a backup's name, as list_backups gives it", name)
        copies = [(database, self.backup_directory / (name + suffix))
                  for _, database, suffix in self._files()]
        if not copies[0][1].is_file():
            raise NotFound(self.spec, "restore", "no such backup", name)
        for _, path in copies:
            problems = copy_problems(path)
            if problems:
                raise StorageFailed(self.spec, "restore", StorageCause.CORRUPT,
                                    f"backup {path.name} failed verification: "
                                    + "; ".join(problems[:3]), name)
        self._refuse_foreign(copies[0][1], name)
        found, current = _version_of(copies[0][1]), self.schema_version()
        if found != current:
            raise Conflict(self.spec, "restore", f"the backup is at schema version {found}, the "
                           f"store at {current}: migrate one of them first", name)
        for database, path in copies:
            self._verify_schema(database, path, name)
            self._verify_contents(path, name)
        for database, path in reversed(copies):
            with self._storage("restore", name), self._attached(database, path):
                self._replace_tables(database)
        return self._described(name)

    def _refuse_foreign(self, path: Path, name: str) -> None:
        """StorageFailed(FOREIGN) unless a store of this spec wrote the file: another
        application's database may well have a migration record at the store's version."""
        mark = _mark_of(path)
        if mark != application_id(self.spec):
            raise StorageFailed(self.spec, "restore", StorageCause.FOREIGN,
                                f"backup {name} was not written by a store of {self.spec} (its "
                                f"application_id is {mark:#010x})", name)

    def _verify_schema(self, database: Database, path: Path, name: str) -> None:
        """The backup file's schema is the store's own, object by object: a table whose
        columns were swapped, dropped, added or retyped would restore values into the
        wrong columns (or none), so it is refused before anything is replaced."""
        with self._storage("restore", name), database.atomic(write=False) as conn:
            live = _schema_of(conn)
        copy = read_only(path)
        try:
            copied = _schema_of(copy)
        finally:
            copy.close()
        if copied != live:
            raise StorageFailed(self.spec, "restore", StorageCause.CORRUPT,
                                f"backup {path.name} is not the schema of version "
                                f"{self.schema_version()}: {_first_difference(live, copied)}",
                                name)

    @contextmanager
    def _attached(self, database: Database, path: Path) -> Iterator[None]:
        """The backup file attached as ``restored``, with foreign keys off meanwhile: the
        tables are emptied and filled in whatever order, and checked whole before the
        commit (SQLite's deferred count of violations does not follow a child deleted
        after its parent)."""
        conn = database.connection()
        conn.execute("ATTACH DATABASE ? AS restored", (str(path),))
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("DETACH DATABASE restored")

    def _replace_tables(self, database: Database) -> None:
        with database.atomic() as conn:
            live = [row[0] for row in conn.execute(USER_TABLES, ("main",))]
            copied = [row[0] for row in conn.execute(USER_TABLES, ("restored",))]
            if live != copied:
                raise StorageFailed(self.spec, "restore", StorageCause.CORRUPT,
                                    f"the backup's tables {copied} are not the store's {live}")
            counters = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
            for table in [*live, *(["sqlite_sequence"] if counters.fetchone() else [])]:
                # By name, not by place: the names come from the store's own schema.
                columns = ", ".join(_quoted(row[1]) for row in conn.execute(
                    "SELECT * FROM pragma_table_info(?, 'main')", (table,)))
                conn.execute(f"DELETE FROM main.{_quoted(table)}")
                conn.execute(f"INSERT INTO main.{_quoted(table)} ({columns}) "
                             f"SELECT {columns} FROM restored.{_quoted(table)}")
            orphans = conn.execute("PRAGMA main.foreign_key_check").fetchall()
            if orphans:
                raise StorageFailed(self.spec, "restore", StorageCause.CORRUPT,
                                    f"the backup holds rows whose parents it lacks: {orphans[:3]}")
