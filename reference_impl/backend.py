"""The ``sqlite`` backend: the reference stores, one SQLite file per location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storecheck.conformance import capabilities as caps
from storecheck.conformance.backend import FileBackend
from storecheck.reference_impl.app_meta import SqliteAppMeta, SqliteAppMetaSplit
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.extraction import SqliteExtraction
from storecheck.reference_impl.session_history import SqliteSessionHistory
from storecheck.reference_impl.telemetry import SqliteTelemetry

REFERENCE_STORES: tuple[tuple[str, Any], ...] = (
    ("session_history", SqliteSessionHistory),
    ("conversations", SqliteConversations),
    ("extraction", SqliteExtraction),
    ("telemetry", SqliteTelemetry),
    ("app_meta", SqliteAppMeta),
)

SQLITE_CAPABILITIES = frozenset({
    caps.TRANSACTIONS,
    caps.MIGRATIONS,
    caps.MULTI_PROCESS,
    caps.CRASH_DURABLE,
    caps.SQL_INTROSPECTION,
    caps.FAULT_INJECTION,
    caps.LATENCY_TARGETS,
    caps.FILE_STORAGE,
    caps.FLOOR_BOUND,
    caps.STORAGE_LIMIT,
    caps.BACKUP_RESTORE,
})


@dataclass(frozen=True)
class SqliteBackend(FileBackend):
    """Opens a spec's store class on a file location.

    ``stores`` maps spec names to store classes taking
    ``(path, *, schema_version=...)``; a variant of the reference (a mutant in
    the project's tests, or a user's patched store) is a new mapping.
    """

    stores: tuple[tuple[str, Any], ...] = REFERENCE_STORES

    def open(self, spec: str, location: str, *, schema_version: int | None = None) -> Any:
        factory = dict(self.stores).get(spec)
        if factory is None:
            raise LookupError(f"backend {self.name!r} does not implement spec {spec!r}")
        return factory(location, schema_version=schema_version)


def sqlite_backend(
    name: str = "sqlite",
    stores: tuple[tuple[str, Any], ...] = REFERENCE_STORES,
    capabilities: frozenset[str] = SQLITE_CAPABILITIES,
) -> SqliteBackend:
    return SqliteBackend(
        name=name,
        specs=frozenset(spec for spec, _ in stores),
        capabilities=capabilities,
        stores=stores,
    )


SQLITE_BACKEND = sqlite_backend()

SQLITE_SPLIT_BACKEND = sqlite_backend("sqlite-split", (("app_meta", SqliteAppMetaSplit),))
"""Seed 001's production layout: the application's tables in one file, the event store in a
second written with ``synchronous=FULL`` (only ``app_meta`` has the two layouts)."""
