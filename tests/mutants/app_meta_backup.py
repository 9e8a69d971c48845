"""app_meta backup, restore and health done as the real application does, or nearly."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs.app_meta_inputs import check
from storecheck.conformance.specs.app_meta_maintenance import (
    Backup,
    Health,
    PoolStatus,
    backup_instant,
    backup_name,
)
from storecheck.reference_impl.app_meta import SqliteAppMeta, SqliteAppMetaSplit
from storecheck.reference_impl.engine.backups import USER_TABLES

from tests.mutants import sqlite_mutant_backends


class BackupPathFormattedIntoSql(SqliteAppMeta):
    """The real application's ``format!("VACUUM INTO '{}'", dest)``: a backup directory
    whose path holds a quote breaks the statement (or, crafted, writes elsewhere)."""

    def backup(self, at: datetime) -> Backup:
        name = backup_name(check("backup").timestamp("at", at))
        self.backup_directory.mkdir(exist_ok=True)
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute(f"VACUUM INTO '{self.backup_directory / name}'")
        return self._described(name)


class BackupCopiesTheFileWithoutItsWal(SqliteAppMeta):
    """The database file copied as it lies on disk: the commits still in the write-ahead
    log are not in it."""

    def backup(self, at: datetime) -> Backup:
        name = backup_name(check("backup").timestamp("at", at))
        self.backup_directory.mkdir(exist_ok=True)
        shutil.copyfile(self.path, self.backup_directory / name)
        return self._described(name)


class SplitBackupCopiesFilesApart(SqliteAppMetaSplit):
    """The real application's ``backup_databases``: the application file, then the events
    file, each by its own ``VACUUM INTO``: blocks committed in between are torn."""

    def backup(self, at: datetime) -> Backup:
        name = backup_name(check("backup").timestamp("at", at))
        self.backup_directory.mkdir(exist_ok=True)
        for _, database, suffix in self._files():
            with closing(sqlite3.connect(database.path)) as conn:
                conn.execute("VACUUM INTO ?", (str(self.backup_directory / (name + suffix)),))
        return self._described(name)


class RestoreCopiesTheFileOver(SqliteAppMeta):
    """The backup copied over the store's file with the backup API, unverified: a damaged
    or older backup replaces good data."""

    def restore(self, name: str) -> Backup:
        v = check("restore")
        name = v.text("name", name)
        if backup_instant(name) is None:
            raise v.fail("not a backup's name", name)
        path = self.backup_directory / name
        if not path.is_file():
            raise NotFound("app_meta", "restore", "no such backup", name)
        with self._storage("restore", name), closing(sqlite3.connect(path)) as source, \
                closing(sqlite3.connect(self.path)) as target:
            source.backup(target)
        return self._described(name)


class RestoreByColumnPlace(SqliteAppMeta):
    """Restore as it was first written: the tables' names compared, each table's rows
    copied with ``SELECT *``, by the columns' places."""

    def _verify_schema(self, database: Any, path: Any, name: str) -> None:
        pass

    @staticmethod
    def _replace_tables(database: Any) -> None:
        with database.atomic() as conn:
            for (table,) in conn.execute(USER_TABLES, ("main",)).fetchall():
                conn.execute(f'DELETE FROM main."{table}"')
                conn.execute(f'INSERT INTO main."{table}" SELECT * FROM restored."{table}"')


class RestoreByColumnNameUnverified(SqliteAppMeta):
    """Rows copied by the columns' names, the backup's schema taken on trust."""

    def _verify_schema(self, database: Any, path: Any, name: str) -> None:
        pass


class RestoreTrustsTheVersionRecord(SqliteAppMeta):
    """Any file whose migration record has the store's version is taken for a backup of
    the store: another application's database is reported as a damaged backup."""

    @staticmethod
    def _refuse_foreign(path: Any, name: str) -> None:
        pass


class RestoreTakesEventsOnTrust(SqliteAppMeta):
    """The backup's schema verified, its events not: a tampered event is restored, and every
    later read of its stream fails its checksum."""

    def _verify_contents(self, path: Any, name: str) -> None:
        pass


class BackupDueFromTheOldest(SqliteAppMeta):
    """The interval measured from the first backup in the directory, not the newest."""

    def backup_due(self, at: datetime, interval: timedelta) -> bool:
        due = super().backup_due(at, interval)
        backups = self.list_backups()
        return due if not backups else backups[0].taken_at + interval <= at


class PoolStatusOfOpenConnectionsOnly(SqliteAppMeta):
    """The real application's health: the pool's open connections, and nothing of what
    they are doing."""

    def health(self) -> Health:
        found = super().health()
        return Health(found.files, PoolStatus(found.pool.open, 0, 0), found.last_backup)


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "backup_path_formatted_into_sql": (BackupPathFormattedIntoSql, "badinput"),
    "backup_copies_the_file_without_its_wal": (BackupCopiesTheFileWithoutItsWal, "acid"),
    "split_backup_copies_files_apart": (SplitBackupCopiesFilesApart, "concurrency"),
    "restore_copies_the_file_over": (RestoreCopiesTheFileOver, "badinput"),
    "restore_by_column_place": (RestoreByColumnPlace, "badinput"),
    "restore_by_column_name_unverified": (RestoreByColumnNameUnverified, "badinput"),
    "restore_takes_events_on_trust": (RestoreTakesEventsOnTrust, "badinput"),
    "restore_trusts_the_version_record": (RestoreTrustsTheVersionRecord, "badinput"),
    "backup_due_from_the_oldest": (BackupDueFromTheOldest, "badinput"),
    "pool_status_of_open_connections_only": (PoolStatusOfOpenConnectionsOnly, "concurrency"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
