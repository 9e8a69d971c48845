"""``conversations`` latency targets (seed 003) and the workloads that measure them.

Seed 003 sets them per table: "All operations < 100ms" (line 44), messages
"queries < 100ms" (line 53), "Search queries < 100ms" (line 63), "Queue
operations atomic and < 50ms" (line 72), on a "10k+ dataset" (line 94).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from storecheck.conformance.latency import LatencyTarget
from storecheck.conformance.specs.conversations import LearningQuery, NewJob
from storecheck.fixtures.conversations import T0, VOCABULARY
from storecheck.reference_impl.conversations import queries
from storecheck.reference_impl.engine.timestamps import to_text

DATASET: Final = 10_000
SEED_44: Final = "seed 003 line 44: conversation operations < 100ms"
SEED_53: Final = "seed 003 line 53: message queries < 100ms"
SEED_63: Final = "seed 003 line 63: search queries < 100ms"
SEED_72: Final = "seed 003 line 72: queue operations < 50ms"


@dataclass
class Dataset:
    conversation_ids: list[str]

    def conversation(self, i: int) -> str:
        return self.conversation_ids[(i * 7919) % len(self.conversation_ids)]


def load(store: Any, transactional: bool, calls: int) -> Dataset:
    """10,000 conversations with 3 messages and a learning each, and 10,000 queued jobs."""
    ids = [f"conv-{n:05d}" for n in range(DATASET)]
    batch = 1000 if transactional else DATASET
    for start in range(0, DATASET, batch):
        def write(first: int = start) -> None:
            for n in range(first, min(first + batch, DATASET)):
                at = T0 + timedelta(seconds=n)
                store.create_conversation(ids[n], f"conversation {n}", {"n": str(n)}, at)
                for m in range(3):
                    store.add_message(ids[n], ("user", "assistant")[m % 2], f"message {m} of {n}", at)
                words = " ".join(VOCABULARY[(n + k) % len(VOCABULARY)] for k in range(4))
                store.create_learning(("tips", "bugs")[n % 2], f"{words} number {n}", ["t"],
                                      (n % 100) / 100, at, ids[n])
                store.enqueue(NewJob("work", priority=n % 4), at)
        if transactional:
            with store.atomic():
                write()
        else:
            write()
    return Dataset(ids)


Workload = Callable[[Any, Dataset, int], Any]
Floor = Callable[[sqlite3.Connection, Dataset, int], Any]
NOW = T0 + timedelta(days=1)


def _get(store: Any, data: Dataset, i: int) -> Any:
    return store.get_conversation(data.conversation(i))


def _get_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_CONVERSATION, (data.conversation(i),)).fetchone()
    conn.execute("COMMIT")


def _list(store: Any, data: Dataset, i: int) -> Any:
    return store.list_conversations(50)


def _list_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(queries.LIST_CONVERSATIONS, (51,)).fetchall()
    conn.execute("COMMIT")


def _messages(store: Any, data: Dataset, i: int) -> Any:
    return store.list_messages(data.conversation(i))


def _messages_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id = data.conversation(i)
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
    conn.execute(queries.SELECT_MESSAGES, (conversation_id,)).fetchall()
    conn.execute("COMMIT")


def _add_message(store: Any, data: Dataset, i: int) -> Any:
    return store.add_message(data.conversation(i), "user", "benchmark", NOW)


def _search_text(store: Any, data: Dataset, i: int) -> Any:
    return store.search_learnings(LearningQuery(text=VOCABULARY[i % len(VOCABULARY)]), 20)


def _search_filters(store: Any, data: Dataset, i: int) -> Any:
    return store.search_learnings(LearningQuery(category="tips", min_confidence=0.9), 20)


def _enqueue(store: Any, data: Dataset, i: int) -> Any:
    return store.enqueue(NewJob("bench", priority=i % 4), NOW)


def _dequeue(store: Any, data: Dataset, i: int) -> Any:
    return store.dequeue(f"w{i % 4}", NOW, 60)


def _dequeue_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    now = to_text(NOW)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.EXPIRE_EXHAUSTED, {"now": now})
    conn.execute(queries.CLAIM_NEXT, {"worker": f"floor{i}", "now": now,
                                      "until": to_text(NOW + timedelta(seconds=60))}).fetchone()
    conn.execute("COMMIT")


TARGETS: Final[tuple[tuple[LatencyTarget, Workload, Floor | None], ...]] = (
    (LatencyTarget("get_conversation", DATASET, 99, 100, SEED_44), _get, _get_floor),
    (LatencyTarget("list_conversations (first 50)", DATASET, 99, 100, SEED_44), _list, _list_floor),
    (LatencyTarget("list_messages", DATASET, 99, 100, SEED_53), _messages, _messages_floor),
    (LatencyTarget("add_message", DATASET, 99, 100, SEED_53), _add_message, None),
    (LatencyTarget("search_learnings (text)", DATASET, 99, 100, SEED_63), _search_text, None),
    (LatencyTarget("search_learnings (category + confidence)", DATASET, 99, 100, SEED_63),
     _search_filters, None),
    (LatencyTarget("enqueue", DATASET, 99, 50, SEED_72), _enqueue, None),
    (LatencyTarget("dequeue", DATASET, 99, 50, SEED_72), _dequeue, _dequeue_floor),
)
