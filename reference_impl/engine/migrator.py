"""Versioned up/down SQL migrations with checksums.

Files live in a package as ``NNNN_name.up.sql`` and ``NNNN_name.down.sql``.
Each step runs with its record in ``schema_migrations`` inside one
``BEGIN IMMEDIATE`` transaction, and the applied versions are re-read after
the lock is taken, so two processes migrating at once apply each step once.
PRAGMAs are refused in migration files: most cannot run inside a transaction
and connection settings belong to :mod:`.connection`.

Opening an up-to-date location only reads (no write lock, so it never waits
for another process's writer); a location holding tables without this
spec's migration record is another application's and is refused untouched.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import ClassVar

from storecheck.reference_impl.engine.sql import Connection, Transactions

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.(?P<direction>up|down)\.sql$")

_CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT
"""


class MigrationError(Exception):
    """Base of the migrator's own failures."""


class ChecksumMismatch(MigrationError):
    """An applied migration's file changed after it was applied."""


class MigrationFailed(MigrationError):
    """A statement of a migration failed; the step was rolled back."""


class NotOurDatabase(MigrationError):
    """The location holds data that is not a store of this spec; nothing was changed."""


class InjectedFault(MigrationError):
    """Raised on purpose by ``fail_after_statements`` to test rollback."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.up.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: str


def load_migrations(package: str) -> tuple[Migration, ...]:
    """Read and pair the migration files shipped in ``package``."""
    found: dict[int, dict[str, str]] = {}
    names: dict[int, str] = {}
    for entry in resources.files(package).iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        version = int(match["version"])
        found.setdefault(version, {})[match["direction"]] = entry.read_text(encoding="utf-8")
        names[version] = match["name"]
    migrations = []
    for position, version in enumerate(sorted(found), start=1):
        pair = found[version]
        if version != position or set(pair) != {"up", "down"}:
            raise MigrationError(f"{package}: migration {version:04d} needs an up and a down "
                                 "file and versions must run 1, 2, 3, ... without gaps")
        migrations.append(Migration(version, names[version], pair["up"], pair["down"]))
    return tuple(migrations)


def split_statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers and quoted ';' included)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = _strip_comments(buffer).strip()
            if statement and statement != ";":
                statements.append(statement)
            buffer = ""
    if _strip_comments(buffer).strip(" \n\t;"):
        raise MigrationError(f"incomplete SQL statement at end of script: {buffer.strip()!r}")
    return statements


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


class Migrator:
    driver_error: ClassVar[type[Exception]] = sqlite3.Error

    def __init__(self, database: Transactions, migrations: tuple[Migration, ...]) -> None:
        self.database = database
        self.migrations = migrations
        for migration in migrations:
            for direction, script in (("up", migration.up), ("down", migration.down)):
                for statement in split_statements(script):
                    if statement.upper().startswith("PRAGMA"):
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name}.{direction}.sql "
                            f"contains a PRAGMA; connection settings belong to the engine"
                        )

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(m.version for m in self.migrations)

    def history(self) -> list[AppliedMigration]:
        with self.database.atomic(write=False) as conn:
            if not self._has_history(conn):
                return []
            rows = conn.execute(
                "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
            ).fetchall()
        return [AppliedMigration(*row) for row in rows]

    def current_version(self) -> int:
        with self.database.atomic(write=False) as conn:
            return self._current(conn)

    def migrate(self, target: int | None = None, *, fail_after_statements: int | None = None) -> None:
        """Move to ``target`` (default: newest) one step per transaction."""
        goal = self.goal(target)
        if self.up_to(goal):
            return
        while True:
            with self.database.atomic() as conn:
                if not self._has_history(conn):
                    self._refuse_foreign(conn)
                self._prepare(conn)
                conn.execute(_CREATE_HISTORY)
                self._verify_checksums(conn)
                current = self._current(conn)
                if current == goal:
                    return
                if current < goal:
                    step = self.migrations[current]
                    self._run(conn, step, step.up, fail_after_statements)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                        "VALUES (?, ?, ?, ?)",
                        (step.version, step.name, step.checksum, datetime.now(UTC).isoformat()),
                    )
                else:
                    step = self.migrations[current - 1]
                    self._run(conn, step, step.down, fail_after_statements)
                    conn.execute("DELETE FROM schema_migrations WHERE version = ?", (step.version,))

    def goal(self, target: int | None) -> int:
        """The version ``target`` names (None: the newest), refused if unknown."""
        goal = self.versions[-1] if target is None else target
        if goal != 0 and goal not in self.versions:
            raise MigrationError(f"unknown schema version {goal}; known: {self.versions}")
        return goal

    def up_to(self, goal: int) -> bool:
        """Whether the location is at ``goal`` already, found by reading only (no write lock,
        so opening never waits for another process's writer); refuses a location that is
        not ours or that a changed migration file no longer matches."""
        with self.database.atomic(write=False) as conn:
            if not self._has_history(conn):
                self._refuse_foreign(conn)
                return False
            self._verify_checksums(conn)
            return self._current(conn) == goal

    def _refuse_foreign(self, conn: Connection) -> None:
        """A location without a migration record must hold no tables at all."""
        found = self._tables(conn)
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise NotOurDatabase(f"it holds tables ({shown}) but no schema_migrations record: "
                                 "another application's data, left untouched")

    @staticmethod
    def _tables(conn: Connection) -> list[str]:
        return [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]

    def _prepare(self, conn: Connection) -> None:
        """Before a step: nothing on SQLite, whose BEGIN IMMEDIATE already excludes
        every other writer (and so every other migrator) until the step commits."""

    def _run(self, conn: Connection, step: Migration, script: str, fail_after: int | None) -> None:
        for count, statement in enumerate(split_statements(script), start=1):
            try:
                conn.execute(statement)
            except self.driver_error as exc:
                raise MigrationFailed(
                    f"migration {step.version:04d}_{step.name} failed at statement {count}: "
                    f"{exc}\n{statement}"
                ) from exc
            if fail_after is not None and count >= fail_after:
                raise InjectedFault(
                    f"fault injected after statement {count} of {step.version:04d}_{step.name}"
                )

    @staticmethod
    def _has_history(conn: Connection) -> bool:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        return row is not None

    def _current(self, conn: Connection) -> int:
        if not self._has_history(conn):
            return 0
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    def _verify_checksums(self, conn: Connection) -> None:
        by_version = {m.version: m for m in self.migrations}
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ):
            known = by_version.get(version)
            if known is not None and known.name != name:
                raise NotOurDatabase(
                    f"its migration {version} is {name!r} where this spec's is {known.name!r}: "
                    "a store of another spec or application, left untouched")
            if known is None:
                raise MigrationError(f"database has migration {version} ({name}) that this "
                                     "code does not know; refusing to touch it")
            if known.checksum != checksum:
                raise ChecksumMismatch(
                    f"migration {version:04d}_{name} was applied with checksum {checksum[:12]}… "
                    f"but its file now has {known.checksum[:12]}…; a migration that ran must "
                    "never be edited, add a new one instead"
                )
