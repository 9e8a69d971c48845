"""Every secondary index of every reference schema, forgotten: one store per index.

Enumerated from the reference stores' migrations (every ``CREATE INDEX`` that is not
``UNIQUE``: a unique index is a rule, and its loss is the ``badinput`` and ``model`` checks'
to find), so an index added later has its mutant without anyone writing it.  Whether the
latency and scaling checks see a forgotten index is measured by
:mod:`tests.index_power_benchmark`, for the indexes a timed query uses.
"""

from __future__ import annotations

import re
from typing import Any

from storecheck.reference_impl.app_meta import SqliteAppMeta
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.engine.migrator import Migration
from storecheck.reference_impl.extraction import SqliteExtraction
from storecheck.reference_impl.session_history import SqliteSessionHistory
from storecheck.reference_impl.telemetry import SqliteTelemetry

from tests.mutants import edit_migration, sqlite_mutant_backends

REFERENCES: tuple[type[Any], ...] = (SqliteSessionHistory, SqliteConversations, SqliteExtraction,
                                     SqliteTelemetry, SqliteAppMeta)

_CREATE_INDEX = re.compile(r"CREATE\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+[^;]*;",
                           re.IGNORECASE)
_DROP_INDEX = re.compile(r"DROP\s+INDEX\s+(?:IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)


def secondary_indexes(migrations: tuple[Migration, ...]) -> list[tuple[str, int, str]]:
    """``(index name, migration version, its CREATE statement)`` for every non-unique index
    the migrations create on the way up and keep (one a later step drops is not there)."""
    dropped = {match.group(1) for migration in migrations
               for match in _DROP_INDEX.finditer(migration.up)}
    return [(match.group(1), migration.version, match.group(0))
            for migration in migrations for match in _CREATE_INDEX.finditer(migration.up)
            if match.group(1) not in dropped]


def _without(store: type[Any], version: int, statement: str, index: str) -> type[Any]:
    return type(f"Without_{index}", (store,), {
        "__doc__": f"The migrations never create {index}.",
        "migrations": edit_migration(store.migrations, version, "up", statement, ""),
    })


MUTANTS: dict[str, tuple[type[Any], str]] = {
    f"{store.spec}_without_{index}": (_without(store, version, statement, index), "latency")
    for store in REFERENCES
    for index, version, statement in secondary_indexes(store.migrations)
}
"""One store per forgotten index, named ``<spec>_without_<index>``."""

globals().update(sqlite_mutant_backends(MUTANTS, __name__))
