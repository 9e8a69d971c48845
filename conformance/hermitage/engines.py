"""What the orchestrator needs to know of each engine, by the store's ``sql_dialect``:
the isolation levels it offers (the statement that begins each), how to tell that a
session waits on a lock, and the table its behaviour is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

ANOMALIES: Final = ("G0", "G1a", "G1b", "G1c", "OTV", "PMP", "P4", "G-single", "G2-item", "G2")


def _row(level: str, exhibited: str) -> dict[tuple[str, str], bool]:
    """``level``'s cells: True (prevented) for every anomaly not named in ``exhibited``."""
    return {(anomaly, level): anomaly not in exhibited.split() for anomaly in ANOMALIES}


@dataclass(frozen=True)
class Engine:
    dialect: str
    levels: dict[str, str]
    """Level name -> the statement that begins a transaction at that level, in the order
    the table shows them (weakest first)."""
    reference: dict[tuple[str, str], bool]
    """(anomaly, level) -> prevented, as published for the engine."""
    source: str
    session_id_sql: str | None = None
    waiting_sql: str | None = None
    """One parameter, a session id: true while that session waits for a lock."""
    cancel_sql: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def session_id(self, connection: Any) -> Any:
        if self.session_id_sql is None:
            return None
        cursor = connection.cursor()
        cursor.execute(self.session_id_sql)
        return cursor.fetchone()[0]

    def is_waiting(self, monitor: Any, session_id: Any) -> bool:
        assert self.waiting_sql is not None
        cursor = monitor.cursor()
        cursor.execute(self.waiting_sql, (session_id,))
        row = cursor.fetchone()
        return bool(row and row[0])

    def interrupt(self, monitor: Any, connection: Any, session_id: Any) -> None:
        """Stop a session that never finished, so that its connection can be closed."""
        if self.cancel_sql is not None and monitor is not None:
            monitor.cursor().execute(self.cancel_sql, (session_id,))
        elif hasattr(connection, "interrupt"):
            connection.interrupt()


POSTGRES: Final = Engine(
    dialect="postgres",
    levels={"read uncommitted": "BEGIN ISOLATION LEVEL READ UNCOMMITTED",
            "read committed": "BEGIN ISOLATION LEVEL READ COMMITTED",
            "repeatable read": "BEGIN ISOLATION LEVEL REPEATABLE READ",
            "serializable": "BEGIN ISOLATION LEVEL SERIALIZABLE"},
    reference={**_row("read uncommitted", "PMP P4 G-single G2-item G2"),
               **_row("read committed", "PMP P4 G-single G2-item G2"),
               **_row("repeatable read", "G2-item G2"),
               **_row("serializable", "")},
    source="Hermitage's published PostgreSQL results (read committed, repeatable read, "
           "serializable); read uncommitted runs as read committed, as PostgreSQL documents",
    session_id_sql="SELECT pg_backend_pid()",
    waiting_sql="SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
    cancel_sql="SELECT pg_cancel_backend(%s)",
)

SQLITE: Final = Engine(
    dialect="sqlite",
    levels={"deferred": "BEGIN DEFERRED", "immediate": "BEGIN IMMEDIATE"},
    reference={**_row("deferred", ""), **_row("immediate", "")},
    source="measured by storecheck on SQLite in WAL mode with a busy timeout (README)",
)

ENGINES: Final = {engine.dialect: engine for engine in (POSTGRES, SQLITE)}
