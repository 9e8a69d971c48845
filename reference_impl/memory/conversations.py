"""The ``conversations`` model: plain dictionaries, each operation on a copy of the state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import conversations_inputs as inputs
from storecheck.conformance.specs.conversations import (
    JOB_STATUSES,
    ROLES,
    SPEC,
    Conversation,
    ConversationCursor,
    ConversationPage,
    Job,
    Learning,
    LearningHit,
    LearningQuery,
    Message,
    NewJob,
    NewUpload,
    SpaceReport,
    Upload,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore
from storecheck.reference_impl.memory.rules import Rules

T = TypeVar("T")
HEX = frozenset("0123456789abcdef")


RULES = Rules(SPEC)
_check = RULES.check


@dataclass
class State:
    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    learnings: dict[int, Learning] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    uploads: dict[int, Upload] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)

    def copy(self) -> State:
        return State(dict(self.conversations), dict(self.messages), dict(self.learnings),
                     dict(self.jobs), dict(self.uploads), dict(self.last_ids))

    def next_id(self, table: str) -> int:
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]

    def drop_conversation(self, conversation_id: str) -> None:
        del self.conversations[conversation_id]
        for table in (self.messages, self.learnings, self.uploads):
            for key in [k for k, v in table.items() if v.conversation_id == conversation_id]:
                del table[key]


def _missing_parent(operation: str, value: object) -> ConstraintViolation:
    return ConstraintViolation(SPEC, operation, ConstraintKind.FOREIGN_KEY, "conversation_id", value)


class MemoryConversations(MemoryStore[State]):
    """Implements :class:`~storecheck.conformance.specs.conversations.ConversationStore`."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- conversations ---------------------------------------------------------

    @staticmethod
    def _get(s: State, conversation_id: str, operation: str) -> Conversation:
        if conversation_id not in s.conversations:
            raise NotFound(SPEC, operation, "no such conversation", conversation_id)
        return s.conversations[conversation_id]

    def create_conversation(self, conversation_id: str, title: str, metadata: Mapping[str, str],
                            at: datetime) -> Conversation:
        v = inputs.check("create_conversation")
        v.text("conversation_id", conversation_id)
        v.text("title", title)
        meta = inputs.metadata("create_conversation", metadata)
        at = v.timestamp("at", at)

        def change(s: State) -> Conversation:
            _check("create_conversation", "id <> ''", conversation_id != "", conversation_id)
            if conversation_id in s.conversations:
                raise ConstraintViolation(SPEC, "create_conversation", ConstraintKind.UNIQUE,
                                          "conversations.id", conversation_id)
            s.conversations[conversation_id] = Conversation(conversation_id, title, meta, at, at)
            return s.conversations[conversation_id]

        return self._apply(change)

    def get_conversation(self, conversation_id: str) -> Conversation:
        inputs.check("get_conversation").text("conversation_id", conversation_id)
        return self._read(lambda s: self._get(s, conversation_id, "get_conversation"))

    def list_conversations(self, limit: int,
                           after: ConversationCursor | None = None) -> ConversationPage:
        v = inputs.check("list_conversations")
        limit = v.limit(limit)
        if after is not None:
            if not isinstance(after, ConversationCursor):
                raise v.fail("after must be a ConversationCursor", after)
            after = ConversationCursor(v.timestamp("after", after.created_at),
                                       v.text("after.id", after.id))

        def look(s: State) -> ConversationPage:
            live = sorted((c for c in s.conversations.values() if c.deleted_at is None
                           and (after is None or (c.created_at, c.id) < (after.created_at, after.id))),
                          key=lambda c: (c.created_at, c.id), reverse=True)
            items = tuple(live[:limit])
            more = len(live) > limit
            return ConversationPage(items, ConversationCursor(items[-1].created_at, items[-1].id)
                                    if more else None)

        return self._read(look)

    def update_conversation(self, conversation_id: str, at: datetime, title: str | None = None,
                            metadata: Mapping[str, str] | None = None) -> Conversation:
        v = inputs.check("update_conversation")
        v.text("conversation_id", conversation_id)
        v.optional_text("title", title)
        meta = None if metadata is None else inputs.metadata("update_conversation", metadata)
        at = v.timestamp("at", at)

        def change(s: State) -> Conversation:
            current = self._get(s, conversation_id, "update_conversation")
            s.conversations[conversation_id] = replace(
                current, title=current.title if title is None else title,
                metadata=current.metadata if meta is None else meta, updated_at=at)
            return s.conversations[conversation_id]

        return self._apply(change)

    def _set_deleted(self, conversation_id: str, deleted: bool, at: datetime,
                     operation: str) -> Conversation:
        v = inputs.check(operation)
        v.text("conversation_id", conversation_id)
        at = v.timestamp("at", at)

        def change(s: State) -> Conversation:
            current = self._get(s, conversation_id, operation)
            s.conversations[conversation_id] = replace(
                current, deleted_at=at if deleted else None, updated_at=at)
            return s.conversations[conversation_id]

        return self._apply(change)

    def soft_delete_conversation(self, conversation_id: str, at: datetime) -> Conversation:
        return self._set_deleted(conversation_id, True, at, "soft_delete_conversation")

    def restore_conversation(self, conversation_id: str, at: datetime) -> Conversation:
        return self._set_deleted(conversation_id, False, at, "restore_conversation")

    def delete_conversation(self, conversation_id: str) -> None:
        inputs.check("delete_conversation").text("conversation_id", conversation_id)

        def change(s: State) -> None:
            self._get(s, conversation_id, "delete_conversation")
            s.drop_conversation(conversation_id)

        self._apply(change)

    @staticmethod
    def _live_parent(s: State, conversation_id: str, operation: str) -> None:
        parent = s.conversations.get(conversation_id)
        if parent is not None and parent.deleted_at is not None:
            raise Conflict(SPEC, operation, "conversation is soft-deleted", conversation_id)

    # -- messages --------------------------------------------------------------

    def add_message(self, conversation_id: str, role: str, content: str, at: datetime) -> Message:
        v = inputs.check("add_message")
        v.text("conversation_id", conversation_id)
        v.text("role", role)
        v.text("content", content)
        at = v.timestamp("at", at)

        def change(s: State) -> Message:
            self._live_parent(s, conversation_id, "add_message")
            _check("add_message", "role IN (...)", role in ROLES, role)
            if conversation_id not in s.conversations:
                raise _missing_parent("add_message", conversation_id)
            message = Message(s.next_id("messages"), conversation_id, role, content, at)
            s.messages[message.id] = message
            return message

        return self._apply(change)

    def list_messages(self, conversation_id: str) -> list[Message]:
        inputs.check("list_messages").text("conversation_id", conversation_id)

        def look(s: State) -> list[Message]:
            self._get(s, conversation_id, "list_messages")
            return sorted((m for m in s.messages.values() if m.conversation_id == conversation_id),
                          key=lambda m: (m.timestamp, m.id))

        return self._read(look)

    def count_messages(self, conversation_id: str) -> int:
        return len(self.list_messages(conversation_id))

    # -- learnings ---------------------------------------------------------------

    def create_learning(self, category: str, content: str, tags: Sequence[str], confidence: float,
                        at: datetime, conversation_id: str | None = None) -> Learning:
        v = inputs.check("create_learning")
        v.text("category", category)
        v.text("content", content)
        v.optional_text("conversation_id", conversation_id)
        clean_tags = inputs.tags("create_learning", tags)
        score = inputs.confidence("create_learning", confidence)
        at = v.timestamp("at", at)

        def change(s: State) -> Learning:
            _check("create_learning", "category <> ''", category != "", category)
            _check("create_learning", "content <> ''", content != "", content)
            if conversation_id is not None and conversation_id not in s.conversations:
                raise _missing_parent("create_learning", conversation_id)
            learning = Learning(s.next_id("learnings"), conversation_id, category, content,
                                clean_tags, score, at, at)
            s.learnings[learning.id] = learning
            return learning

        return self._apply(change)

    @staticmethod
    def _learning(s: State, learning_id: int, operation: str) -> Learning:
        if learning_id not in s.learnings:
            raise NotFound(SPEC, operation, "no such learning", learning_id)
        return s.learnings[learning_id]

    def get_learning(self, learning_id: int) -> Learning:
        inputs.check("get_learning").integer("learning_id", learning_id)
        return self._read(lambda s: self._learning(s, learning_id, "get_learning"))

    def update_learning(self, learning_id: int, at: datetime, content: str | None = None,
                        category: str | None = None, tags: Sequence[str] | None = None,
                        confidence: float | None = None) -> Learning:
        v = inputs.check("update_learning")
        v.integer("learning_id", learning_id)
        v.optional_text("content", content)
        v.optional_text("category", category)
        clean_tags = None if tags is None else inputs.tags("update_learning", tags)
        score = None if confidence is None else inputs.confidence("update_learning", confidence)
        at = v.timestamp("at", at)

        def change(s: State) -> Learning:
            current = self._learning(s, learning_id, "update_learning")
            updated = replace(
                current, content=current.content if content is None else content,
                category=current.category if category is None else category,
                confidence=current.confidence if score is None else score,
                tags=current.tags if clean_tags is None else clean_tags, updated_at=at)
            _check("update_learning", "content <> ''", updated.content != "", content)
            _check("update_learning", "category <> ''", updated.category != "", category)
            s.learnings[learning_id] = updated
            return updated

        return self._apply(change)

    def delete_learning(self, learning_id: int) -> None:
        inputs.check("delete_learning").integer("learning_id", learning_id)

        def change(s: State) -> None:
            self._learning(s, learning_id, "delete_learning")
            del s.learnings[learning_id]

        self._apply(change)

    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        query, limit = inputs.learning_query(query, limit)
        text = query.text if query.text is not None and formulas.search_tokens(query.text) else None

        def keep(item: Learning) -> bool:
            return ((text is None or formulas.search_matches(text, item.content))
                    and (query.category is None or item.category == query.category)
                    and all(tag in item.tags for tag in query.tags)
                    and (query.min_confidence is None or item.confidence >= query.min_confidence))

        def look(s: State) -> list[LearningHit]:
            found = [x for x in s.learnings.values() if keep(x)]
            if text is None:
                found.sort(key=lambda x: (x.created_at, x.id), reverse=True)
            else:
                found.sort(key=lambda x: x.id)  # the model has no relevance: checks compare sets
            return [LearningHit(x, 0.0) for x in found[:limit]]

        return self._read(look)

    # -- job queue ---------------------------------------------------------------

    def enqueue(self, job: NewJob, at: datetime) -> Job:
        v = inputs.check("enqueue")
        job = inputs.new_job(job)
        at = v.timestamp("at", at)
        run_after = at if job.run_after is None else v.timestamp("run_after", job.run_after)

        def change(s: State) -> Job:
            _check("enqueue", "type <> ''", job.type != "", job.type)
            created = Job(s.next_id("jobs"), job.type, job.payload, job.priority, "queued", 0,
                          job.max_attempts, run_after, None, None, None, at)
            s.jobs[created.id] = created
            return created

        return self._apply(change)

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        now, lease_until = inputs.dequeue_arguments(worker, now, lease_seconds)

        def expired(job: Job) -> bool:
            return job.status == "running" and job.lease_until is not None and job.lease_until <= now

        def change(s: State) -> Job | None:
            for job in list(s.jobs.values()):
                if expired(job) and job.attempts >= job.max_attempts:
                    s.jobs[job.id] = replace(job, status="dead", last_error="lease expired",
                                             worker=None, lease_until=None)
            ready = [j for j in s.jobs.values()
                     if (j.status == "queued" and j.run_after <= now) or expired(j)]
            if not ready:
                return None
            chosen = min(ready, key=lambda j: (-j.priority, j.run_after, j.id))
            s.jobs[chosen.id] = replace(chosen, status="running", attempts=chosen.attempts + 1,
                                        worker=worker, lease_until=lease_until)
            return s.jobs[chosen.id]

        return self._apply(change)

    def _finish(self, job_id: int, worker: str, now: datetime, operation: str,
                error: str | None) -> Job:
        v = inputs.check(operation)
        v.integer("job_id", job_id)
        v.text("worker", worker)
        v.optional_text("error", error)
        now = v.timestamp("now", now)

        def change(s: State) -> Job:
            job = self._job(s, job_id, operation)
            if job.status != "running" or job.worker != worker:
                raise Conflict(SPEC, operation, f"job is {job.status} and not leased to {worker!r}",
                               job_id)
            if operation == "complete_job":
                status, run_after = "completed", job.run_after
            elif job.attempts < job.max_attempts:
                status = "queued"
                run_after = inputs.retry_time(operation, now, formulas.retry_backoff_seconds(job.attempts))
            else:
                status, run_after = "dead", job.run_after
            s.jobs[job_id] = replace(job, status=status, run_after=run_after, lease_until=None,
                                     worker=None,
                                     last_error=job.last_error if error is None else error)
            return s.jobs[job_id]

        return self._apply(change)

    def complete_job(self, job_id: int, worker: str, now: datetime) -> Job:
        return self._finish(job_id, worker, now, "complete_job", None)

    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job:
        inputs.check("fail_job").text("error", error)
        return self._finish(job_id, worker, now, "fail_job", error)

    @staticmethod
    def _job(s: State, job_id: int, operation: str) -> Job:
        if job_id not in s.jobs:
            raise NotFound(SPEC, operation, "no such job", job_id)
        return s.jobs[job_id]

    def get_job(self, job_id: int) -> Job:
        inputs.check("get_job").integer("job_id", job_id)
        return self._read(lambda s: self._job(s, job_id, "get_job"))

    def job_counts(self) -> dict[str, int]:
        def look(s: State) -> dict[str, int]:
            return {status: sum(1 for j in s.jobs.values() if j.status == status)
                    for status in JOB_STATUSES}

        return self._read(look)

    # -- uploads -----------------------------------------------------------------

    def create_upload(self, conversation_id: str, upload: NewUpload, at: datetime) -> Upload:
        v = inputs.check("create_upload")
        v.text("conversation_id", conversation_id)
        upload = inputs.new_upload(upload)
        at = v.timestamp("at", at)

        def change(s: State) -> Upload:
            self._live_parent(s, conversation_id, "create_upload")
            _check("create_upload", "file_name <> ''", upload.file_name != "", upload.file_name)
            _check("create_upload", "size_bytes >= 0", upload.size_bytes >= 0, upload.size_bytes)
            _check("create_upload", "checksum is 64 hex digits",
                   len(upload.checksum) == 64 and set(upload.checksum) <= HEX, upload.checksum)
            if conversation_id not in s.conversations:
                raise _missing_parent("create_upload", conversation_id)
            created = Upload(s.next_id("uploads"), conversation_id, upload.file_name,
                             upload.size_bytes, upload.mime_type, upload.checksum,
                             upload.storage_path, at)
            s.uploads[created.id] = created
            return created

        return self._apply(change)

    def list_uploads(self, conversation_id: str) -> list[Upload]:
        inputs.check("list_uploads").text("conversation_id", conversation_id)

        def look(s: State) -> list[Upload]:
            self._get(s, conversation_id, "list_uploads")
            return sorted((u for u in s.uploads.values() if u.conversation_id == conversation_id),
                          key=lambda u: u.id)

        return self._read(look)

    def delete_upload(self, upload_id: int) -> None:
        inputs.check("delete_upload").integer("upload_id", upload_id)

        def change(s: State) -> None:
            if upload_id not in s.uploads:
                raise NotFound(SPEC, "delete_upload", "no such upload", upload_id)
            del s.uploads[upload_id]

        self._apply(change)

    # -- retention ---------------------------------------------------------------

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        cutoff = inputs.purge_cutoff(older_than_days, now)

        def change(s: State) -> int:
            old = [c.id for c in s.conversations.values() if c.created_at < cutoff]
            for conversation_id in old:
                s.drop_conversation(conversation_id)
            return len(old)

        return self._apply(change)

    def right_to_delete(self, conversation_id: str) -> None:
        inputs.check("right_to_delete").text("conversation_id", conversation_id)

        def change(s: State) -> None:
            self._get(s, conversation_id, "right_to_delete")
            s.drop_conversation(conversation_id)

        self._apply(change)

    def vacuum(self) -> SpaceReport:
        """Nothing to reclaim: the model has no file."""
        return SpaceReport(0, 0)
