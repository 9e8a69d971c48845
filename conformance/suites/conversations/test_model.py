"""``model``: random operation sequences against the conversations model, and the rules
that a random walk reaches too rarely (search filters, leases, retries) checked directly."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from storecheck.conformance import reach
from storecheck.conformance.checks import every_page
from storecheck.conformance.specs import conversations as spec_module
from storecheck.conformance.specs.conversations import (
    SPEC,
    STORE_ASSIGNED_IDS,
    LearningQuery,
    NewJob,
    NewUpload,
    tokens,
)
from storecheck.conformance.stateful import ComparingMachine, after_changes, run_machine
from storecheck.fixtures.conversations import (
    MICRO,
    T0,
    confidences,
    few_times,
    jobs,
    learning_words,
    leases,
    metadata,
    roles,
    search_text,
    tags,
    texts,
    uploads,
)
from storecheck.fixtures.values import OFFSETS_MINUTES
from storecheck.reference_impl.memory.conversations import MemoryConversations

pytestmark = pytest.mark.model
IDS = st.sampled_from(("c1", "c2", "c3", "c4"))
WORKERS = st.sampled_from(("w1", "w2"))


def by_learning_id(hits: Any) -> Any:
    """Relevance order is the backend's own: compare the hits as a set, ordered by id."""
    return sorted(hits, key=lambda hit: hit.learning.id)


def without_scores(hits: Any) -> Any:
    return [hit.learning for hit in hits]


SITUATIONS = (
    *reach.derived(spec_module),
    reach.tie("list_messages", "timestamp"),
    reach.tie("list_conversations", "created_at", within=lambda page: page.items),
    reach.tie_across_pages("list_conversations", "created_at", items=lambda page: page.items),
    reach.sometimes("dequeue: a job due exactly at now", "dequeue",
                    lambda c: c.succeeded and c.result is not None
                    and c.result.run_after == c.arguments["now"]),
)
"""Beyond what the spec module tells (:func:`reach.derived`): ties in the message order and
in the conversations' keyset pages, within a page and across its boundary, and a job due on
the instant it is asked for."""


def build_machine(backend: Any, workdir: Path) -> type[ComparingMachine]:
    class ConversationsMachine(ComparingMachine):
        spec = SPEC
        assigned = STORE_ASSIGNED_IDS
        make_model = MemoryConversations

        def __init__(self) -> None:
            super().__init__()
            self.learnings: list[int] = []  # model ids
            self.jobs: list[int] = []
            self.uploads: list[int] = []

        def upload(self, data: st.DataObject) -> int:
            return data.draw(st.sampled_from([*self.uploads, 999]), label="upload (model id)")

        def learning(self, data: st.DataObject) -> int:
            return data.draw(st.sampled_from([*self.learnings, 999]), label="learning (model id)")

        def job(self, data: st.DataObject) -> int:
            return data.draw(st.sampled_from([*self.jobs, 999]), label="job (model id)")

        @initialize()
        def start(self) -> None:
            """Three conversations: two created at one instant, one 999 microseconds later."""
            for conversation_id, at in (("c1", T0 + 999 * MICRO), ("c2", T0), ("c3", T0)):
                self.both("create_conversation",
                          partial(_create, conversation_id=conversation_id, at=at))
            # Jobs and learnings from the start, so the queue and search rules have
            # something to work on in every example, not only after a lucky enqueue.
            for priority, run_after in ((1, None), (1, T0 + MICRO), (0, T0 + timedelta(seconds=2))):
                job = NewJob("start", payload=f'{{"p": {priority}}}', priority=priority,
                             run_after=run_after)
                self.jobs.append(self.both("enqueue", partial(_enqueue, job=job)).id)
            for content, labels in (("sqlite wal index", ("db",)), ("queue lease \u00e9t\u00e9", ())):
                self.learnings.append(self.both("create_learning", partial(
                    _create_learning, content=content, tags=labels)).id)
            self.do_each_other_write_once()

        def do_each_other_write_once(self) -> None:
            """Every write the start has not done, once, so that the rules doing each write
            again find one: on c4, created for the purpose, the deletions."""
            at = T0 + MICRO
            for content in ("hello", "again"):
                self.both("add_message", partial(_message, content=content, at=at))
            self.both("list_messages", lambda s, _: s.list_messages("c2"))
            self.both("update_conversation", lambda s, _: s.update_conversation(
                "c3", at, title="renamed"))
            # Soft-deleted twice: the second moves deleted_at; then restored.
            for when in (at, at + MICRO):
                self.both("soft_delete_conversation", partial(_soft_delete, at=when))
            self.both("restore_conversation",
                      lambda s, _: s.restore_conversation("c3", at + 2 * MICRO))
            self.both("list_conversations", lambda s, _: s.list_conversations(10))
            learning = self.learnings[-1]
            self.both("update_learning", lambda s, b: s.update_learning(
                self.backend_id("learning", learning, b), at, confidence=0.75))
            claimed = self.both("dequeue", lambda s, _: s.dequeue("w1", at, 10.0)).id
            self.both("complete_job", lambda s, b: s.complete_job(
                self.backend_id("job", claimed, b), "w1", at))
            failed = self.both("dequeue", lambda s, _: s.dequeue("w2", at, 10.0)).id
            self.both("fail_job", lambda s, b: s.fail_job(
                self.backend_id("job", failed, b), "w2", "boom", at))
            upload = self.both("create_upload", lambda s, _: s.create_upload(
                "c2", NewUpload("report.pdf", 10, "application/pdf", "0" * 64, "/u/1"), at))
            self.uploads.append(upload.id)
            self.both("delete_upload",
                      lambda s, b: s.delete_upload(self.backend_id("upload", upload.id, b)))
            gone = self.both("create_learning", partial(_create_learning, content="gone",
                                                        tags=()))
            self.both("delete_learning",
                      lambda s, b: s.delete_learning(self.backend_id("learning", gone.id, b)))
            self.both("create_conversation", partial(_create, conversation_id="c4", at=at))
            self.both("delete_conversation", lambda s, _: s.delete_conversation("c4"))
            self.both("create_conversation", partial(_create, conversation_id="c4", at=at))
            self.both("right_to_delete", lambda s, _: s.right_to_delete("c4"))
            self.both("purge_conversations", lambda s, _: s.purge_conversations(30, at))
            self.both("vacuum", lambda s, _: s.vacuum(), normalise=lambda report: None)

        @rule(conversation_id=IDS, title=texts, meta=metadata, at=few_times)
        def create_conversation(self, conversation_id: str, title: str, meta: Any, at: Any) -> None:
            self.both("create_conversation",
                      lambda s, _: s.create_conversation(conversation_id, title, meta, at))

        @rule(conversation_id=IDS)
        def get_conversation(self, conversation_id: str) -> None:
            self.both("get_conversation", lambda s, _: s.get_conversation(conversation_id))

        @rule(limit=st.integers(1, 3) | st.sampled_from((0, 1000, 1001)),
              offset=st.sampled_from(OFFSETS_MINUTES))
        def list_conversations(self, limit: int, offset: int) -> None:
            """Every page; each cursor handed back at another UTC offset (the same instant)."""
            def walk(s: Any, _: bool) -> Any:
                return every_page(partial(s.list_conversations, limit), offset_minutes=offset,
                                  limit=20)

            self.both("list_conversations", walk)

        @rule(conversation_id=IDS, title=st.none() | texts, meta=st.none() | metadata,
              at=few_times)
        def update_conversation(self, conversation_id: str, title: str | None, meta: Any,
                                at: Any) -> None:
            self.both("update_conversation", lambda s, _: s.update_conversation(
                conversation_id, at, title=title, metadata=meta))

        @rule(conversation_id=IDS, at=few_times, restore=st.booleans())
        def soft_delete_or_restore(self, conversation_id: str, at: Any, restore: bool) -> None:
            if restore:
                self.both("restore_conversation",
                          lambda s, _: s.restore_conversation(conversation_id, at))
            else:
                self.both("soft_delete_conversation",
                          lambda s, _: s.soft_delete_conversation(conversation_id, at))

        @rule(conversation_id=IDS)
        def delete_conversation(self, conversation_id: str) -> None:
            self.both("delete_conversation", lambda s, _: s.delete_conversation(conversation_id))

        @rule(conversation_id=IDS, role=roles, content=texts, at=few_times)
        def add_message(self, conversation_id: str, role: str, content: str, at: Any) -> None:
            self.both("add_message", lambda s, _: s.add_message(conversation_id, role, content, at))

        @rule(conversation_id=IDS)
        def list_messages(self, conversation_id: str) -> None:
            self.both("list_messages", lambda s, _: s.list_messages(conversation_id))

        @rule(conversation_id=IDS | st.just("nobody"))
        def count_messages(self, conversation_id: str) -> None:
            self.both("count_messages", lambda s, _: s.count_messages(conversation_id))

        @rule(content=learning_words, category=st.sampled_from(("tips", "bugs", "")), tags=tags,
              confidence=confidences, at=few_times, conversation_id=st.none() | IDS)
        def create_learning(self, content: str, category: str, tags: Any, confidence: float,
                            at: Any, conversation_id: str | None) -> None:
            created = self.both("create_learning", lambda s, _: s.create_learning(
                category, content, tags, confidence, at, conversation_id))
            if created is not None:
                self.learnings.append(created.id)

        @rule(data=st.data(), content=st.none() | learning_words, tags=st.none() | tags,
              confidence=st.none() | confidences, at=few_times,
              category=st.none() | st.sampled_from(("tips", "bugs", "", "Tips")))
        def update_learning(self, data: st.DataObject, content: str | None, tags: Any,
                            confidence: float | None, at: Any, category: str | None) -> None:
            chosen = self.learning(data)
            self.both("update_learning", lambda s, b: s.update_learning(
                self.backend_id("learning", chosen, b), at, content=content, category=category,
                tags=tags, confidence=confidence))

        @rule(data=st.data())
        def delete_learning(self, data: st.DataObject) -> None:
            chosen = self.learning(data)
            self.both("delete_learning",
                      lambda s, b: s.delete_learning(self.backend_id("learning", chosen, b)))

        @rule(text=st.none() | search_text, category=st.none() | st.sampled_from(("tips", "Tips")),
              tags=tags, min_confidence=st.none() | confidences,
              limit=st.sampled_from((1000, 1, 2, 0, 1001)))
        def search_learnings(self, text: str | None, category: str | None, tags: Any,
                             min_confidence: float | None, limit: int) -> None:
            """Without text the order is the spec's; with text it is the backend's relevance, so
            all hits are compared as a set, and a smaller page by its size."""
            query = LearningQuery(text, category, tags, min_confidence)
            ranked = bool(text and text.strip(" %_*!'"))
            if ranked and limit < 1000:
                self.both("search_learnings", lambda s, _: len(s.search_learnings(query, limit)))
                return
            self.both("search_learnings", lambda s, _: without_scores(
                (by_learning_id if ranked else list)(s.search_learnings(query, limit))))

        @rule(data=st.data())
        def search_what_a_learning_holds(self, data: st.DataObject) -> None:
            """A word prefix, the category and some tags of a learning the model holds: a
            search that finds it (and its neighbours), hits compared whole, tags included."""
            known = self.model.search_learnings(LearningQuery(), 1000)
            if not known:
                return
            learning = data.draw(st.sampled_from(known), label="learning searched for").learning
            words = tokens(learning.content)
            word = data.draw(st.sampled_from(words), label="word") if words else None
            prefix = None if word is None else word[:data.draw(
                st.integers(1, len(word)), label="prefix length")]
            query = LearningQuery(
                text=data.draw(st.sampled_from((prefix, prefix and prefix.upper())), label="text"),
                category=data.draw(st.sampled_from((None, learning.category)), label="category"),
                tags=data.draw(st.lists(st.sampled_from(learning.tags), max_size=2).map(tuple)
                               if learning.tags else st.just(()), label="tags"))
            ranked = bool(query.text and tokens(query.text))
            self.both("search_learnings", lambda s, _: without_scores(
                (by_learning_id if ranked else list)(s.search_learnings(query, 1000))))

        @rule(job=jobs, at=few_times)
        def enqueue(self, job: NewJob, at: Any) -> None:
            created = self.both("enqueue", lambda s, _: s.enqueue(job, at))
            if created is not None:
                self.jobs.append(created.id)

        @rule(data=st.data())
        def get_job(self, data: st.DataObject) -> None:
            chosen = self.job(data)
            self.both("get_job", partial(self.read_job, model_id=chosen))

        @rule(data=st.data())
        def get_learning(self, data: st.DataObject) -> None:
            chosen = self.learning(data)
            self.both("get_learning", partial(self.read_learning, model_id=chosen))

        @rule(worker=WORKERS, now=few_times, lease=leases)
        def dequeue(self, worker: str, now: Any, lease: float) -> None:
            self.both("dequeue", lambda s, _: s.dequeue(worker, now, lease))

        @rule(data=st.data(), worker=WORKERS, now=few_times, error=texts)
        def fail_job(self, data: st.DataObject, worker: str, now: Any, error: str) -> None:
            chosen = self.job(data)
            self.both("fail_job", lambda s, b: s.fail_job(
                self.backend_id("job", chosen, b), worker, error, now))

        @rule(data=st.data(), worker=WORKERS, now=few_times)
        def complete_job(self, data: st.DataObject, worker: str, now: Any) -> None:
            chosen = self.job(data)
            self.both("complete_job", lambda s, b: s.complete_job(
                self.backend_id("job", chosen, b), worker, now))

        @rule(conversation_id=IDS, upload=uploads, at=few_times)
        def create_upload(self, conversation_id: str, upload: Any, at: Any) -> None:
            created = self.both("create_upload",
                                lambda s, _: s.create_upload(conversation_id, upload, at))
            if created is not None:
                self.uploads.append(created.id)

        @rule(data=st.data())
        def delete_upload(self, data: st.DataObject) -> None:
            chosen = self.upload(data)
            self.both("delete_upload",
                      lambda s, b: s.delete_upload(self.backend_id("upload", chosen, b)))

        @rule(conversation_id=IDS)
        def right_to_delete(self, conversation_id: str) -> None:
            self.both("right_to_delete", lambda s, _: s.right_to_delete(conversation_id))

        @rule()
        def vacuum(self) -> None:
            """What vacuum reclaims is the backend's; what it keeps must read back the same."""
            self.both("vacuum", lambda s, _: s.vacuum(), normalise=lambda report: None)

        @rule(days=st.integers(0, 2) | st.just(-1), now=few_times)
        def purge(self, days: int, now: Any) -> None:
            self.both("purge_conversations",
                      lambda s, _: s.purge_conversations(days, now + timedelta(days=days)))

        @invariant()
        @after_changes
        def everything_reads_back_the_same(self) -> None:
            self.both("job_counts", lambda s, _: s.job_counts())
            self.both("list_conversations", _every_page_two_by_two)
            for conversation_id in ("c1", "c2", "c3", "c4"):
                self.both("read conversation", partial(_read, conversation_id=conversation_id))
            for learning in self.learnings:
                self.both("get_learning", partial(self.read_learning, model_id=learning))
            for job in self.jobs:
                self.both("get_job", partial(self.read_job, model_id=job))

        def read_learning(self, store: Any, backend_side: bool, model_id: int) -> Any:
            return store.get_learning(self.backend_id("learning", model_id, backend_side))

        def read_job(self, store: Any, backend_side: bool, model_id: int) -> Any:
            return store.get_job(self.backend_id("job", model_id, backend_side))

    ConversationsMachine.backend = backend
    ConversationsMachine.workdir = workdir
    return ConversationsMachine


def _message(store: Any, backend_side: bool, content: str, at: datetime) -> Any:
    return store.add_message("c2", "user", content, at)

def _soft_delete(store: Any, backend_side: bool, at: datetime) -> Any:
    return store.soft_delete_conversation("c3", at)

def _create(store: Any, backend_side: bool, conversation_id: str, at: datetime) -> Any:
    return store.create_conversation(conversation_id, f"title {conversation_id}",
                                     {"k": conversation_id}, at)


def _every_page_two_by_two(store: Any, backend_side: bool) -> Any:
    """All listed conversations, two per page, each cursor handed back at -05:00."""
    return every_page(partial(store.list_conversations, 2), offset_minutes=-300)


def _enqueue(store: Any, backend_side: bool, job: NewJob) -> Any:
    return store.enqueue(job, T0)


def _create_learning(store: Any, backend_side: bool, content: str, tags: tuple[str, ...]) -> Any:
    return store.create_learning("tips", content, tags, 0.5, T0)


def _read(store: Any, backend_side: bool, conversation_id: str) -> Any:
    return (store.get_conversation(conversation_id), store.list_messages(conversation_id),
            store.list_uploads(conversation_id))


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    run_machine(build_machine(backend.backend, tmp_path), store_profile)
