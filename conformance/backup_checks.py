"""The backup and restore checks, shared by every spec with backups
(:mod:`storecheck.conformance.specs.backups`).

A spec's suite module subclasses :class:`BackupSuite` as ``TestBackup`` and supplies,
besides ``write`` and ``snapshot``: ``change`` (writes of every kind after a backup:
inserts, updates, deletes), ``go_on`` (what the store must still do after a restore),
``block`` and ``blocks`` (a few rows written in one ``atomic()`` block, and which blocks a
copy holds whole or torn) and ``plant`` (a row the restore verifies, holding a marker a
check can edit in the file).  The checks do the rest through the spec's backup operations
and, where a store's backups are SQLite files (``file_storage``), by damaging them.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.backup_damage import SCHEMA_DAMAGES, foreign_database, text_rewritten
from storecheck.conformance.checks import SpecData, expect, expect_error
from storecheck.conformance.errors import (
    Conflict,
    NotFound,
    StorageCause,
    StorageFailed,
    ValidationError,
)
from storecheck.conformance.hostile_arguments import check_operation
from storecheck.conformance.specs.backups import BACKUPS_SUFFIX, Backups, backup_name

T0 = datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
BLOCKS = 400
"""Blocks each writer commits at most while the backups are taken."""
TAMPERINGS = (("tamper-me-0001", "tamper-me-0002"), ("tamper-me-0003", "tamper-me-0004"))
"""Markers planted in rows a restore verifies, and what each is edited to in a backup, one
at a time: two edits, so that a verification comparing a checksum by order (``>`` for
``!=``) meets an edited row on each side of the stored one."""


def files_of(location: str, name: str) -> list[Path]:
    """The backup's files: ``name`` and the files named ``name`` plus a suffix."""
    directory = Path(location + BACKUPS_SUFFIX)
    return sorted(path for path in directory.iterdir()
                  if path.name == name or path.name.startswith(name + "."))


def copied(location: str, name: str, copy_name: str, path: Path) -> Path:
    """Every file of backup ``name`` copied as backup ``copy_name``; the copy of ``path``."""
    for original in files_of(location, name):
        shutil.copyfile(original, original.with_name(copy_name + original.name[len(name):]))
    return path.with_name(copy_name + path.name[len(name):])


@contextmanager
def _wal_pinned(location: str) -> Iterator[None]:
    """A read transaction on the location's SQLite file, open for the block: no checkpoint
    moves a write committed meanwhile from the write-ahead log into the file."""
    reader = sqlite3.connect(f"file:{urllib.parse.quote(location)}?mode=ro", uri=True)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield
    finally:
        reader.close()


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scribbled(path: Path) -> None:
    """Every page but the first overwritten with a pattern: no b-tree page parses."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = bytes((n * 37) % 251 for n in range(len(data) - page))
    path.write_bytes(bytes(data))


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"a backup, version 2\n" * 300)


class BackupSuite(SpecData):
    """Every spec's backup checks; a suite module subclasses it as ``TestBackup``."""

    pytestmark: ClassVar[Any] = pytest.mark.requires(caps.BACKUP_RESTORE)

    @staticmethod
    def change(store: Any) -> None:
        """Insert, update and delete after a backup, so that a restore has each to undo."""
        raise NotImplementedError

    @staticmethod
    def go_on(store: Any, before: Any) -> None:
        """After a restore to ``before``: the store assigns ids after the restored ones and
        takes again what only the undone writes held (``expect`` inside)."""
        raise NotImplementedError

    @staticmethod
    def block(store: Any, label: str) -> None:
        """A few rows belonging together, written by the caller inside one ``atomic()``."""
        raise NotImplementedError

    @staticmethod
    def blocks(store: Any) -> tuple[set[str], list[str]]:
        """The labels of the blocks ``store`` holds whole, and of those it holds torn."""
        raise NotImplementedError

    @staticmethod
    def plant(store: Any, marker: str) -> None:
        """A row the spec's restore verifies (a checksum, a digest), holding ``marker`` as
        text: edited in a backup's file, the row no longer verifies."""
        raise NotImplementedError

    def _name(self, at: datetime) -> str:
        return backup_name(self.spec, at)

    def _opened_copy(self, backend: Any, workdir: Path, location: str, name: str) -> Any:
        """The backup's files put at a new location (``name.events`` becomes the location's
        ``.events``) and opened there as a store."""
        copy = backend.backend.new_location(self.spec, workdir)
        for path in files_of(location, name):
            shutil.copyfile(path, copy + path.name[len(name):])
        return backend.backend.open(self.spec, copy)

    @pytest.mark.acid
    @pytest.mark.operation("restore")
    def test_a_restore_brings_back_exactly_what_the_backup_held(self, store: Any) -> None:
        self.write(store, 1)
        before = self.snapshot(store)
        taken = store.backup(T0)
        expect(taken.name == self._name(T0) and taken.taken_at == T0, self.spec, "backup",
               f"the backup named {self._name(T0)!r}, taken at {T0}", taken)
        self.change(store)
        expect(self.snapshot(store) != before, self.spec, "restore", "the writes after the backup")
        restored = store.restore(taken.name)
        expect(restored == taken, self.spec, "restore", "the backup's description", restored)
        expect(self.snapshot(store) == before, self.spec, "restore",
               "everything as the backup held it, nothing of the later writes")
        expect(store.list_backups() == [taken], self.spec, "list_backups", "the one backup", taken)
        self.go_on(store, before)

    @pytest.mark.acid
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("backup")
    def test_a_backup_holds_every_committed_write(self, store: Any, backend: Any,
                                                  fresh_location: str, tmp_path: Path) -> None:
        """Opened as a store, the backup reads back what the store did when it was taken: the
        writes still in the write-ahead log included (a reader holding a snapshot from before
        them keeps the store from checkpointing them into its file, so a copy of the file
        alone misses them whatever the machine's timing)."""
        with _wal_pinned(fresh_location):
            self.write(store, 1)
            before = self.snapshot(store)
            taken = store.backup(T0)
        expect(taken.size_bytes == sum(p.stat().st_size for p in files_of(fresh_location,
                                                                           taken.name)),
               self.spec, "backup", "size_bytes: the bytes of the backup's files", taken)
        self.change(store)
        copy = self._opened_copy(backend, tmp_path / "copy", fresh_location, taken.name)
        try:
            expect(self.snapshot(copy) == before, self.spec, "backup",
                   "the backup, opened, reads back the store as it was")
        finally:
            copy.close()

    @pytest.mark.concurrency
    @pytest.mark.requires(caps.TRANSACTIONS, caps.FILE_STORAGE)
    @pytest.mark.operation("backup")
    def test_a_backup_beside_writers_is_one_moment(self, open_store: Any, backend: Any,
                                                   fresh_location: str, tmp_path: Path) -> None:
        """Two threads write blocks of rows, each in one ``atomic()``, while backups are
        taken: each backup holds every block committed before it began, and each block whole
        or not at all."""
        store = open_store()
        done = threading.Event()
        committed = [0, 0]
        failures: list[BaseException] = []

        def writer(t: int) -> None:
            try:
                n = 0
                while not done.is_set() and n < BLOCKS:
                    with store.atomic():
                        self.block(store, f"w{t}-{n}")
                    committed[t] = n = n + 1
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(2)]
        for thread in threads:
            thread.start()
        taken = []
        try:
            for round_ in range(6):
                time.sleep(0.01)
                floor = list(committed)
                taken.append((store.backup(T0 + round_ * MICRO), floor))
        finally:
            done.set()
            for thread in threads:
                thread.join()
        expect(not failures, self.spec, "atomic", "writers that never fail", failures[:1])
        for backup, floor in taken:
            copy = self._opened_copy(backend, tmp_path / backup.name, fresh_location, backup.name)
            try:
                whole, torn = self.blocks(copy)
            finally:
                copy.close()
            expect(not torn, self.spec, "backup", f"{backup.name}: every block whole or absent",
                   sorted(torn)[:5])
            missing = [f"w{t}-{n}" for t in range(2) for n in range(floor[t])
                       if f"w{t}-{n}" not in whole]
            expect(not missing, self.spec, "backup", f"{backup.name}: every block committed "
                   "before the backup began", missing[:5])

    def _backed_up(self, store: Any) -> tuple[Any, Any]:
        """A backup of some data, then writes of every kind: the backup, and what the store
        reads back after those writes (what a refused restore must leave)."""
        self.write(store, 1)
        good = store.backup(T0)
        self.change(store)
        return good, self.snapshot(store)

    def _each_file_refused(self, store: Any, fresh_location: str, good: Any, before: Any,
                           damage: Callable[[Path], str | None], cause: StorageCause,
                           only_first_file: bool = False, first_copy: int = 1) -> list[str]:
        """Each file of backup ``good`` in turn damaged in a copy of the backup (named
        ``first_copy`` microseconds after it, and on): restoring the copy raises
        StorageFailed(``cause``) and the store reads back ``before``.  What was damaged, in
        words (a damage that found nothing to change returns None)."""
        damaged = []
        files = files_of(fresh_location, good.name)
        for n, path in enumerate(files[:1] if only_first_file else files):
            copy_name = self._name(T0 + (first_copy + n) * MICRO)
            what = damage(copied(fresh_location, good.name, copy_name, path))
            if what is None:
                continue
            damaged.append(what)
            error = expect_error(self.spec, "restore", partial(store.restore, copy_name),
                                 StorageFailed)
            expect(isinstance(error, StorageFailed) and error.cause is cause, self.spec,
                   "restore", f"StorageFailed({cause.name}) for a backup whose {what}", error)
            expect(self.snapshot(store) == before, self.spec, "restore",
                   f"nothing changed by a refused restore ({what})")
        return damaged

    def _damaged_and_restored(self, store: Any, fresh_location: str,
                              damage: Callable[[Path], str | None], cause: StorageCause,
                              only_first_file: bool = False) -> list[str]:
        good, before = self._backed_up(store)
        return self._each_file_refused(store, fresh_location, good, before, damage, cause,
                                       only_first_file)

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("restore")
    @pytest.mark.parametrize("damage", [_truncated, _scribbled, _not_sqlite],
                             ids=["truncated", "scribbled", "not-sqlite"])
    def test_a_damaged_backup_is_refused_and_changes_nothing(
        self, store: Any, fresh_location: str, damage: Callable[[Path], None]
    ) -> None:
        """A restore that copied first and checked after would have lost the store."""
        def described(path: Path) -> str:
            damage(path)
            return f"{path.name} is {damage.__name__.strip('_').replace('_', ' ')}"
        self._damaged_and_restored(store, fresh_location, described, StorageCause.CORRUPT)
        if damage is _not_sqlite:
            listed = {b.name: b.schema_version for b in store.list_backups()}
            expect(listed.get(self._name(T0 + MICRO)) == 0, self.spec, "list_backups",
                   "schema_version 0 for a backup that cannot be read", listed)

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("restore")
    @pytest.mark.parametrize("damage", SCHEMA_DAMAGES, ids=[d.__name__ for d in SCHEMA_DAMAGES])
    def test_a_backup_whose_schema_is_not_the_stores_is_refused_and_changes_nothing(
        self, store: Any, fresh_location: str, damage: Callable[[Path], str | None]
    ) -> None:
        """Two columns trading places or names, a column dropped, added or retyped: a restore
        that checked only the tables' names put values in the wrong columns."""
        damaged = self._damaged_and_restored(store, fresh_location, damage,
                                             StorageCause.CORRUPT)
        expect(bool(damaged), self.spec, "backup", "a backup file with a table of two columns "
               "of one type, to damage")

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("restore")
    def test_a_backup_with_a_tampered_row_is_refused_and_changes_nothing(
        self, store: Any, fresh_location: str
    ) -> None:
        """A row the restore verifies (a checksum, a digest) edited in a copy of the backup,
        the rest of it as it was: a restore that verified only the schema put it back."""
        for marker, _ in TAMPERINGS:
            self.plant(store, marker)
        good, before = self._backed_up(store)
        damaged = []
        for n, (marker, edited) in enumerate(TAMPERINGS):
            def tampered(path: Path, marker: str = marker, edited: str = edited) -> str | None:
                return (f"{path.name} holds a row edited after it was written ({marker})"
                        if text_rewritten(path, marker, edited) else None)
            damaged += self._each_file_refused(store, fresh_location, good, before, tampered,
                                               StorageCause.CORRUPT, first_copy=1 + 10 * n)
        if not damaged:
            pytest.skip("the backup holds the planted row as no text a check can edit")

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("restore")
    def test_another_applications_database_as_a_backup_is_refused_as_foreign(
        self, store: Any, fresh_location: str
    ) -> None:
        """The backup's main file replaced by another application's SQLite database whose
        migration record claims the store's version."""
        self._damaged_and_restored(store, fresh_location, foreign_database, StorageCause.FOREIGN,
                                   only_first_file=True)

    @pytest.mark.badinput
    @pytest.mark.requires(caps.MIGRATIONS)
    @pytest.mark.operation("restore")
    def test_a_backup_of_another_schema_version_is_refused(self, open_store: Any) -> None:
        store = open_store(schema_version=1)
        self.write(store, 1)
        old = store.backup(T0)
        expect(old.schema_version == 1, self.spec, "backup", "schema_version 1", old)
        store.migrate(max(store.schema_versions()))
        self.change(store)
        before = self.snapshot(store)
        expect_error(self.spec, "restore", lambda: store.restore(old.name), Conflict)
        expect(self.snapshot(store) == before, self.spec, "restore",
               "nothing changed by the refusal")

    @pytest.mark.badinput
    @pytest.mark.operation("restore")
    def test_backup_names_are_checked(self, store: Any) -> None:
        self.write(store, 1)
        first = store.backup(T0)
        expect_error(self.spec, "backup", lambda: store.backup(T0), Conflict)
        other = "app_meta" if self.spec != "app_meta" else "extraction"
        for name in ("", f"../{self.spec}.db", f"x/{first.name}", first.name + "\n",
                     f"{self.spec}.db", first.name.upper(), first.name[:-3],
                     backup_name(other, T0)):
            expect_error(self.spec, "restore", partial(store.restore, name), ValidationError)
        expect_error(self.spec, "restore", lambda: store.restore(self._name(T0 + MICRO)),
                     NotFound)
        expect_error(self.spec, "backup", lambda: store.backup(T0.replace(tzinfo=None)),
                     ValidationError)
        second = store.backup(T0 + timedelta(minutes=30))
        expect([b.name for b in store.list_backups()] == [first.name, second.name], self.spec,
               "list_backups", "both backups, oldest first", store.list_backups())

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("backup")
    def test_a_backup_directory_may_hold_any_character(self, backend: Any,
                                                       tmp_path: Path) -> None:
        """The location (so the backup directory) sits under a path with a quote, a semicolon
        and spaces: backup and restore work, and nothing is written elsewhere."""
        workdir = tmp_path / "it's a dir; DROP TABLE settings; --"
        location = backend.backend.new_location(self.spec, workdir)
        store = backend.backend.open(self.spec, location)
        try:
            self.write(store, 1)
            before = self.snapshot(store)
            taken = store.backup(T0)
            self.change(store)
            store.restore(taken.name)
            expect(self.snapshot(store) == before, self.spec, "restore", "the backup back")
            expect(files_of(location, taken.name) != [], self.spec, "backup",
                   f"the backup in {Path(location + BACKUPS_SUFFIX).name!r}")
        finally:
            store.close()
            backend.backend.discard(location)
        strays = [p for p in tmp_path.rglob("*") if p.is_file() and workdir not in p.parents]
        expect(not strays, self.spec, "backup", "no file outside the location's directory",
               strays[:3])

    @pytest.mark.badinput
    @pytest.mark.parametrize("operation", ["backup", "restore"])
    def test_no_raw_exception_from_any_backup_argument(self, store: Any, operation: str) -> None:
        """Each argument at its extremes and of the wrong kind: a backup at the first and last
        instants is named with a four-digit year and listed."""
        self.write(store, 1)
        calls = {"backup": lambda n: {"at": T0 + n * timedelta(seconds=1)},
                 "restore": lambda n: {"name": store.backup(T0 - n * timedelta(seconds=1)).name}}
        check_operation(self.spec, store, Backups, operation, calls[operation], self.snapshot)
        if operation == "backup":
            listed = {backup.taken_at for backup in store.list_backups()}
            extremes = {datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)}
            expect(extremes <= listed, self.spec, "list_backups", "the backups taken at the "
                   "first and last instants listed", sorted(extremes - listed))
