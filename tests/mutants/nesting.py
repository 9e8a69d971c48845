"""Nested ``atomic()`` blocks that are no savepoints, on every spec's reference store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from storecheck.reference_impl.app_meta import SqliteAppMeta
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.extraction import SqliteExtraction
from storecheck.reference_impl.session_history import SqliteSessionHistory
from storecheck.reference_impl.telemetry import SqliteTelemetry

from tests.mutants import on_database, sqlite_mutant_backends
from tests.mutants.value_space_and_races import SharedBookkeepingDatabase

STORES: dict[str, type[Any]] = {"session_history": SqliteSessionHistory,
                                "conversations": SqliteConversations,
                                "extraction": SqliteExtraction,
                                "telemetry": SqliteTelemetry,
                                "app_meta": SqliteAppMeta}


class InnerBlocksJoinTheOuter:
    """An ``atomic()`` inside another just joins it, with no savepoint: an inner block
    that raises leaves its writes for the outer block to commit."""

    db: Any

    @contextmanager
    def atomic(self) -> Iterator[None]:
        if getattr(self.db._local, "depth", 0):
            yield
            return
        with super().atomic():  # type: ignore[misc]
            yield


class InnerBlocksCommitEarly:
    """An ``atomic()`` inside another commits what was written so far when it ends (a
    helper that calls ``commit()``), and begins again: the outer block's rollback cannot
    take back what its inner blocks wrote."""

    db: Any

    @contextmanager
    def atomic(self) -> Iterator[None]:
        if getattr(self.db._local, "depth", 0):
            yield
            conn = self.db.connection()
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            return
        with super().atomic():  # type: ignore[misc]
            yield


MUTANTS: dict[str, tuple[type[Any], str]] = {
    **{f"{spec}_{flaw.__name__.lower()}": (
        type(f"{flaw.__name__}{store.__name__}", (flaw, store), {}), "acid")
       for spec, store in STORES.items()
       for flaw in (InnerBlocksJoinTheOuter, InnerBlocksCommitEarly)},
    # The engine keeps the depth and the connections for every spec: two specs show that
    # the nesting checks see them shared by threads.
    **{f"{spec}_one_connection_for_all_threads": (
        on_database(STORES[spec], SharedBookkeepingDatabase, __name__), "acid")
       for spec in ("telemetry", "app_meta")},
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
