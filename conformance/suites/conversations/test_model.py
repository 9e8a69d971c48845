"""``model``: random operation sequences against the conversations model, and the rules
that a random walk reaches too rarely (search filters, leases, retries) checked directly."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from storecheck.conformance.specs.conversations import (
    SPEC,
    STORE_ASSIGNED_IDS,
    LearningQuery,
    NewJob,
)
from storecheck.conformance.stateful import ComparingMachine, run_machine
from storecheck.fixtures.conversations import (
    T0,
    ConversationFactory,
    confidences,
    few_times,
    learning_words,
    roles,
    search_text,
    tags,
    texts,
)
from storecheck.reference_impl.memory.conversations import MemoryConversations

pytestmark = pytest.mark.model
IDS = st.sampled_from(("c1", "c2", "c3", "c4"))
WORKERS = st.sampled_from(("w1", "w2"))


def by_learning_id(hits: Any) -> Any:
    """Relevance order is the backend's own: compare the hits as a set, ordered by id."""
    return sorted(hits, key=lambda hit: hit.learning.id)


def without_scores(hits: Any) -> Any:
    return [hit.learning for hit in hits]


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

        def learning(self, data: st.DataObject) -> int:
            return data.draw(st.sampled_from([*self.learnings, 999]), label="learning (model id)")

        def job(self, data: st.DataObject) -> int:
            return data.draw(st.sampled_from([*self.jobs, 999]), label="job (model id)")

        @initialize()
        def start(self) -> None:
            for conversation_id in ("c1", "c2"):
                self.both("create_conversation", partial(_create, conversation_id=conversation_id))

        @rule(conversation_id=IDS, title=texts, at=few_times)
        def create_conversation(self, conversation_id: str, title: str, at: Any) -> None:
            self.both("create_conversation",
                      lambda s, _: s.create_conversation(conversation_id, title, {}, at))

        @rule(conversation_id=IDS)
        def get_conversation(self, conversation_id: str) -> None:
            self.both("get_conversation", lambda s, _: s.get_conversation(conversation_id))

        @rule(limit=st.integers(1, 3))
        def list_conversations(self, limit: int) -> None:
            def walk(s: Any, _: bool) -> Any:
                pages, after = [], None
                for _step in range(20):
                    page = s.list_conversations(limit, after)
                    pages.append(page)
                    if page.next_cursor is None:
                        return pages
                    after = page.next_cursor
                return pages

            self.both("list_conversations", walk)

        @rule(conversation_id=IDS, title=st.none() | texts, at=few_times)
        def update_conversation(self, conversation_id: str, title: str | None, at: Any) -> None:
            self.both("update_conversation",
                      lambda s, _: s.update_conversation(conversation_id, at, title=title))

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

        @rule(content=learning_words, category=st.sampled_from(("tips", "bugs", "")), tags=tags,
              confidence=confidences, at=few_times, conversation_id=st.none() | IDS)
        def create_learning(self, content: str, category: str, tags: Any, confidence: float,
                            at: Any, conversation_id: str | None) -> None:
            created = self.both("create_learning", lambda s, _: s.create_learning(
                category, content, tags, confidence, at, conversation_id))
            if created is not None:
                self.learnings.append(created.id)

        @rule(data=st.data(), content=st.none() | learning_words, tags=st.none() | tags,
              confidence=st.none() | confidences, at=few_times)
        def update_learning(self, data: st.DataObject, content: str | None, tags: Any,
                            confidence: float | None, at: Any) -> None:
            chosen = self.learning(data)
            self.both("update_learning", lambda s, b: s.update_learning(
                self.backend_id("learning", chosen, b), at, content=content, tags=tags,
                confidence=confidence))

        @rule(data=st.data())
        def delete_learning(self, data: st.DataObject) -> None:
            chosen = self.learning(data)
            self.both("delete_learning",
                      lambda s, b: s.delete_learning(self.backend_id("learning", chosen, b)))

        @rule(text=st.none() | search_text, category=st.none() | st.just("tips"), tags=tags,
              min_confidence=st.none() | confidences)
        def search_learnings(self, text: str | None, category: str | None, tags: Any,
                             min_confidence: float | None) -> None:
            query = LearningQuery(text, category, tags, min_confidence)
            self.both("search_learnings", lambda s, _: without_scores(
                (by_learning_id if text else list)(s.search_learnings(query, 1000))))

        @rule(job=st.builds(NewJob, type=st.sampled_from(("a", "b", "")),
                            priority=st.integers(0, 2), max_attempts=st.integers(1, 3),
                            run_after=st.none() | few_times), at=few_times)
        def enqueue(self, job: NewJob, at: Any) -> None:
            created = self.both("enqueue", lambda s, _: s.enqueue(job, at))
            if created is not None:
                self.jobs.append(created.id)

        @rule(worker=WORKERS, now=few_times, lease=st.sampled_from((1.0, 10.0)))
        def dequeue(self, worker: str, now: Any, lease: float) -> None:
            self.both("dequeue", lambda s, _: s.dequeue(worker, now, lease))

        @rule(data=st.data(), worker=WORKERS, now=few_times, fail=st.booleans())
        def finish_job(self, data: st.DataObject, worker: str, now: Any, fail: bool) -> None:
            chosen = self.job(data)
            if fail:
                self.both("fail_job", lambda s, b: s.fail_job(
                    self.backend_id("job", chosen, b), worker, "boom", now))
            else:
                self.both("complete_job", lambda s, b: s.complete_job(
                    self.backend_id("job", chosen, b), worker, now))

        @rule(conversation_id=IDS, size=st.integers(-1, 3))
        def create_upload(self, conversation_id: str, size: int) -> None:
            upload = ConversationFactory(seed=size + 2).upload(size_bytes=size)
            self.both("create_upload", lambda s, _: s.create_upload(conversation_id, upload, T0))

        @rule(days=st.integers(0, 2), now=few_times)
        def purge(self, days: int, now: Any) -> None:
            self.both("purge_conversations",
                      lambda s, _: s.purge_conversations(days, now + timedelta(days=days)))

        @invariant()
        def everything_reads_back_the_same(self) -> None:
            self.both("job_counts", lambda s, _: s.job_counts())
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


def _create(store: Any, backend_side: bool, conversation_id: str) -> Any:
    return store.create_conversation(conversation_id, f"title {conversation_id}",
                                     {"k": conversation_id}, T0)


def _read(store: Any, backend_side: bool, conversation_id: str) -> Any:
    return (store.get_conversation(conversation_id), store.list_messages(conversation_id),
            store.list_uploads(conversation_id))


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    run_machine(build_machine(backend.backend, tmp_path), store_profile)
