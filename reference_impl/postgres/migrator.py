"""The reference migrations, as written for SQLite, applied to a PostgreSQL schema."""

from __future__ import annotations

from importlib import resources

import psycopg
from storecheck.reference_impl.engine.migrator import Migrator
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.postgres.connection import PgConnection, relation_exists

RUNTIME_SQL = resources.files("storecheck.reference_impl.postgres").joinpath("runtime.sql").read_text(
    encoding="utf-8")


class PgMigrator(Migrator):
    """Each step in one transaction (PostgreSQL's DDL is transactional too), serialised
    across processes by a transaction-level advisory lock on the schema's name."""

    driver_error = psycopg.Error

    def _prepare(self, conn: Connection) -> None:
        assert isinstance(conn, PgConnection)
        conn.execute_native("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
        if not self._has_history(conn):
            conn.execute_native(RUNTIME_SQL)

    @staticmethod
    def _tables(conn: Connection) -> list[str]:
        assert isinstance(conn, PgConnection)
        return [name for (name,) in conn.execute_native(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name")]

    @staticmethod
    def _has_history(conn: Connection) -> bool:
        assert isinstance(conn, PgConnection)
        return relation_exists(conn, "schema_migrations")
