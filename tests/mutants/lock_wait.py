"""Writers that do not wait for the store's lock as the contract says (capability
``lock_wait``), on every spec's reference store."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from storecheck.reference_impl.engine.connection import Database, is_busy

from tests.mutants import on_database, sqlite_mutant_backends
from tests.mutants.nesting import STORES


class OneBusyTimeoutOnly(Database):
    """Relies on SQLite's busy timeout alone: the first attempt that times out is the
    caller's Busy, however far off the deadline is."""

    def _retry_busy(self, step: Any, first_attempt: float | None = None) -> Any:
        return step()


class RetriesPastTheDeadline(Database):
    """Retries while the file is locked and never looks at the deadline: a writer behind a
    lock that is never released hangs."""

    def _retry_busy(self, step: Any, first_attempt: float | None = None) -> Any:
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            time.sleep(0.01)


MUTANTS: dict[str, tuple[type[Any], str]] = {
    **{f"{spec}_one_busy_timeout_only": (
        on_database(store, OneBusyTimeoutOnly, __name__), "concurrency")
       for spec, store in STORES.items()},
    # The loop is the engine's, shared by every spec: one spec shows the deadline is checked
    # (each catch costs the check's whole slack, waiting for a writer that never gives up).
    "session_history_retries_past_the_deadline": (
        on_database(STORES["session_history"], RetriesPastTheDeadline, __name__), "concurrency"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
