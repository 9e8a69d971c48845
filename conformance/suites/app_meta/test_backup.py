"""Backup, restore, scheduling and health (seed 001's ``SqlService``), for stores declaring
``backup_restore``.

The backup and restore checks every spec with backups shares
(:class:`~storecheck.conformance.backup_checks.BackupSuite`) run on ``app_meta``'s world,
its production layout's two files included; a backup is due an interval after the newest;
health must report each file, damage included, and the whole connection pool.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.backup_checks import BackupSuite
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import ValidationError
from storecheck.conformance.specs.app_meta import SPEC, NewEvent, NewKnowledgeBase
from storecheck.conformance.specs.app_meta_maintenance import (
    BACKUP_INTERVAL,
    MAX_BACKUP_INTERVAL,
    MIN_BACKUP_INTERVAL,
)
from storecheck.conformance.suites.app_meta.feed import whole_feed
from storecheck.fixtures.app_meta import T0, small_world, snapshot_all

pytestmark = pytest.mark.requires(caps.BACKUP_RESTORE)
MICRO = timedelta(microseconds=1)


def _more_writes(store: Any) -> None:
    small_world(store, "later")
    store.delete_knowledge_base("world1-kb-2")
    store.append_events("world1-kb-1", "KnowledgeBase", 2,
                        [NewEvent("world1-e-3", "Grew", '{"size": 9}', T0)])
    store.set_checkpoint("w-indexer", store.read_feed(0, 1000)[-1].position, T0)


def _goes_on(store: Any, before: Any) -> None:
    last = max(event.position for event in before["feed"])
    appended = store.append_events("world1-kb-1", "KnowledgeBase", 2,
                                   [NewEvent("after-restore", "Grew", "{}", T0)])
    expect(appended[0].position > last and appended[0].sequence_number == 3, SPEC,
           "append_events", f"the stream going on at version 3, position after {last}",
           appended)
    small_world(store, "later")


def _block(store: Any, label: str) -> None:
    """A knowledge base and its three events: in the production layout, two files."""
    store.create_knowledge_base(NewKnowledgeBase(label, label, "mini", T0))
    store.append_events(label, "KnowledgeBase", 0, [
        NewEvent(f"{label}-{k}", "Created", "{}", T0) for k in range(3)])


def _blocks(store: Any) -> tuple[set[str], list[str]]:
    bases = {kb.id for kb in store.list_knowledge_bases(None)}
    streams: dict[str, int] = {}
    for event in whole_feed(store):
        streams[event.aggregate_id] = streams.get(event.aggregate_id, 0) + 1
    torn = sorted(bases ^ set(streams)) + sorted(a for a, n in streams.items() if n != 3)
    return bases & set(streams) - set(torn), torn


def _plant(store: Any, marker: str) -> None:
    store.append_events(f"note-{marker}", "Note", 0, [NewEvent(f"event-{marker}", "Written",
                                                               f'{{"body": "{marker}"}}', T0)])


class TestBackup(BackupSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(lambda store, seed: small_world(store, f"world{seed}"))
    change = staticmethod(_more_writes)
    go_on = staticmethod(_goes_on)
    block = staticmethod(_block)
    blocks = staticmethod(_blocks)
    plant = staticmethod(_plant)


@pytest.mark.badinput
@pytest.mark.operation("backup_due")
def test_a_backup_is_due_an_interval_after_the_newest(store: Any) -> None:
    small_world(store, "early")
    expect(store.backup_due(T0, BACKUP_INTERVAL), SPEC, "backup_due", "due with no backup")
    first = store.backup(T0)
    expect(store.health().last_backup == first.taken_at, SPEC, "health",
           "last_backup: the one backup's instant", store.health().last_backup)
    for interval in (MIN_BACKUP_INTERVAL - MICRO, MAX_BACKUP_INTERVAL + MICRO, timedelta(0),
                     -BACKUP_INTERVAL, 3600, None):
        expect_error(SPEC, "backup_due", partial(store.backup_due, T0, interval),
                     ValidationError)
    second = store.backup(T0 + timedelta(minutes=30))
    for interval in (MIN_BACKUP_INTERVAL, BACKUP_INTERVAL, MAX_BACKUP_INTERVAL):
        newest = second.taken_at
        expect(not store.backup_due(newest + interval - MICRO, interval)
               and store.backup_due(newest + interval, interval), SPEC, "backup_due",
               f"due {interval} after the newest backup, not before")
    expect(store.health().last_backup == second.taken_at, SPEC, "health",
           "last_backup: the newest backup's instant", store.health().last_backup)


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
