"""The engine when the storage misbehaves: a held lock, idle time, marks, backups, damage."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from storecheck.conformance.errors import Busy, StorageCause, StorageFailed
from storecheck.conformance.specs.session_history import SessionQuery
from storecheck.reference_impl.engine import BackupRefused, ConnectionRules, Database, translate
from storecheck.reference_impl.engine.checkpoint import IDLE_SECONDS
from storecheck.reference_impl.engine.store import application_id
from storecheck.reference_impl.session_history import SqliteSessionHistory

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _holding_the_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_opening_an_up_to_date_store_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    SqliteSessionHistory(str(path)).close()
    holder = _holding_the_write_lock(path)
    try:
        started = time.monotonic()
        store = SqliteSessionHistory(str(path), rules=ConnectionRules(lock_deadline_s=0.3,
                                                                      busy_timeout_ms=50))
        opened_in = time.monotonic() - started
        assert opened_in < 0.25, f"open waited {opened_in:.2f} s for another process's writer"
        assert store.search_sessions(SessionQuery(), 10).items == ()  # reads go on meanwhile
        with pytest.raises(Busy):
            store.get_or_create_workspace("/w", T0)
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_lock_deadline_is_a_connection_rule(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    Database(str(path)).connection().execute("CREATE TABLE t (v)")
    holder = _holding_the_write_lock(path)
    database = Database(str(path), ConnectionRules(lock_deadline_s=0.2, busy_timeout_ms=20))
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError), database.atomic():
            pass
        assert time.monotonic() - started < 2.0
    finally:
        database.close()
        holder.execute("ROLLBACK")
        holder.close()


def test_an_idle_store_gives_its_wal_back(tmp_path: Path) -> None:
    path = tmp_path / "idle.db"
    store = SqliteSessionHistory(str(path))
    for n in range(20):
        store.get_or_create_workspace(f"/w{n}", T0)
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    deadline = time.monotonic() + IDLE_SECONDS + 5
    while wal.stat().st_size and time.monotonic() < deadline:
        time.sleep(0.1)
    assert wal.stat().st_size == 0, "the WAL was not truncated once writers went idle"
    store.close()


def test_a_store_marks_its_file_and_adopts_an_unmarked_one_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SqliteSessionHistory(str(path)).close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == application_id("session_history")
    raw.execute("PRAGMA application_id = 0")  # as files made before the mark existed
    raw.close()
    SqliteSessionHistory(str(path)).close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == application_id("session_history")
    raw.close()


def test_a_file_marked_by_another_application_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 1179603561")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StorageFailed) as refused:
        SqliteSessionHistory(str(path))
    assert refused.value.cause is StorageCause.FOREIGN and str(path) in str(refused.value)
    assert path.read_bytes() == before


def test_a_read_only_location_is_storage_failed_read_only(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    Database(str(path)).connection().execute("CREATE TABLE t (v)")
    database = Database(str(path), ConnectionRules(read_only=True))
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            database.connection().execute("INSERT INTO t VALUES (1)")
        mapped = translate(raised.value, "spec", "op")
        assert isinstance(mapped, StorageFailed) and mapped.cause is StorageCause.READ_ONLY
    finally:
        database.close()


def test_health_reports_a_damaged_file_instead_of_raising(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    store = SqliteSessionHistory(str(path))
    for n in range(200):
        store.get_or_create_workspace(f"/workspace/{n:04d}" * 8, T0)
    store.close()
    data = bytearray(path.read_bytes())
    pages = len(data) // 4096
    for number in range(pages // 2, pages):
        data[number * 4096 + 16:number * 4096 + 400] = bytes(range(256)) + bytes(128)
    path.write_bytes(bytes(data))
    damaged = SqliteSessionHistory(str(path))
    figures = damaged.file_health()
    assert not figures.ok and figures.quick_check
    assert damaged.verify_integrity()
    damaged.close()


def test_backup_names_are_matched_whole(tmp_path: Path) -> None:
    store = SqliteSessionHistory(str(tmp_path / "b.db"))
    for name in ("copy.db\n", "copy.db\nx", " copy.db"):
        with pytest.raises(BackupRefused):
            store.backup_copy(name)
    store.close()


def test_a_planted_link_is_never_written_through(tmp_path: Path) -> None:
    store = SqliteSessionHistory(str(tmp_path / "b.db"))
    store.get_or_create_workspace("/w", T0)
    outside = tmp_path / "outside"
    outside.mkdir()
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "dangling.db").symlink_to(outside / "written-here.db")
    (backups / "pointing.db").symlink_to(outside / "existing.db")
    (outside / "existing.db").write_bytes(b"kept")
    for name in ("dangling.db", "pointing.db"):
        with pytest.raises(BackupRefused):
            store.backup_copy(name)
    assert sorted(os.listdir(outside)) == ["existing.db"]
    assert (outside / "existing.db").read_bytes() == b"kept"
    copy = sqlite3.connect(store.backup_copy("real.db"))
    assert copy.execute("SELECT workspace_path FROM workspaces").fetchall() == [("/w",)]
    copy.close()
    store.close()


def test_a_linked_backup_directory_is_refused_unless_configured(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "store"
    home.mkdir()
    (home / "backups").symlink_to(elsewhere, target_is_directory=True)
    store = SqliteSessionHistory(str(home / "b.db"))
    with pytest.raises(BackupRefused):
        store.backup_copy("copy.db")
    assert not os.listdir(elsewhere)
    store.close()

    class LinkedBackups(SqliteSessionHistory):
        backup_directory_may_be_link = True

    linked = LinkedBackups(str(home / "b.db"))
    assert linked.backup_copy("copy.db").resolve() == elsewhere / "copy.db"
    linked.close()
