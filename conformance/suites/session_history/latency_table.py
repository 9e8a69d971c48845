"""``session_history`` latency targets and the workloads that measure them.

Seed 004 names no latency figure, so every target here is a project target
taken from seed 003's rule for the same kind of store ("All queries < 100ms
on 10k+ dataset", line 94); single-row writes are held to 50 ms, the bound
seed 003 sets for its write operations ("Queue operations atomic and
< 50ms", line 72).  Adding a target is one row in ``TARGETS`` (plus, for a
new operation, its workload).

Each workload may have a *floor*: the reference's own SQL for that operation,
transaction statements included, run on a bare ``sqlite3`` connection to the
same file; the ratio to it is what the reference's Python layers cost.

``SCALING`` bounds how much each operation may cost more on 10,000 sessions
than on 1,000.  Workspace operations are left out: the dataset's 20
workspaces do not grow with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

from storecheck.conformance.latency import PROJECT_TARGET, LatencyTarget
from storecheck.conformance.scaling import LARGE, Growth
from storecheck.conformance.specs.session_history import (
    Cursor,
    NewMessage,
    NewSession,
    SessionQuery,
    SessionUpdate,
)
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import PooledSessions
from storecheck.reference_impl.session_history import queries

DATASET: Final = LARGE
WORKSPACES: Final = 20
QUERY_RULE: Final = f"{PROJECT_TARGET}: seed 003 line 94, all queries < 100ms on 10k+ rows"
WRITE_RULE: Final = f"{PROJECT_TARGET}: seed 003 line 72, write operations < 50ms"
STAMP: Final = "2025-01-13T00:00:00.000000Z"


@dataclass
class Dataset:
    """What the workloads need to address the seeded rows, and inputs made in advance."""

    session_ids: list[str]
    workspace_ids: list[int]
    words: tuple[str, ...]
    new_sessions: list[NewSession]

    def session(self, i: int) -> str:
        return self.session_ids[(i * 7919) % len(self.session_ids)]

    def middle(self) -> Cursor:
        """The keyset position halfway down ``search_sessions``'s order."""
        n = len(self.session_ids) // 2
        return Cursor(T0 + timedelta(seconds=n), self.session_ids[n])


def load(store: Any, transactional: bool, calls: int, size: int = DATASET) -> Dataset:
    """``size`` sessions in 20 workspaces, 2 instances and 3 messages each; the same every run.

    ``calls`` is how many write calls a workload may make: their inputs are
    built here so that no measurement includes building them.
    """
    pool = PooledSessions(seed=2025)
    workspaces = [store.get_or_create_workspace(f"/bench/{n}", T0).id for n in range(WORKSPACES)]
    ids: list[str] = []
    batch = 500 if transactional else size

    def write(first: int) -> None:
        for n in range(first, min(first + batch, size)):
            new = pool.session(f"bench-{n:05d}", workspaces[n % WORKSPACES],
                               T0 + timedelta(seconds=n))
            ids.append(store.create_session(new).id)

    for start in range(0, size, batch):
        if transactional:
            with store.atomic():
                write(start)
        else:
            write(start)
    fresh = [pool.session(f"bench-new-{n:05d}", workspaces[n % WORKSPACES],
                          T0 + timedelta(seconds=size + n), messages=2) for n in range(calls)]
    return Dataset(ids, workspaces, ("the", "data", "report", "zebra"), fresh)


Workload = Callable[[Any, Dataset, int], Any]
Floor = Callable[[sqlite3.Connection, Dataset, int], Any]


def _read_session(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute(queries.SELECT_SESSION, (session_id,)).fetchone()
    conn.execute(queries.SELECT_RUNTIME_MIX, (session_id,)).fetchall()


def _get_session(store: Any, data: Dataset, i: int) -> Any:
    return store.get_session(data.session(i))


def _get_session_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    _read_session(conn, data.session(i))
    conn.execute("COMMIT")


def _filtered_query(data: Dataset, i: int) -> SessionQuery:
    return SessionQuery(workspace_id=data.workspace_ids[i % WORKSPACES], status="running")


def _search_filtered(store: Any, data: Dataset, i: int) -> Any:
    return store.search_sessions(_filtered_query(data, i), 50)


def _text_query(data: Dataset, i: int) -> SessionQuery:
    return SessionQuery(text=data.words[i % len(data.words)])


def _search_text(store: Any, data: Dataset, i: int) -> Any:
    return store.search_sessions(_text_query(data, i), 50)


def _search_floor(query_for: Callable[[Dataset, int], SessionQuery]) -> Floor:
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        query = query_for(data, i)
        params = {"workspace_id": query.workspace_id, "status": query.status,
                  "text": query.text, "row_limit": 51}
        conn.execute("BEGIN")
        page = conn.execute(queries.search_statement(params), params).fetchall()[:50]
        if page:
            conn.execute(queries.runtime_mixes_statement(len(page)), [row[0] for row in page]).fetchall()
        conn.execute("COMMIT")

    return floor


def _list_messages(store: Any, data: Dataset, i: int) -> Any:
    return store.list_messages(data.session(i))


def _list_messages_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    session_id = data.session(i)
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_STATUS, (session_id,)).fetchone()
    conn.execute(queries.SELECT_MESSAGES, (session_id,)).fetchall()
    conn.execute("COMMIT")


def _summary(store: Any, data: Dataset, i: int) -> Any:
    return store.session_summary(data.session(i))


def _summary_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    session_id = data.session(i)
    conn.execute("BEGIN")
    _read_session(conn, session_id)
    conn.execute(queries.SELECT_SUMMARY_COUNTS, (session_id,)).fetchone()
    conn.execute("COMMIT")


def _append_message(store: Any, data: Dataset, i: int) -> Any:
    return store.append_message(data.session(i), NewMessage(f"bench-msg-{i}", "user", "hi", T0))


def _append_message_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.INSERT_MESSAGE, (f"floor-msg-{i}", data.session(i), "user", "hi", STAMP,
                                          None))
    conn.execute("COMMIT")


def _record_stats(store: Any, data: Dataset, i: int) -> Any:
    return store.record_instance_stats(data.session(i), 1, 2, 3)


def _record_stats_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    session_id = data.session(i)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.ADD_STATS, (1, 2, 3, session_id, 1, 2, 3))
    _read_session(conn, session_id)
    conn.execute("COMMIT")


def _create_session(store: Any, data: Dataset, i: int) -> Any:
    return store.create_session(data.new_sessions[i])


def _page_of(query_for: Callable[[Dataset, int], SessionQuery]) -> Workload:
    """Ten hits, a page the small dataset fills for every query below."""
    def search(store: Any, data: Dataset, i: int) -> Any:
        return store.search_sessions(query_for(data, i), 10)

    return search


def _frequent_word(data: Dataset, i: int) -> SessionQuery:
    return SessionQuery(text="the")


def _from_middle(store: Any, data: Dataset, i: int) -> Any:
    return store.search_sessions(SessionQuery(), 10, data.middle())


def _list_instances(store: Any, data: Dataset, i: int) -> Any:
    return store.list_instances(data.session(i))


def _update_task(store: Any, data: Dataset, i: int) -> Any:
    return store.update_session(data.session(i), SessionUpdate(T0, task=f"scaled {i}"))


def _append_scaled(store: Any, data: Dataset, i: int) -> Any:
    return store.append_message(data.session(i), NewMessage(f"scale-msg-{i}", "user", "hi", T0))


def _create_scaled(store: Any, data: Dataset, i: int) -> Any:
    return store.create_session(replace(data.new_sessions[i], id=f"scale-{i}", messages=()))


KEYED = "a lookup by key through the primary key or an index: log n"
WRITE = "a write by key updates each index at log n"
IN_ORDER = ("the (created_at, id) index yields sessions in the page's order, and a filter "
            "that holds for a fixed share of them stops the walk after the same number of rows")

SCALING: Final[tuple[tuple[Growth, Workload], ...]] = (
    (Growth("get_session", 2.5, KEYED), _get_session),
    (Growth("search_sessions (workspace + status)", 2.5, IN_ORDER), _page_of(_filtered_query)),
    (Growth("search_sessions (text in a third of the tasks)", 2.5, IN_ORDER),
     _page_of(_frequent_word)),
    (Growth("search_sessions (10 after the middle)", 2.5,
            "a keyset cursor seeks into the (created_at, id) index"), _from_middle),
    (Growth("list_instances", 2.5, KEYED), _list_instances),
    (Growth("list_messages", 2.5, KEYED), _list_messages),
    (Growth("session_summary", 2.5, KEYED), _summary),
    (Growth("update_session", 2.5, WRITE), _update_task),
    (Growth("append_message", 2.5, WRITE), _append_scaled),
    (Growth("record_instance_stats", 2.5, WRITE), _record_stats),
    (Growth("create_session", 2.5, WRITE), _create_scaled),
)

TARGETS: Final[tuple[tuple[LatencyTarget, Workload, Floor | None], ...]] = (
    (LatencyTarget("get_session", DATASET, 99, 100, QUERY_RULE), _get_session, _get_session_floor),
    (LatencyTarget("search_sessions (workspace + status)", DATASET, 99, 100, QUERY_RULE),
     _search_filtered, _search_floor(_filtered_query)),
    (LatencyTarget("search_sessions (text)", DATASET, 99, 100, QUERY_RULE),
     _search_text, _search_floor(_text_query)),
    (LatencyTarget("list_messages", DATASET, 99, 100, QUERY_RULE),
     _list_messages, _list_messages_floor),
    (LatencyTarget("session_summary", DATASET, 99, 100, QUERY_RULE), _summary, _summary_floor),
    (LatencyTarget("append_message", DATASET, 99, 50, WRITE_RULE),
     _append_message, _append_message_floor),
    (LatencyTarget("record_instance_stats", DATASET, 99, 50, WRITE_RULE),
     _record_stats, _record_stats_floor),
    (LatencyTarget("create_session (2 instances, 2 messages)", DATASET, 99, 50, WRITE_RULE),
     _create_session, None),
)
