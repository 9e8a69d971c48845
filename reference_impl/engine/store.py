"""What every reference store shares: connection, migrations, transactions, introspection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from storecheck.reference_impl.engine.connection import ConnectionRules, Database, translate
from storecheck.reference_impl.engine.maintenance import Health, backup, health, integrity_problems
from storecheck.reference_impl.engine.migrator import AppliedMigration, Migration, Migrator
from storecheck.reference_impl.engine.sql import Connection, spec_errors


class SqliteStore:
    """Base of the reference stores; a subclass names its spec and migrations."""

    spec: ClassVar[str]
    migrations: ClassVar[tuple[Migration, ...]]
    rules: ClassVar[ConnectionRules] = ConnectionRules()
    sql_dialect = "sqlite"
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
        self.migrator.migrate(schema_version)

    @contextmanager
    def _tx(self, operation: str, value: Any = None, *, write: bool = True) -> Iterator[Connection]:
        """A transaction whose driver errors come out as the spec's errors."""
        with spec_errors(sqlite3.Error, translate, self.spec, operation, value), \
                self.db.atomic(write=write) as conn:
            yield conn

    def atomic(self) -> AbstractContextManager[None]:
        return _as_none(self._tx("atomic"))

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
        with self.db.atomic(write=False) as conn:
            found = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' AND tbl_name <> 'schema_migrations' ORDER BY name"
            ).fetchall()
        return {name: sql for name, sql in found}

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.db.connection()
        conn.execute("PRAGMA query_only = ON")
        try:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]
        finally:
            conn.execute("PRAGMA query_only = OFF")

    # -- capability: crash_durable, and maintenance ------------------------------

    def verify_integrity(self) -> list[str]:
        problems = integrity_problems(self.db)
        for table, rowid, parent, _ in self.db.connection().execute("PRAGMA foreign_key_check"):
            problems.append(f"{table} row {rowid} points at a missing {parent}")
        return problems

    def backup(self, name: str) -> Path:
        return backup(self.db, Path(self.path).parent / "backups", name)

    def health(self) -> Health:
        return health(self.db)


@contextmanager
def _as_none(context: AbstractContextManager[Any]) -> Iterator[None]:
    with context:
        yield
