"""``conversations`` latency targets (seed 003) and the workloads that measure them.

Seed 003 sets them per table: "All operations < 100ms" (line 44), messages
"queries < 100ms" (line 53), "Search queries < 100ms" (line 63), "Queue
operations atomic and < 50ms" (line 72), on a "10k+ dataset" (line 94).

``SCALING`` bounds how much each read and write may cost more on 10,000
conversations than on 1,000.  ``job_counts`` and ``purge_conversations`` are
left out: counting every job and deleting every old conversation grow with
the data by nature.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from storecheck.conformance.latency import LatencyTarget
from storecheck.conformance.scaling import LARGE, Growth
from storecheck.conformance.specs.conversations import (
    ConversationCursor,
    LearningQuery,
    NewJob,
    NewUpload,
)
from storecheck.fixtures.conversations import T0, VOCABULARY
from storecheck.reference_impl.conversations import queries
from storecheck.reference_impl.conversations.learning_search import search_statement
from storecheck.reference_impl.engine.timestamps import to_text

DATASET: Final = LARGE
RARE: Final = 25
"""Learnings carrying RARE_WORD, RARE_CATEGORY and RARE_TAG, at every dataset size."""
RARE_WORD: Final = "quokka"
RARE_CATEGORY: Final = "scaling"
RARE_TAG: Final = "rare"
SEED_44: Final = "seed 003 line 44: conversation operations < 100ms"
SEED_53: Final = "seed 003 line 53: message queries < 100ms"
SEED_63: Final = "seed 003 line 63: search queries < 100ms"
SEED_72: Final = "seed 003 line 72: queue operations < 50ms"
SEED_94: Final = "seed 003 line 94: all queries < 100ms on a 10k+ dataset"
LIST_MULTIPLE: Final = 6.0
"""Fifty records built, their metadata decoded: more Python per row of SQL than elsewhere."""


LEASE_PRIORITY: Final = 100
"""Above every dataset job's, so each job enqueued for a lease is the one dequeued next."""
LEASED_TO: Final = ("complete", "fail", "complete floor", "fail floor")
"""The workers holding the jobs the load leases, one job per call of each: ``complete_job``
and ``fail_job`` need a job leased to their caller, and their floors one each too."""
SPARE_KINDS: Final = ("soft-deletable", "restorable", "deletable")
"""Conversations the load adds, one per call of each row that uses one up: a soft delete
needs a live one, a restore a soft-deleted one, a delete one that still exists."""
UPLOADED_EVERY: Final = 2
"""Every other conversation has two uploads."""


@dataclass
class Dataset:
    conversation_ids: list[str]
    learning_ids: list[int]
    job_ids: list[int]
    leased: dict[str, list[int]] = field(default_factory=dict)
    calls: int = 0
    """Calls of each workload at most: the spare conversations kept for each caller."""

    def spare(self, kind: str, i: int, *, floor: bool = False) -> str:
        """The ``i``-th of the load's spare conversations of ``kind`` for the store, or
        for its floor (which has its own)."""
        return f"{kind}-{i + self.calls if floor else i}"

    def conversation(self, i: int) -> str:
        return self.conversation_ids[(i * 7919) % len(self.conversation_ids)]

    def learning(self, i: int) -> int:
        return self.learning_ids[(i * 7919) % len(self.learning_ids)]

    def job(self, i: int) -> int:
        return self.job_ids[(i * 7919) % len(self.job_ids)]

    def uploaded(self, i: int) -> str:
        """A conversation with uploads."""
        with_uploads = len(self.conversation_ids) // UPLOADED_EVERY
        return self.conversation_ids[(i * 7919) % with_uploads * UPLOADED_EVERY]

    def middle(self) -> ConversationCursor:
        """The keyset position halfway down ``list_conversations``'s order."""
        n = len(self.conversation_ids) // 2
        return ConversationCursor(T0 + timedelta(seconds=n), self.conversation_ids[n])


def load(store: Any, transactional: bool, calls: int, size: int = DATASET) -> Dataset:
    """``size`` conversations with 3 messages and a learning each, and ``size`` queued jobs.

    The first RARE learnings also carry the rare word, category and tag, so a
    search for them has the same hits at every size.
    """
    data = Dataset([f"conv-{n:05d}" for n in range(size)], [], [], calls=calls)
    batch = 1000 if transactional else size
    for start in range(0, size, batch):
        def write(first: int = start) -> None:
            for n in range(first, min(first + batch, size)):
                at = T0 + timedelta(seconds=n)
                conversation_id = data.conversation_ids[n]
                store.create_conversation(conversation_id, f"conversation {n}", {"n": str(n)}, at)
                for m in range(3):
                    store.add_message(conversation_id, ("user", "assistant")[m % 2],
                                      f"message {m} of {n}", at)
                words = " ".join(VOCABULARY[(n + k) % len(VOCABULARY)] for k in range(4))
                rare = n < RARE
                learning = store.create_learning(
                    RARE_CATEGORY if rare else ("tips", "bugs")[n % 2],
                    f"{words} number {n}" + (f" {RARE_WORD}" if rare else ""),
                    ["t", RARE_TAG] if rare else ["t"], (n % 100) / 100, at, conversation_id)
                data.learning_ids.append(learning.id)
                data.job_ids.append(store.enqueue(NewJob("work", priority=n % 4), at).id)
                if n % UPLOADED_EVERY == 0:
                    for k in range(2):
                        store.create_upload(conversation_id, NewUpload(
                            f"file {k}.txt", 1024 * (k + 1), "text/plain", "ab" * 32,
                            f"/uploads/{n}/{k}"), at)
        if transactional:
            with store.atomic():
                write()
        else:
            write()
    def spares() -> None:
        for kind in SPARE_KINDS:
            for n in range(2 * calls):  # the store's, then the floor's
                conversation_id = data.spare(kind, n)
                store.create_conversation(conversation_id, kind, {}, T0)
                if kind == "restorable":
                    store.soft_delete_conversation(conversation_id, T0)

    if transactional:
        with store.atomic():
            spares()
    else:
        spares()
    for worker in LEASED_TO:
        def lease(holder: str = worker) -> None:
            data.leased[holder] = [_leased(store, holder) for _ in range(calls)]

        if transactional:
            with store.atomic():
                lease()
        else:
            lease()
    return data


def _leased(store: Any, worker: str) -> int:
    store.enqueue(NewJob("leased", priority=LEASE_PRIORITY), T0)
    job = store.dequeue(worker, NOW, LEASE_S)
    assert job is not None and job.worker == worker
    return int(job.id)


Workload = Callable[[Any, Dataset, int], Any]
Floor = Callable[[sqlite3.Connection, Dataset, int], Any]
NOW = T0 + timedelta(days=1)
LEASE_S: Final = 86_400.0
"""The longest lease the spec allows: the leased jobs stay leased through every call at NOW."""


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


def _add_message_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id = data.conversation(i)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.SELECT_DELETED_AT, (conversation_id,)).fetchone()
    conn.execute(queries.INSERT_MESSAGE, (conversation_id, "user", "floor", to_text(NOW))).fetchone()
    conn.execute("COMMIT")


def _text_query(i: int) -> LearningQuery:
    return LearningQuery(text=VOCABULARY[i % len(VOCABULARY)])


def _every_call(query: LearningQuery) -> Callable[[int], LearningQuery]:
    def query_for(i: int) -> LearningQuery:
        return query

    return query_for


_filters_query = _every_call(LearningQuery(category="tips", min_confidence=0.9))


def _search(query_for: Callable[[int], LearningQuery]) -> Workload:
    def search(store: Any, data: Dataset, i: int) -> Any:
        return store.search_learnings(query_for(i), 20)

    return search


def _search_floor(query_for: Callable[[int], LearningQuery]) -> Floor:
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        sql, params = search_statement(query_for(i), 20)
        conn.execute("BEGIN")
        found = conn.execute(sql, params).fetchall()
        if found:
            conn.execute(queries.tags_statement(len(found)), [row[0] for row in found]).fetchall()
        conn.execute("COMMIT")

    return floor


def _enqueue(store: Any, data: Dataset, i: int) -> Any:
    return store.enqueue(NewJob("bench", priority=i % 4), NOW)


def _enqueue_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    stamp = to_text(NOW)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.INSERT_JOB, ("bench", "{}", i % 4, 3, stamp, stamp, stamp)).fetchone()
    conn.execute("COMMIT")


def _dequeue(store: Any, data: Dataset, i: int) -> Any:
    return store.dequeue(f"w{i % 4}", NOW, 60)


def _dequeue_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    now = to_text(NOW)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.EXPIRE_EXHAUSTED, {"now": now})
    conn.execute(queries.CLAIM_NEXT, {"worker": f"floor{i}", "now": now,
                                      "until": to_text(NOW + timedelta(seconds=60))}).fetchone()
    conn.execute("COMMIT")


def _create(store: Any, data: Dataset, i: int) -> Any:
    return store.create_conversation(f"latency-{i}", "benchmark", {"k": "v"}, NOW)


def _create_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id, stamp = f"latency-floor-{i}", to_text(NOW)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.INSERT_CONVERSATION,
                 (conversation_id, "floor", '{"k": "v"}', stamp, stamp))
    conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
    conn.execute("COMMIT")


def _update(store: Any, data: Dataset, i: int) -> Any:
    return store.update_conversation(data.conversation(i), NOW, title=f"title {i}")


def _update_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id = data.conversation(i)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.UPDATE_CONVERSATION, (f"floor {i}", None, to_text(NOW), conversation_id))
    conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
    conn.execute("COMMIT")


def _soft_delete(store: Any, data: Dataset, i: int) -> Any:
    return store.soft_delete_conversation(data.spare("soft-deletable", i), NOW)


def _restore(store: Any, data: Dataset, i: int) -> Any:
    return store.restore_conversation(data.spare("restorable", i), NOW)


def _set_deleted_floor(kind: str, deleted: bool) -> Floor:
    """The spare conversation's deletion mark set or cleared, and the conversation read back."""
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        conversation_id, stamp = data.spare(kind, i, floor=True), to_text(NOW)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(queries.SET_DELETED, (stamp if deleted else None, stamp, conversation_id))
        conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
        conn.execute("COMMIT")

    return floor


def _delete(store: Any, data: Dataset, i: int) -> Any:
    return store.delete_conversation(data.spare("deletable", i))


def _delete_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(queries.DELETE_CONVERSATION, (data.spare("deletable", i, floor=True),))
    conn.execute("COMMIT")


def _count_messages_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id = data.conversation(i)
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
    conn.execute(queries.COUNT_MESSAGES, (conversation_id,)).fetchone()
    conn.execute("COMMIT")


def _get_job_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_JOB, (data.job(i),)).fetchone()
    conn.execute("COMMIT")


def _complete(store: Any, data: Dataset, i: int) -> Any:
    return store.complete_job(data.leased["complete"][i], "complete", NOW)


def _fail(store: Any, data: Dataset, i: int) -> Any:
    return store.fail_job(data.leased["fail"][i], "fail", "benchmark failure", NOW)


def _finish_floor(worker: str, status: str, error: str | None) -> Floor:
    """The job read, moved to ``status`` and read back in one write transaction."""
    def floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
        job_id, stamp = data.leased[worker][i], to_text(NOW)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(queries.SELECT_JOB, (job_id,)).fetchone()
        conn.execute(queries.FINISH_JOB, (status, stamp, error, stamp, job_id))
        conn.execute(queries.SELECT_JOB, (job_id,)).fetchone()
        conn.execute("COMMIT")

    return floor


def _job_counts(store: Any, data: Dataset, i: int) -> Any:
    return store.job_counts()


def _job_counts_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(queries.COUNT_JOBS).fetchall()
    conn.execute("COMMIT")


def _list_uploads(store: Any, data: Dataset, i: int) -> Any:
    return store.list_uploads(data.uploaded(i))


def _list_uploads_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conversation_id = data.uploaded(i)
    conn.execute("BEGIN")
    conn.execute(queries.SELECT_CONVERSATION, (conversation_id,)).fetchone()
    conn.execute(queries.SELECT_UPLOADS, (conversation_id,)).fetchall()
    conn.execute("COMMIT")


def _list_from_middle(store: Any, data: Dataset, i: int) -> Any:
    return store.list_conversations(10, data.middle())


def _count_messages(store: Any, data: Dataset, i: int) -> Any:
    return store.count_messages(data.conversation(i))


def _get_learning(store: Any, data: Dataset, i: int) -> Any:
    return store.get_learning(data.learning(i))


def _get_job(store: Any, data: Dataset, i: int) -> Any:
    return store.get_job(data.job(i))


KEYED = "a lookup by key through the primary key or an index: log n"
PAGE = ("a keyset page walks the (created_at, id) index from its start or its cursor for one "
        "row more than the page")
RARE_HITS = f"the hits are the same {RARE} learnings at every size, found through an index"
QUEUE = "the ready job is the first entry of an index on (status, priority, run_after, id)"
WRITE = "an insert updates each index at log n and checks its parent by key"

SCALING: Final[tuple[tuple[Growth, Workload], ...]] = (
    (Growth("get_conversation", 2.5, KEYED), _get),
    (Growth("list_conversations (first 50)", 2.5, PAGE), _list),
    (Growth("list_conversations (10 after the middle)", 2.5, PAGE), _list_from_middle),
    (Growth("list_messages", 2.5, "a conversation's 3 messages, through an index that keeps "
            "them in order"), _messages),
    (Growth("count_messages", 2.5, KEYED), _count_messages),
    (Growth("add_message", 2.5, WRITE), _add_message),
    (Growth("get_learning", 2.5, KEYED), _get_learning),
    (Growth("search_learnings (rare word)", 2.5, RARE_HITS),
     _search(_every_call(LearningQuery(text=RARE_WORD)))),
    (Growth("search_learnings (rare category)", 2.5, RARE_HITS),
     _search(_every_call(LearningQuery(category=RARE_CATEGORY)))),
    (Growth("search_learnings (rare tag)", 2.5, RARE_HITS),
     _search(_every_call(LearningQuery(tags=(RARE_TAG,))))),
    (Growth("enqueue", 2.5, WRITE), _enqueue),
    (Growth("dequeue", 2.5, QUEUE), _dequeue),
    (Growth("get_job", 2.5, KEYED), _get_job),
    (Growth("update_conversation", 2.5, KEYED), _update),
    (Growth("list_uploads", 2.5, "a conversation's 2 uploads, through the index on their "
            "conversation"), _list_uploads),
)

TARGETS: Final[tuple[tuple[LatencyTarget, Workload, Floor | None], ...]] = (
    (LatencyTarget("get_conversation", DATASET, 99, 100, SEED_44), _get, _get_floor),
    (LatencyTarget("list_conversations (first 50)", DATASET, 99, 100, SEED_44,
                   floor_multiple=LIST_MULTIPLE), _list, _list_floor),
    (LatencyTarget("list_messages", DATASET, 99, 100, SEED_53), _messages, _messages_floor),
    (LatencyTarget("add_message", DATASET, 99, 100, SEED_53), _add_message, _add_message_floor),
    (LatencyTarget("search_learnings (text)", DATASET, 99, 100, SEED_63),
     _search(_text_query), _search_floor(_text_query)),
    (LatencyTarget("search_learnings (category + confidence)", DATASET, 99, 100, SEED_63),
     _search(_filters_query), _search_floor(_filters_query)),
    (LatencyTarget("enqueue", DATASET, 99, 50, SEED_72), _enqueue, _enqueue_floor),
    (LatencyTarget("dequeue", DATASET, 99, 50, SEED_72), _dequeue, _dequeue_floor),
    (LatencyTarget("complete_job", DATASET, 99, 50, SEED_72), _complete,
     _finish_floor("complete floor", "completed", None)),
    (LatencyTarget("fail_job", DATASET, 99, 50, SEED_72), _fail,
     _finish_floor("fail floor", "queued", "floor failure")),
    (LatencyTarget("job_counts", DATASET, 99, 50, SEED_72), _job_counts, _job_counts_floor),
    (LatencyTarget("create_conversation", DATASET, 99, 100, SEED_44), _create, _create_floor),
    (LatencyTarget("update_conversation", DATASET, 99, 100, SEED_44), _update, _update_floor),
    (LatencyTarget("list_uploads", DATASET, 99, 100, SEED_44), _list_uploads,
     _list_uploads_floor),
    (LatencyTarget("soft_delete_conversation", DATASET, 99, 100, SEED_44), _soft_delete,
     _set_deleted_floor("soft-deletable", True)),
    (LatencyTarget("restore_conversation", DATASET, 99, 100, SEED_44), _restore,
     _set_deleted_floor("restorable", False)),
    (LatencyTarget("delete_conversation", DATASET, 99, 100, SEED_44), _delete, _delete_floor),
    (LatencyTarget("count_messages", DATASET, 99, 100, SEED_94), _count_messages,
     _count_messages_floor),
    (LatencyTarget("get_learning", DATASET, 99, 100, SEED_94), _get_learning, None),
    (LatencyTarget("get_job", DATASET, 99, 100, SEED_94), _get_job, _get_job_floor),
)
