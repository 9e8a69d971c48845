"""Hermitage's anomaly tests, as data: setup, sessions, steps, and what shows the anomaly.

Each :class:`Case` is one test of Hermitage's PostgreSQL suite (the first example
of each anomaly), with Hermitage's table ``test (id, value)`` holding (1, 10) and
(2, 20) before every case.  ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` are steps like
any other, so one case runs at every isolation level an engine offers: only the
statement that begins a transaction differs.

Whether a run *exhibited* the anomaly is decided from what it observed, never
from timing: :attr:`Case.exhibited_if` lists alternatives, each a set of
observations that together are the anomaly (T2 read T1's aborted write; both
writers of a write skew read the old values and both committed).  A run that
shows none of them prevented it, and the orchestrator says how: a step blocked,
a transaction was aborted, or neither (a snapshot hid the other's writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

TABLE: Final = "hermitage_test"
"""Hermitage's ``test``, renamed so that it cannot meet a table of the store's own."""
SETUP: Final = (f"DROP TABLE IF EXISTS {TABLE}",
                f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, value INTEGER)",
                f"INSERT INTO {TABLE} (id, value) VALUES (1, 10), (2, 20)")
FINAL: Final = f"SELECT id, value FROM {TABLE} ORDER BY id"

BEGIN: Final = "BEGIN"
COMMIT: Final = "COMMIT"
ROLLBACK: Final = "ROLLBACK"

Row = tuple[int, int]


@dataclass(frozen=True)
class Step:
    session: int
    """1, 2 or 3: Hermitage's T1, T2, T3."""
    sql: str
    """A statement on :data:`TABLE`, or :data:`BEGIN` / :data:`COMMIT` / :data:`ROLLBACK`."""
    label: str = ""
    """A name for the rows this step returns, for :attr:`Case.exhibited_if`."""


@dataclass(frozen=True)
class Saw:
    """The step labelled ``label`` returned ``row`` (``None``: returned no row at all)."""

    label: str
    row: Row | None


@dataclass(frozen=True)
class Committed:
    """Session ``session``'s COMMIT succeeded."""

    session: int


@dataclass(frozen=True)
class Left:
    """The table holds ``row`` after every session has finished."""

    row: Row


Observation = Saw | Committed | Left


@dataclass(frozen=True)
class Case:
    name: str
    """Hermitage's column: G0, G1a, ..."""
    title: str
    steps: tuple[Step, ...]
    exhibited_if: tuple[tuple[Observation, ...], ...]
    """Alternatives; the anomaly happened when every observation of one of them did."""


def _t(session: int, sql: str, label: str = "") -> Step:
    return Step(session, sql.replace("test", TABLE), label)


def _begin(*sessions: int) -> tuple[Step, ...]:
    return tuple(Step(session, BEGIN) for session in sessions)


CASES: Final[tuple[Case, ...]] = (
    Case("G0", "write cycles (dirty writes)", (
        *_begin(1, 2),
        _t(1, "update test set value = 11 where id = 1"),
        _t(2, "update test set value = 12 where id = 1"),
        _t(1, "update test set value = 21 where id = 2"),
        Step(1, COMMIT),
        _t(1, "select id, value from test"),
        _t(2, "update test set value = 22 where id = 2"),
        Step(2, COMMIT),
    ), ((Left((1, 12)), Left((2, 21))), (Left((1, 11)), Left((2, 22))))),
    Case("G1a", "aborted reads (dirty reads, cascaded aborts)", (
        *_begin(1, 2),
        _t(1, "update test set value = 101 where id = 1"),
        _t(2, "select id, value from test", "T2 before abort"),
        Step(1, ROLLBACK),
        _t(2, "select id, value from test", "T2 after abort"),
        Step(2, COMMIT),
    ), ((Saw("T2 before abort", (1, 101)),), (Saw("T2 after abort", (1, 101)),))),
    Case("G1b", "intermediate reads (dirty reads)", (
        *_begin(1, 2),
        _t(1, "update test set value = 101 where id = 1"),
        _t(2, "select id, value from test", "T2 during"),
        _t(1, "update test set value = 11 where id = 1"),
        Step(1, COMMIT),
        _t(2, "select id, value from test", "T2 after"),
        Step(2, COMMIT),
    ), ((Saw("T2 during", (1, 101)),), (Saw("T2 after", (1, 101)),))),
    Case("G1c", "circular information flow (dirty reads)", (
        *_begin(1, 2),
        _t(1, "update test set value = 11 where id = 1"),
        _t(2, "update test set value = 22 where id = 2"),
        _t(1, "select id, value from test where id = 2", "T1 reads 2"),
        _t(2, "select id, value from test where id = 1", "T2 reads 1"),
        Step(1, COMMIT),
        Step(2, COMMIT),
    ), ((Saw("T1 reads 2", (2, 22)), Saw("T2 reads 1", (1, 11))),)),
    Case("OTV", "observed transaction vanishes", (
        *_begin(1, 2, 3),
        _t(1, "update test set value = 11 where id = 1"),
        _t(1, "update test set value = 19 where id = 2"),
        _t(2, "update test set value = 12 where id = 1"),
        Step(1, COMMIT),
        _t(3, "select id, value from test where id = 1", "T3 reads 1"),
        _t(2, "update test set value = 18 where id = 2"),
        _t(3, "select id, value from test where id = 2", "T3 reads 2"),
        Step(2, COMMIT),
        _t(3, "select id, value from test where id = 2", "T3 reads 2 again"),
        _t(3, "select id, value from test where id = 1", "T3 reads 1 again"),
        Step(3, COMMIT),
    ), ((Saw("T3 reads 2", (2, 18)), Saw("T3 reads 1 again", (1, 11))),
        (Saw("T3 reads 2 again", (2, 18)), Saw("T3 reads 1 again", (1, 11))))),
    Case("PMP", "predicate-many-preceders", (
        *_begin(1, 2),
        _t(1, "select id, value from test where value = 30", "T1 first"),
        _t(2, "insert into test (id, value) values (3, 30)"),
        Step(2, COMMIT),
        _t(1, "select id, value from test where value % 3 = 0", "T1 second"),
        Step(1, COMMIT),
    ), ((Saw("T1 first", None), Saw("T1 second", (3, 30))),)),
    Case("P4", "lost update", (
        *_begin(1, 2),
        _t(1, "select id, value from test where id = 1"),
        _t(2, "select id, value from test where id = 1", "T2 reads"),
        _t(1, "update test set value = 11 where id = 1"),
        _t(2, "update test set value = 11 where id = 1"),
        Step(1, COMMIT),
        Step(2, COMMIT),
    ), ((Saw("T2 reads", (1, 10)), Committed(1), Committed(2)),)),
    Case("G-single", "single anti-dependency cycles (read skew)", (
        *_begin(1, 2),
        _t(1, "select id, value from test where id = 1", "T1 reads 1"),
        _t(2, "select id, value from test where id = 1"),
        _t(2, "select id, value from test where id = 2"),
        _t(2, "update test set value = 12 where id = 1"),
        _t(2, "update test set value = 18 where id = 2"),
        Step(2, COMMIT),
        _t(1, "select id, value from test where id = 2", "T1 reads 2"),
        Step(1, COMMIT),
    ), ((Saw("T1 reads 1", (1, 10)), Saw("T1 reads 2", (2, 18))),)),
    Case("G2-item", "item anti-dependency cycles (write skew on disjoint read)", (
        *_begin(1, 2),
        _t(1, "select id, value from test where id in (1, 2)", "T1 reads"),
        _t(2, "select id, value from test where id in (1, 2)", "T2 reads"),
        _t(1, "update test set value = 11 where id = 1"),
        _t(2, "update test set value = 21 where id = 2"),
        Step(1, COMMIT),
        Step(2, COMMIT),
    ), ((Saw("T1 reads", (2, 20)), Saw("T2 reads", (1, 10)), Committed(1), Committed(2)),)),
    Case("G2", "anti-dependency cycles (write skew on predicate read)", (
        *_begin(1, 2),
        _t(1, "select id, value from test where value % 3 = 0", "T1 reads"),
        _t(2, "select id, value from test where value % 3 = 0", "T2 reads"),
        _t(1, "insert into test (id, value) values (3, 30)"),
        _t(2, "insert into test (id, value) values (4, 42)"),
        Step(1, COMMIT),
        Step(2, COMMIT),
    ), ((Saw("T1 reads", None), Saw("T2 reads", None), Committed(1), Committed(2)),)),
)
"""Hermitage's columns, in its order."""
