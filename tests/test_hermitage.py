"""The Hermitage orchestrator, verified against a result nobody here wrote: Hermitage's
published PostgreSQL table, cell by cell, on a real server; and SQLite's table, as the
README publishes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from storecheck.conformance.hermitage import ANOMALIES, CASES, ENGINES, measure
from storecheck.reference_impl.engine.connection import Database, plain_session

# Hermitage's README, "Summary of test results", the PostgreSQL rows as printed there
# (✓ = the level prevents the anomaly, — = it does not), columns in ANOMALIES' order.
HERMITAGE_POSTGRES = {
    "read committed":  "✓ ✓ ✓ ✓ ✓ — — — — —",
    "repeatable read": "✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓ — —",
    "serializable":    "✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓",
}
# Measured here (README, "Isolation"): every anomaly prevented at both levels, and how.
SQLITE_HOW = {
    "deferred": "blocked - - blocked blocked - aborted - aborted aborted",
    "immediate": "blocked " * 10,
}


def published(row: str) -> dict[str, str]:
    marks = row.split()
    assert len(marks) == len(ANOMALIES)
    return {anomaly: "prevented" if mark == "✓" else "exhibited"
            for anomaly, mark in zip(ANOMALIES, marks, strict=True)}


def test_cases_are_hermitage_columns_in_order() -> None:
    assert tuple(case.name for case in CASES) == ANOMALIES


def test_postgres_reference_is_hermitage_table() -> None:
    reference = ENGINES["postgres"].reference
    for level, row in HERMITAGE_POSTGRES.items():
        for anomaly, verdict in published(row).items():
            assert ("prevented" if reference[(anomaly, level)] else "exhibited") == verdict


@pytest.mark.usefixtures("postgres_available")
def test_postgres_measures_as_hermitage_published() -> None:
    from storecheck.reference_impl.postgres import server

    database = server.run_database()
    schema = database.new_schema("hermitage")
    conninfo = server.location_conninfo(database.conninfo, schema)
    try:
        cells = measure(ENGINES["postgres"], lambda: psycopg.connect(conninfo, autocommit=True))
    finally:
        database.drop_schema(schema)
    measured = {(cell.anomaly, cell.level): cell for cell in cells}
    for level, row in HERMITAGE_POSTGRES.items():
        for anomaly, verdict in published(row).items():
            cell = measured[(anomaly, level)]
            assert cell.verdict == verdict, (anomaly, level, cell)
    # Read uncommitted is read committed on PostgreSQL, cell for cell.
    for anomaly in ANOMALIES:
        assert (measured[(anomaly, "read uncommitted")].verdict
                == measured[(anomaly, "read committed")].verdict)
    # How: Hermitage's scripts say a lost update at repeatable read blocks, then aborts.
    assert measured[("P4", "repeatable read")].how == ("blocked", "aborted")
    assert measured[("G2", "serializable")].how == ("aborted",)


def test_sqlite_measures_as_the_readme_publishes(tmp_path: Path) -> None:
    path = str(tmp_path / "hermitage.db")
    database = Database(path)  # WAL, as every store's file
    database.connection()
    database.close()
    cells = measure(ENGINES["sqlite"], lambda: plain_session(path))
    by_level: dict[str, list[Any]] = {}
    for cell in cells:
        by_level.setdefault(cell.level, []).append(cell)
    for level, how in SQLITE_HOW.items():
        assert [cell.verdict for cell in by_level[level]] == ["prevented"] * len(ANOMALIES)
        assert [",".join(cell.how) or "-" for cell in by_level[level]] == how.split(), level
