"""Backup, restore and health (seed 001's ``SqlService``), for stores declaring ``backup_restore``.

A backup must hold every committed write (the WAL's too) and each ``atomic()``
block whole while writers run; a restore must verify every file of a backup and
its schema version before it replaces anything; backup names come from instants
only, and the backup directory may hold any character; health must report each
file, damage included, and the whole connection pool.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import (
    Conflict,
    NotFound,
    StorageCause,
    StorageFailed,
    ValidationError,
)
from storecheck.conformance.specs.app_meta import SPEC, NewEvent, NewKnowledgeBase
from storecheck.conformance.specs.app_meta_maintenance import (
    BACKUP_INTERVAL,
    BACKUPS_SUFFIX,
    MAX_BACKUP_INTERVAL,
    MIN_BACKUP_INTERVAL,
    backup_name,
)
from storecheck.conformance.suites.app_meta.backup_damage import (
    SCHEMA_DAMAGES,
    foreign_database,
    text_rewritten,
)
from storecheck.conformance.suites.app_meta.feed import whole_feed
from storecheck.fixtures.app_meta import T0, small_world, snapshot_all

pytestmark = pytest.mark.requires(caps.BACKUP_RESTORE)
MICRO = timedelta(microseconds=1)
BLOCKS = 400
"""Blocks each writer commits at most while the backups are taken."""


def _files_of(location: str, name: str) -> list[Path]:
    """The backup's files: ``name`` and the files named ``name`` plus a suffix."""
    directory = Path(location + BACKUPS_SUFFIX)
    return sorted(path for path in directory.iterdir()
                  if path.name == name or path.name.startswith(name + "."))


def _opened_copy(backend: Any, workdir: Path, location: str, name: str) -> Any:
    """The backup's files put at a new location (``name.events`` becomes the location's
    ``.events``) and opened there as a store."""
    copy = backend.backend.new_location(SPEC, workdir)
    for path in _files_of(location, name):
        shutil.copyfile(path, copy + path.name[len(name):])
    return backend.backend.open(SPEC, copy)


def _more_writes(store: Any) -> None:
    small_world(store, "later")
    store.delete_knowledge_base("early-kb-2")
    store.append_events("early-kb-1", "KnowledgeBase", 2,
                        [NewEvent("early-e-3", "Grew", '{"size": 9}', T0)])
    store.set_checkpoint("w-indexer", store.read_feed(0, 1000)[-1].position, T0)


@pytest.mark.acid
@pytest.mark.operation("restore")
def test_a_restore_brings_back_exactly_what_the_backup_held(store: Any) -> None:
    small_world(store, "early")
    before = snapshot_all(store)
    taken = store.backup(T0)
    expect(taken.name == backup_name(T0) and taken.taken_at == T0, SPEC, "backup",
           f"the backup named {backup_name(T0)!r}, taken at {T0}", taken)
    _more_writes(store)
    expect(snapshot_all(store) != before, SPEC, "restore", "the writes after the backup")
    restored = store.restore(taken.name)
    expect(restored == taken, SPEC, "restore", "the backup's description", restored)
    expect(snapshot_all(store) == before, SPEC, "restore",
           "every table as the backup held it, nothing of the later writes")
    expect(store.list_backups() == [taken], SPEC, "list_backups", "the one backup", taken)
    last = max(event.position for event in before["feed"])
    appended = store.append_events("early-kb-1", "KnowledgeBase", 2,
                                   [NewEvent("after-restore", "Grew", "{}", T0)])
    expect(appended[0].position > last and appended[0].sequence_number == 3, SPEC,
           "append_events", f"the stream going on at version 3, position after {last}",
           appended)


@pytest.mark.acid
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("backup")
def test_a_backup_holds_every_committed_write(store: Any, backend: Any, fresh_location: str,
                                              tmp_path: Path) -> None:
    """Opened as a store, the backup reads back what the store did when it was taken: the
    writes still in the write-ahead log included."""
    small_world(store, "early")
    before = snapshot_all(store)
    taken = store.backup(T0)
    expect(taken.size_bytes == sum(p.stat().st_size for p in _files_of(fresh_location,
                                                                        taken.name)),
           SPEC, "backup", "size_bytes: the bytes of the backup's files", taken)
    _more_writes(store)
    copy = _opened_copy(backend, tmp_path / "copy", fresh_location, taken.name)
    try:
        expect(snapshot_all(copy) == before, SPEC, "backup",
               "the backup, opened, reads back the store as it was")
    finally:
        copy.close()


@pytest.mark.concurrency
@pytest.mark.requires(caps.TRANSACTIONS, caps.FILE_STORAGE)
@pytest.mark.operation("backup")
def test_a_backup_beside_writers_is_one_moment(open_store: Any, backend: Any,
                                               fresh_location: str, tmp_path: Path) -> None:
    """Two threads write blocks of a knowledge base and its three events in one
    ``atomic()`` (the production layout: two files) while backups are taken: each backup
    holds every block committed before it began, and each block whole or not at all."""
    store = open_store()
    done = threading.Event()
    committed = [0, 0]
    failures: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            n = 0
            while not done.is_set() and n < BLOCKS:
                with store.atomic():
                    store.create_knowledge_base(NewKnowledgeBase(f"w{t}-{n}", f"w{t}-{n}",
                                                                 "mini", T0))
                    store.append_events(f"w{t}-{n}", "KnowledgeBase", 0, [
                        NewEvent(f"w{t}-{n}-{k}", "Created", "{}", T0) for k in range(3)])
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
    expect(not failures, SPEC, "atomic", "writers that never fail", failures[:1])
    for backup, floor in taken:
        copy = _opened_copy(backend, tmp_path / backup.name, fresh_location, backup.name)
        try:
            bases = {kb.id for kb in copy.list_knowledge_bases(None)}
            streams: dict[str, int] = {}
            for event in whole_feed(copy):
                streams[event.aggregate_id] = streams.get(event.aggregate_id, 0) + 1
        finally:
            copy.close()
        torn = sorted(bases ^ set(streams)) + sorted(a for a, n in streams.items() if n != 3)
        expect(not torn, SPEC, "backup", f"{backup.name}: every block whole (a base with its "
               "three events) or absent", torn[:5])
        missing = [f"w{t}-{n}" for t in range(2) for n in range(floor[t])
                   if f"w{t}-{n}" not in bases]
        expect(not missing, SPEC, "backup", f"{backup.name}: every block committed before "
               "the backup began", missing[:5])


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scribbled(path: Path) -> None:
    """Every page but the first overwritten with a pattern: no b-tree page parses."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = bytes((n * 37) % 251 for n in range(len(data) - page))
    path.write_bytes(bytes(data))


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"backup of app_meta, version 2\n" * 300)


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("restore")
@pytest.mark.parametrize("damage", [_truncated, _scribbled, _not_sqlite],
                         ids=["truncated", "scribbled", "not-sqlite"])
def test_a_damaged_backup_is_refused_and_changes_nothing(
    store: Any, fresh_location: str, damage: Callable[[Path], None]
) -> None:
    """Each file of a backup in turn is damaged in a copy of it: restoring the copy raises
    StorageFailed(CORRUPT) and the store reads back as before (a restore that copied first
    and checked after would have lost it)."""
    small_world(store, "early")
    good = store.backup(T0)
    _more_writes(store)
    before = snapshot_all(store)
    for n, path in enumerate(_files_of(fresh_location, good.name)):
        copy_name = backup_name(T0 + (n + 1) * MICRO)
        damage(_copied(fresh_location, good.name, copy_name, path))
        if damage is _not_sqlite and n == 0:
            listed = {b.name: b.schema_version for b in store.list_backups()}
            expect(listed.get(copy_name) == 0, SPEC, "list_backups",
                   "schema_version 0 for a backup that cannot be read", listed)
        error = expect_error(SPEC, "restore", partial(store.restore, copy_name), StorageFailed)
        expect(isinstance(error, StorageFailed) and error.cause is StorageCause.CORRUPT, SPEC,
               "restore", f"StorageFailed(CORRUPT) for a damaged {path.name}", error)
        expect(snapshot_all(store) == before, SPEC, "restore",
               f"nothing changed by a refused restore ({path.name} damaged)")
        expect(store.health().files[0].quick_check == "ok", SPEC, "health",
               "the store's file sound after a refused restore")


def _copied(location: str, name: str, copy_name: str, path: Path) -> Path:
    """Every file of backup ``name`` copied as backup ``copy_name``; the copy of ``path``."""
    for original in _files_of(location, name):
        shutil.copyfile(original, original.with_name(copy_name + original.name[len(name):]))
    return path.with_name(copy_name + path.name[len(name):])


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("restore")
@pytest.mark.parametrize("damage", SCHEMA_DAMAGES, ids=[d.__name__ for d in SCHEMA_DAMAGES])
def test_a_backup_whose_schema_is_not_the_stores_is_refused_and_changes_nothing(
    store: Any, fresh_location: str, damage: Callable[[Path], str | None]
) -> None:
    """Each file of a backup in turn gets a sound schema that is not the one its version
    defines (two columns trading places or names, a column dropped, added or retyped):
    restoring it raises StorageFailed(CORRUPT) and the store reads back as before.  A
    restore that checked only the tables' names put keys in place of values."""
    small_world(store, "early")
    good = store.backup(T0)
    _more_writes(store)
    before = snapshot_all(store)
    damaged = []
    for n, path in enumerate(_files_of(fresh_location, good.name)):
        copy_name = backup_name(T0 + (n + 1) * MICRO)
        what = damage(_copied(fresh_location, good.name, copy_name, path))
        if what is None:
            continue
        damaged.append(what)
        error = expect_error(SPEC, "restore", partial(store.restore, copy_name), StorageFailed)
        expect(isinstance(error, StorageFailed) and error.cause is StorageCause.CORRUPT, SPEC,
               "restore", f"StorageFailed(CORRUPT) for a backup whose {what}", error)
        expect(snapshot_all(store) == before, SPEC, "restore",
               f"nothing changed by a refused restore ({what})")
    expect(bool(damaged), SPEC, "backup", "a backup file with a table of two columns of one "
           "type, to damage")


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("restore")
def test_a_backup_with_a_tampered_event_is_refused_and_changes_nothing(
    store: Any, fresh_location: str
) -> None:
    """One event's data edited in a copy of the backup, its checksum left as it was: the
    restore raises StorageFailed(CORRUPT) and the store reads back as before.  A restore
    that verified only the schema put back a stream whose every later read fails."""
    small_world(store, "early")
    store.append_events("tampered", "Note", 0, [NewEvent("tampered-1", "Written",
                                                         '{"body": "tamper-me-0001"}', T0)])
    good = store.backup(T0)
    _more_writes(store)
    before = snapshot_all(store)
    copy_name = backup_name(T0 + MICRO)
    main = Path(fresh_location + BACKUPS_SUFFIX) / good.name
    _copied(fresh_location, good.name, copy_name, main)
    changed = sum(text_rewritten(path, "tamper-me-0001", "tamper-me-0002")
                  for path in _files_of(fresh_location, copy_name))
    if not changed:
        pytest.skip("the backup holds no event's data as text a check can edit")
    _refused_unchanged(store, copy_name, StorageCause.CORRUPT,
                       "a backup whose event no longer matches its checksum", before)


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("restore")
def test_another_applications_database_as_a_backup_is_refused_as_foreign(
    store: Any, fresh_location: str
) -> None:
    """The backup's main file replaced by another application's SQLite database whose
    migration record claims the store's version: StorageFailed(FOREIGN), nothing changed."""
    small_world(store, "early")
    good = store.backup(T0)
    _more_writes(store)
    before = snapshot_all(store)
    main = Path(fresh_location + BACKUPS_SUFFIX) / good.name
    copy_name = backup_name(T0 + MICRO)
    what = foreign_database(_copied(fresh_location, good.name, copy_name, main))
    _refused_unchanged(store, copy_name, StorageCause.FOREIGN, what, before)


def _refused_unchanged(store: Any, name: str, cause: StorageCause, what: str,
                       before: Any) -> None:
    """Restoring backup ``name`` raises StorageFailed with ``cause`` and the store reads
    back ``before``."""
    error = expect_error(SPEC, "restore", partial(store.restore, name), StorageFailed)
    expect(isinstance(error, StorageFailed) and error.cause is cause, SPEC, "restore",
           f"StorageFailed({cause.name}) for {what}", error)
    expect(snapshot_all(store) == before, SPEC, "restore",
           f"nothing changed by the refused restore of {what}")


@pytest.mark.badinput
@pytest.mark.requires(caps.MIGRATIONS)
@pytest.mark.operation("restore")
def test_a_backup_of_another_schema_version_is_refused(open_store: Any) -> None:
    store = open_store(schema_version=1)
    small_world(store, "early")
    old = store.backup(T0)
    expect(old.schema_version == 1, SPEC, "backup", "schema_version 1", old)
    store.migrate(2)
    _more_writes(store)
    before = snapshot_all(store)
    expect_error(SPEC, "restore", lambda: store.restore(old.name), Conflict)
    expect(snapshot_all(store) == before, SPEC, "restore", "nothing changed by the refusal")


@pytest.mark.badinput
@pytest.mark.operation("restore")
def test_backup_names_and_intervals_are_checked(store: Any) -> None:
    small_world(store, "early")
    first = store.backup(T0)
    expect(store.health().last_backup == T0, SPEC, "health", "last_backup: the one backup's "
           "instant", store.health().last_backup)
    expect_error(SPEC, "backup", lambda: store.backup(T0), Conflict)
    for name in ("", "../app_meta.db", f"x/{first.name}", first.name + "\n", "app_meta.db",
                 first.name.upper(), first.name[:-3]):
        expect_error(SPEC, "restore", partial(store.restore, name), ValidationError)
    expect_error(SPEC, "restore", lambda: store.restore(backup_name(T0 + MICRO)), NotFound)
    expect_error(SPEC, "backup", lambda: store.backup(T0.replace(tzinfo=None)), ValidationError)
    for interval in (MIN_BACKUP_INTERVAL - MICRO, MAX_BACKUP_INTERVAL + MICRO, timedelta(0),
                     -BACKUP_INTERVAL, 3600, None):
        expect_error(SPEC, "backup_due", partial(store.backup_due, T0, interval),
                     ValidationError)
    second = store.backup(T0 + timedelta(minutes=30))
    expect([b.name for b in store.list_backups()] == [first.name, second.name], SPEC,
           "list_backups", "both backups, oldest first", store.list_backups())
    for interval in (MIN_BACKUP_INTERVAL, BACKUP_INTERVAL, MAX_BACKUP_INTERVAL):
        newest = second.taken_at
        expect(not store.backup_due(newest + interval - MICRO, interval)
               and store.backup_due(newest + interval, interval), SPEC, "backup_due",
               f"due {interval} after the newest backup, not before")
    expect(store.health().last_backup == second.taken_at, SPEC, "health",
           "last_backup: the newest backup's instant", store.health().last_backup)


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("backup")
def test_a_backup_directory_may_hold_any_character(backend: Any, tmp_path: Path) -> None:
    """The location (so the backup directory) sits under a path with a quote, a semicolon
    and spaces: backup and restore work, and nothing is written elsewhere."""
    workdir = tmp_path / "it's a dir; DROP TABLE settings; --"
    location = backend.backend.new_location(SPEC, workdir)
    store = backend.backend.open(SPEC, location)
    try:
        small_world(store, "early")
        before = snapshot_all(store)
        taken = store.backup(T0)
        _more_writes(store)
        store.restore(taken.name)
        expect(snapshot_all(store) == before, SPEC, "restore", "the backup back")
        expect(_files_of(location, taken.name) != [], SPEC, "backup",
               f"the backup in {Path(location + BACKUPS_SUFFIX).name!r}")
    finally:
        store.close()
        backend.backend.discard(location)
    strays = [p for p in tmp_path.rglob("*") if p.is_file() and workdir not in p.parents]
    expect(not strays, SPEC, "backup", "no file outside the location's directory", strays[:3])


@pytest.mark.badinput
@pytest.mark.operation("health")
def test_health_reports_each_file(store: Any) -> None:
    fresh = store.health()
    expect(fresh.last_backup is None and fresh.files and fresh.files[0].file == "app_meta",
           SPEC, "health", "the app_meta file first, no backup yet", fresh)
    names = [f.file for f in fresh.files]
    expect(len(set(names)) == len(names) and set(names) <= {"app_meta", "events"}, SPEC,
           "health", "each file once: app_meta, and events in the production layout", names)
    small_world(store, "early")
    for n in range(20):
        store.put_setting(f"pad-{n}", "x" * 2000, T0)
    grown = store.health()
    for new in grown.files:
        expect(new.quick_check == "ok" and new.page_size > 0 and new.size_bytes >= 0
               and new.wal_bytes >= 0 and 0 <= new.freelist_count <= new.page_count, SPEC,
               "health", f"sound figures for {new.file}", new)
    app_old, app_new = fresh.files[0], grown.files[0]
    expect(app_new.page_count > app_old.page_count, SPEC, "health",
           "more pages after 40 KB of settings", (app_old.page_count, app_new.page_count))


@pytest.mark.badinput
@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("health")
def test_health_reports_damage_instead_of_raising(open_store: Any,
                                                  fresh_location: str) -> None:
    store = open_store()
    small_world(store, "early")
    for n in range(50):
        store.put_setting(f"pad-{n}", "x" * 2000, T0)
    store.close()
    path = Path(fresh_location)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    last = len(data) // page - 1
    data[last * page: last * page + 8] = b"\x0d\xff\xff\xff\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    health = open_store().health()
    expect(health.files[0].quick_check != "ok", SPEC, "health",
           "quick_check reporting the damaged page", health.files[0])


@pytest.mark.concurrency
@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("health")
def test_health_reports_the_whole_pool(store: Any) -> None:
    """One thread holds a write transaction, a second waits for the write lock: health,
    asked from a third, counts both (the real application reports one figure, open
    connections, of one pool)."""
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def holder() -> None:
        try:
            with store.atomic():
                store.put_setting("held", 1, T0)
                holding.set()
                release.wait(10)
        except BaseException as exc:
            failures.append(exc)
            holding.set()

    def waiter() -> None:
        try:
            store.put_setting("waited", 2, T0)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    threads[0].start()
    holding.wait(10)
    threads[1].start()
    seen = store.health().pool
    deadline = time.monotonic() + 5
    while (seen.waiting < 1 or seen.in_use < 1) and time.monotonic() < deadline:
        time.sleep(0.005)
        seen = store.health().pool
    release.set()
    for thread in threads:
        thread.join()
    after = store.health().pool
    expect(not failures, SPEC, "put_setting", "both writers done", failures[:1])
    expect(seen.in_use >= 1 and seen.waiting >= 1 and seen.open >= 2, SPEC, "health",
           "pool: a connection in use and a caller waiting, of two or more open", seen)
    expect(after.in_use == 0 and after.waiting == 0 and after.open >= 2, SPEC, "health",
           "pool: none in use or waiting afterwards, the connections still open", after)
