"""The ``sqlite`` backend: the reference stores, one SQLite file per location."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from storecheck.conformance import capabilities as caps
from storecheck.conformance.backend import FileBackend


@dataclass(frozen=True)
class StoreClass:
    """A reference store class named by its import path and imported when first used, so
    that a process serving one spec (``python -m storecheck.conformance.wire serve
    sqlite``, started once per opened store) loads only that spec's store."""

    path: str
    """``module:ClassName``"""

    def load(self) -> Any:
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, location: str, *, schema_version: int | None = None) -> Any:
        return self.load()(location, schema_version=schema_version)


REFERENCE_STORES: tuple[tuple[str, Any], ...] = (
    ("session_history", StoreClass("storecheck.reference_impl.session_history:SqliteSessionHistory")),
    ("conversations", StoreClass("storecheck.reference_impl.conversations:SqliteConversations")),
    ("extraction", StoreClass("storecheck.reference_impl.extraction:SqliteExtraction")),
    ("telemetry", StoreClass("storecheck.reference_impl.telemetry:SqliteTelemetry")),
    ("app_meta", StoreClass("storecheck.reference_impl.app_meta:SqliteAppMeta")),
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
    caps.IN_PROCESS,
    caps.LOCK_WAIT,
    caps.STATED_SETTINGS,
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

SQLITE_SPLIT_BACKEND = sqlite_backend(
    "sqlite-split", (("app_meta", StoreClass("storecheck.reference_impl.app_meta:SqliteAppMetaSplit")),))
"""Seed 001's production layout: the application's tables in one file, the event store in a
second written with ``synchronous=FULL`` (only ``app_meta`` has the two layouts)."""
