"""The PostgreSQL half of a reference store: engine, migrations, introspection.

A PostgreSQL reference store is this class first, then the SQLite reference
store whose operations it reuses (their SQL is translated statement by
statement); it overrides only what the engines do differently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Final, NoReturn

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from storecheck.conformance import sqlschema
from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.common import SpaceReport
from storecheck.reference_impl.engine.migrator import (
    Migration,
    Migrator,
    NotOurDatabase,
    split_statements,
)
from storecheck.reference_impl.engine.sql import Connection, spec_errors
from storecheck.reference_impl.postgres import introspection
from storecheck.reference_impl.postgres.connection import PgConnection, PgDatabase, translate
from storecheck.reference_impl.postgres.migrator import PgMigrator


class PostgresStore:
    spec: ClassVar[str]
    migrations: ClassVar[tuple[Migration, ...]]
    sql_dialect = "postgres"

    def __init__(
        self,
        location: str,
        *,
        schema_version: int | None = None,
        migrations: tuple[Migration, ...] | None = None,
    ) -> None:
        chosen = migrations or self.migrations
        self.path = location
        self.pg = PgDatabase(location, _fts_tables(chosen))
        self.migrator: Migrator = PgMigrator(self.pg, chosen)
        try:
            with spec_errors(psycopg.Error, translate, self.spec, "open", _shown(location)):
                self.migrator.migrate(schema_version)
        except NotOurDatabase as exc:
            self.pg.close()
            raise StorageFailed(self.spec, "open", StorageCause.FOREIGN,
                                f"{_shown(location)}: {exc}") from exc
        except BaseException:
            self.pg.close()
            raise

    @contextmanager
    def _tx(self, operation: str, value: Any = None, *, write: bool = True,
            serializable: bool = False) -> Iterator[Connection]:
        """A transaction whose driver errors come out as the spec's errors."""
        with spec_errors(psycopg.Error, translate, self.spec, operation, value), \
                self.pg.atomic(write=write, serializable=serializable) as conn:
            yield conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """The caller's block, SERIALIZABLE: the contract's guarantee (the outcome of
        concurrent blocks is that of some serial order) is what PostgreSQL's serializable
        snapshot isolation gives.  A block it cannot order is aborted with a serialization
        failure, which comes out as Busy, from the operation or from the commit at the
        block's end; the caller retries the block."""
        with self._tx("atomic", serializable=True):
            yield

    @staticmethod
    def _native(conn: Connection) -> PgConnection:
        """The connection as PostgreSQL's, for statements written for it."""
        assert isinstance(conn, PgConnection)
        return conn

    def close(self) -> None:
        self.pg.close()

    # -- capability: sql_introspection -----------------------------------------

    def schema_ddl(self) -> Mapping[str, str]:
        with self.pg.atomic(write=False) as conn:
            return introspection.schema_ddl(conn)

    def engine_session(self) -> Any:
        """A plain autocommit connection to the location's schema."""
        return psycopg.connect(self.pg.conninfo, autocommit=True)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``sql`` in PostgreSQL's dialect, run in a READ ONLY transaction."""
        return self.pg.read_only(sql, params)

    # -- capability: crash_durable ---------------------------------------------

    def verify_integrity(self) -> list[str]:
        """Rows whose parent is missing, for every foreign key the schema declares.

        The server's own WAL replay covers physical damage; what a client can
        break is logical, so this is what is checked.
        """
        ddl = self.schema_ddl()
        problems = []
        for key in sqlschema.foreign_keys(ddl.values(), "postgres"):
            (orphans,) = self.pg.read_only(sqlschema.orphan_scan(key, "postgres"))[0]
            if orphans:
                problems.append(f"{key.child_table}.{key.child_column}: {orphans} rows point at a "
                                f"missing {key.parent_table}")
        return problems


def _shown(location: str) -> str:
    """The location as an error may show it: without its password."""
    try:
        parts = conninfo_to_dict(location)
    except psycopg.ProgrammingError:
        return "(an unparsable connection string)"
    parts.pop("password", None)
    return make_conninfo("", **parts)


@cache
def _fts_tables(migrations: tuple[Migration, ...]) -> frozenset[sqlschema.FtsTable]:
    """The FTS5 tables the migrations create (once per migration set, not per open)."""
    return sqlschema.fts_tables(statement for m in migrations for statement in split_statements(m.up))


_TABLE_BYTES: Final = (
    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY 1"
)


class PgVacuuming:
    """``vacuum`` on PostgreSQL: ``VACUUM FULL`` of each of the schema's tables, the bytes
    theirs (with their indexes and TOAST) before and after."""

    pg: PgDatabase

    def vacuum(self) -> SpaceReport:
        before = self._table_bytes()
        conn = self.pg.connection()
        for table in before:
            conn.execute_native(sql.SQL("VACUUM FULL {}").format(sql.Identifier(table)))
        return SpaceReport(sum(before.values()), sum(self._table_bytes().values()))

    def _table_bytes(self) -> dict[str, int]:
        return {name: int(size) for name, size in self.pg.read_only(_TABLE_BYTES)}


class WithoutBackups:
    """Not ``backup_restore``: a schema in a shared server is backed up with the server's own
    tools (``pg_dump``), and its health is in the statistics views.  The SQLite reference's
    file backups, inherited with its SQL, are refused by name."""

    spec: ClassVar[str]

    def _not_here(self, operation: str) -> NotImplementedError:
        return NotImplementedError(f"{self.spec}.{operation}: the PostgreSQL reference does not "
                                   "declare backup_restore (use pg_dump and the statistics views)")

    def backup(self, at: datetime) -> NoReturn:
        raise self._not_here("backup")

    def list_backups(self) -> NoReturn:
        raise self._not_here("list_backups")

    def restore(self, name: str) -> NoReturn:
        raise self._not_here("restore")
