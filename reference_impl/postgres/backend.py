"""The ``postgres`` backend: the reference stores on PostgreSQL, one schema per location.

A location is a libpq connection string whose ``options`` set the
``search_path`` to the location's schema, so a worker process reopens it from
the string alone.  Where the server comes from: :mod:`.server`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storecheck.conformance import capabilities as caps
from storecheck.reference_impl.backend import SQLITE_CAPABILITIES

DSN_VARIABLE = "STORECHECK_PG_DSN"
REQUIRE_VARIABLE = "STORECHECK_REQUIRE_PG"
POSTGRES_CAPABILITIES = SQLITE_CAPABILITIES - {caps.FILE_STORAGE, caps.FLOOR_BOUND,
                                               caps.STORAGE_LIMIT, caps.BACKUP_RESTORE,
                                               caps.LOCK_WAIT, caps.STATED_SETTINGS}
"""Not ``file_storage``: the data is in the server's files, not at the location; not
``storage_limit``: a server has no per-schema size limit to stand in for a full disk; not
``backup_restore``: a schema in a shared server is backed up with ``pg_dump``; not
``lock_wait``: writers of different rows do not wait for each other (row locks), and blocks
that collide are aborted with Busy at once under serializable isolation; not
``stated_settings``: the durability settings are the server's, not the store's files'."""


def _stores() -> dict[str, Any]:
    from storecheck.reference_impl.postgres.app_meta import PgAppMeta
    from storecheck.reference_impl.postgres.conversations import PgConversations
    from storecheck.reference_impl.postgres.extraction import PgExtraction
    from storecheck.reference_impl.postgres.session_history import PgSessionHistory
    from storecheck.reference_impl.postgres.telemetry import PgTelemetry

    return {"session_history": PgSessionHistory, "conversations": PgConversations,
            "extraction": PgExtraction, "telemetry": PgTelemetry,
            "app_meta": PgAppMeta}


@dataclass(frozen=True)
class PostgresBackend:
    """Opens a spec's PostgreSQL store class on a schema location.

    ``stores`` maps spec names to store classes taking ``(location, *,
    schema_version=...)``; empty means the reference stores.  A variant (a
    mutant in the project's tests, a user's patched store) is a new mapping.
    """

    name: str = "postgres"
    specs: frozenset[str] = frozenset({"session_history", "conversations",
                                       "extraction", "telemetry", "app_meta"})
    capabilities: frozenset[str] = POSTGRES_CAPABILITIES
    stores: tuple[tuple[str, Any], ...] = ()

    def unavailable(self) -> str | None:
        """Why no check can run (no driver, no server), or None.  With
        ``STORECHECK_REQUIRE_PG=1`` a missing server is an error, not a reason to skip."""
        try:
            from storecheck.reference_impl.postgres import server
        except ImportError as exc:
            return _skip_unless_required(f"the PostgreSQL driver is not installed ({exc}); "
                                         "pip install 'storecheck[postgres]'", exc)
        try:
            server.run_database()
        except server.ServerUnavailable as exc:
            return _skip_unless_required(str(exc), exc)
        return None

    def new_location(self, spec: str, workdir: Path) -> str:
        from storecheck.reference_impl.postgres import server

        database = server.run_database()
        return server.location_conninfo(database.conninfo, database.new_schema(f"{self.name}_{spec}"))

    def open(self, spec: str, location: str, *, schema_version: int | None = None) -> Any:
        store_class = dict(self.stores or _stores().items()).get(spec)
        if store_class is None:
            raise LookupError(f"backend {self.name!r} does not implement spec {spec!r}")
        return store_class(location, schema_version=schema_version)

    def discard(self, location: str) -> None:
        from storecheck.reference_impl.postgres import server

        server.run_database().drop_schema(server.schema_of(location))


def _skip_unless_required(reason: str, cause: Exception) -> str:
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        raise RuntimeError(f"{REQUIRE_VARIABLE}=1 but {reason}") from cause
    return reason


POSTGRES_BACKEND = PostgresBackend()
