"""The SQLite engine layer: connection rules, transactions, migrator, backup, health."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from storecheck.conformance.errors import Busy
from storecheck.reference_impl.engine import (
    BackupRefused,
    ChecksumMismatch,
    ConnectionRules,
    Database,
    InjectedFault,
    Migration,
    MigrationError,
    MigrationFailed,
    Migrator,
    backup,
    health,
    split_statements,
    translate,
)

UP = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\nINSERT INTO t (v) VALUES ('a;b');"
DOWN = "DROP TABLE t;"


def _migrations() -> tuple[Migration, ...]:
    return (
        Migration(1, "create_t", UP, DOWN),
        Migration(2, "index_t", "CREATE INDEX t_v ON t(v);\nCREATE TABLE u (x INTEGER);",
                  "DROP TABLE u;\nDROP INDEX t_v;"),
    )


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(str(tmp_path / "engine.db"))
    yield db
    db.close()


def test_every_connection_gets_the_rules(database: Database) -> None:
    seen: list[tuple[object, ...]] = []

    def look() -> None:
        conn = database.connection()
        seen.append(tuple(conn.execute(f"PRAGMA {name}").fetchone()[0]
                          for name in ("foreign_keys", "journal_mode", "synchronous",
                                       "busy_timeout")))

    threads = [threading.Thread(target=look) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    look()
    assert seen == [(1, "wal", 1, 2000)] * 4


def test_every_connection_gets_the_tuning_its_rules_ask_for(tmp_path: Path) -> None:
    """A page cache, a memory map and temporary storage in memory, where the rules set them
    (the reference adopts what ``tests/tuning_benchmark.py`` showed helps), on the first
    connection and on another thread's; unset, SQLite's defaults stay."""
    tuned = Database(str(tmp_path / "tuned.db"), ConnectionRules(
        cache_kib=1234, mmap_bytes=1 << 20, temp_store="MEMORY"))
    plain = Database(str(tmp_path / "plain.db"))
    names = ("cache_size", "mmap_size", "temp_store")
    seen: list[tuple[object, ...]] = []

    def look(database: Database) -> None:
        conn = database.connection()
        seen.append(tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names))

    try:
        for database in (tuned, plain):
            look(database)
            thread = threading.Thread(target=look, args=(database,))
            thread.start()
            thread.join()
    finally:
        tuned.close()
        plain.close()
    default = sqlite3.connect(tmp_path / "bare.db")
    defaults = tuple(default.execute(f"PRAGMA {name}").fetchone()[0] for name in names)
    default.close()
    assert seen == [(-1234, 1 << 20, 2)] * 2 + [defaults] * 2


def test_nested_atomic_is_a_savepoint(database: Database) -> None:
    with database.atomic() as conn:
        conn.execute("CREATE TABLE x (v INTEGER)")
    with database.atomic() as conn:
        conn.execute("INSERT INTO x VALUES (1)")
        with pytest.raises(ZeroDivisionError), database.atomic() as inner:
            inner.execute("INSERT INTO x VALUES (2)")
            raise ZeroDivisionError
        conn.execute("INSERT INTO x VALUES (3)")
    rows = database.connection().execute("SELECT v FROM x ORDER BY v").fetchall()
    assert rows == [(1,), (3,)]


def test_writers_wait_instead_of_failing(database: Database, tmp_path: Path) -> None:
    with database.atomic() as conn:
        conn.execute("CREATE TABLE c (n INTEGER)")
        conn.execute("INSERT INTO c VALUES (0)")

    def bump() -> None:
        for _ in range(50):
            with database.atomic() as conn:
                conn.execute("UPDATE c SET n = n + 1")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert database.connection().execute("SELECT n FROM c").fetchone() == (200,)


def test_lock_errors_translate_to_busy() -> None:
    error = sqlite3.OperationalError("database is locked")
    mapped = translate(error, "spec", "op", 1)
    assert isinstance(mapped, Busy) and "[spec.op]" in str(mapped)


def test_split_statements_keeps_quoted_semicolons_and_triggers() -> None:
    script = UP + "\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = 'x;y'; END;\n-- done"
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[2].endswith("END;")


def test_migrate_up_down_and_history(database: Database) -> None:
    migrator = Migrator(database, _migrations())
    migrator.migrate()
    assert migrator.current_version() == 2
    assert [(m.version, m.name) for m in migrator.history()] == [(1, "create_t"), (2, "index_t")]
    migrator.migrate(2)  # a no-op
    migrator.migrate(0)
    assert migrator.current_version() == 0
    tables = database.connection().execute(
        "SELECT name FROM sqlite_master WHERE name IN ('t', 'u')").fetchall()
    assert tables == []


def test_a_tampered_migration_is_refused(database: Database) -> None:
    Migrator(database, _migrations()).migrate()
    edited = (replace(_migrations()[0], up=UP + "\n-- edited"), _migrations()[1])
    with pytest.raises(ChecksumMismatch, match="0001_create_t"):
        Migrator(database, edited).migrate()


def test_a_failing_step_is_rolled_back(database: Database) -> None:
    broken = (_migrations()[0], Migration(2, "broken", "CREATE TABLE u (x INTEGER);\nSELECT nope;",
                                          "DROP TABLE u;"))
    migrator = Migrator(database, broken)
    with pytest.raises(MigrationFailed, match="statement 2"):
        migrator.migrate()
    assert migrator.current_version() == 1
    assert database.connection().execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'u'").fetchone() == (0,)


def test_fault_injection_stops_a_step_midway(database: Database) -> None:
    migrator = Migrator(database, _migrations())
    migrator.migrate(1)
    with pytest.raises(InjectedFault):
        migrator.migrate(2, fail_after_statements=1)
    assert migrator.current_version() == 1


def test_pragmas_are_refused_in_migrations(database: Database) -> None:
    with pytest.raises(MigrationError, match="PRAGMA"):
        Migrator(database, (Migration(1, "p", "PRAGMA journal_mode=WAL;", "SELECT 1;"),))


def test_backup_stays_in_its_directory(database: Database, tmp_path: Path) -> None:
    Migrator(database, _migrations()).migrate()
    target = backup(database, tmp_path / "backups", "copy.db")
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT v FROM t").fetchall() == [("a;b",)]
    copy.close()
    for name in ("../escape.db", "/abs.db", "sub/dir.db", "..", "copy.db"):
        with pytest.raises(BackupRefused):
            backup(database, tmp_path / "backups", name)


def test_a_store_backs_up_beside_its_file_and_reports_health(tmp_path: Path) -> None:
    """SqliteStore.backup_copy/file_health are engine features, not spec operations: no conformance
    check reaches them, so they are pinned here."""
    from datetime import UTC, datetime

    from storecheck.reference_impl.session_history import SqliteSessionHistory

    store = SqliteSessionHistory(str(tmp_path / "history.db"))
    store.get_or_create_workspace("/w", datetime(2025, 1, 1, tzinfo=UTC))
    target = store.backup_copy("copy.db")
    assert target == tmp_path / "backups" / "copy.db"
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT workspace_path FROM workspaces").fetchall() == [("/w",)]
    copy.close()
    assert store.file_health().ok
    store.close()


def test_health_figures(database: Database) -> None:
    Migrator(database, _migrations()).migrate()
    figures = health(database)
    assert figures.ok and figures.page_count > 0 and figures.file_bytes > 0
    assert figures.wal_bytes > 0  # WAL mode: recent writes sit in the -wal file


def test_connection_rules_are_configurable(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "r.db"), ConnectionRules(secure_delete=True))
    assert db.connection().execute("PRAGMA secure_delete").fetchone() == (1,)
    db.close()


def test_a_refused_commit_leaves_no_transaction_open(database: Database) -> None:
    """A COMMIT that SQLite refuses (here a deferred foreign key) leaves the transaction
    open; ``atomic()`` must roll it back, or the thread's next block would run inside it."""
    conn = database.connection()
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) "
                 "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), database.atomic() as inside:
        inside.execute("INSERT INTO child VALUES (7)")
    assert not conn.in_transaction
    with database.atomic() as inside:
        inside.execute("INSERT INTO parent VALUES (1)")
    assert conn.execute("SELECT count(*) FROM parent").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM child").fetchone() == (0,)
