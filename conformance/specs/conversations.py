"""Spec ``conversations``: the conversation / job-queue store of seed 003.

Conversations own messages, uploads and learnings (learnings may also stand
alone); a job queue runs beside them.  Rules beyond the records' types:

* Time is always passed in (``at`` / ``now``), timezone-aware, returned in UTC
  with microseconds, so leases, backoff and retention are deterministic.
* Conversations list newest first (``created_at`` desc, then ``id`` desc) with a
  keyset cursor; soft-deleted ones are hidden from lists, still readable by
  ``get_conversation`` (with ``deleted_at`` set), refuse new messages and
  uploads with :class:`Conflict`, and come back with ``restore_conversation``.
* Messages list in ``timestamp`` order, ties in insertion order.
* Learnings search (:func:`matches`): text is split into tokens: maximal runs
  of ASCII letters, ASCII digits and non-ASCII characters (every other ASCII
  character separates); ASCII letters compare case-insensitively, others
  exactly; each query token must be a prefix of some token of the content.
  Filters: ``category`` equal, every given tag present,
  ``confidence >= min_confidence`` (inclusive).  A text without tokens counts
  as no text.  With text, hits are ordered
  by descending ``score`` (backend-defined relevance); without, by
  ``created_at`` desc then ``id`` desc.
* Job queue: ``dequeue`` claims, in one atomic step, the ready job with the
  highest priority (then earliest ``run_after``, then lowest id): ready means
  queued with ``run_after <= now``, or running with an expired lease
  (``lease_until <= now``).  Claiming sets ``running``, ``attempts + 1``, the
  worker and ``lease_until = now + lease``; an expired job that already used
  ``max_attempts`` goes ``dead`` instead.  ``fail`` retries after
  ``backoff_seconds(attempts)`` until ``max_attempts``, then ``dead``.  Only the
  worker holding the lease may complete or fail a job (else :class:`Conflict`).
  Claiming also dead-letters, in the same step, *every* running job whose
  lease expired with no attempt left (``last_error`` becomes the literal
  ``'lease expired'``).  A worker may still complete or fail its job after
  its lease expired, as long as no other worker has claimed it since.
  Completing, failing and dead-lettering clear ``worker`` and ``lease_until``;
  ``last_error`` keeps the newest error.  ``lease_seconds`` is in
  ``(0, 86400]`` and is not rounded: a lease of 0.5 s ends 0.5 s later.
* Retention: ``purge_conversations`` deletes conversations created before
  ``now - days`` with all their children in one transaction;
  ``right_to_delete`` removes every trace of one conversation.

Errors.  An operation addressing a record that does not exist raises
:class:`NotFound`; a new record whose parent conversation does not exist is
``ConstraintViolation(FOREIGN_KEY)``; a duplicate conversation id
``ConstraintViolation(UNIQUE)``; an empty id, category, learning content, job
type or upload file name, a message role outside :data:`ROLES`, a negative
upload size or a checksum that is not 64 lowercase hex digits
``ConstraintViolation(CHECK)`` (the seed's CHECK constraints; a message's
content may be empty, as a tool call's reply can be); a wrong type, a naive
timestamp, a confidence outside [0, 1], a negative retention, an invalid lease
or limit (1 to 1,000), a job's ``max_attempts`` below 1, an empty tag (the
seed's CHECK on tags is never reached), a payload that is not JSON or metadata
that is not a mapping of str to str: :class:`ValidationError`.  Writing under a soft-deleted conversation, and
finishing a job not leased to the caller: :class:`Conflict`.  When one call
breaks several rules the first applies in this order: ValidationError,
NotFound of the addressed record, Conflict, CHECK, UNIQUE, FOREIGN KEY.

Soft delete and restore set state rather than toggle it: soft-deleting a
soft-deleted conversation moves ``deleted_at`` and ``updated_at`` to ``at``;
restoring a live one leaves it live and moves ``updated_at``.  Restore,
soft delete and update move ``updated_at``; adding messages, uploads or
learnings does not touch the conversation.

Values.  Text (titles, metadata, content, payloads, errors) is stored and
returned verbatim: no trimming, case folding or Unicode normalisation; a
payload's JSON keeps its exact spelling (key order, whitespace, ``1.0``).
``metadata`` is any mapping of str to str, returned as a mapping with the same
items.  Store-assigned ids are integers that increase in creation order
(later records get larger ids), which is the tie-break of every order below.
A page's ``next_cursor`` is set exactly when more conversations follow it;
a cursor may be handed back at any UTC offset.

Threads.  One store object may be shared by any number of threads, each
operation called from any of them at once.  ``atomic()`` belongs to the
calling thread: other threads' operations are not part of the block, and a
rollback undoes only the block's own writes.  Conditional changes (finishing
a job, deleting, creating under a unique id, claiming) are atomic
check-then-act: of concurrent identical calls exactly one wins and the
others get the error they would get one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from storecheck.conformance.specs.common import ForeignKey, Operation, SpaceReport as SpaceReport
from storecheck.conformance.specs.text_search import matches as matches, tokens as tokens

SPEC: Final = "conversations"
SEED: Final = "003_02ef6b8e1ab6a024.txt"
ROLES: Final[tuple[str, ...]] = ("user", "assistant", "system", "tool")
JOB_STATUSES: Final[tuple[str, ...]] = ("queued", "running", "completed", "dead")
SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2, 3)
"""1: tables (seed line "migration 001: initial tables"), 2: indexes, 3: audit tables."""

FOREIGN_KEYS: Final[tuple[ForeignKey, ...]] = (
    ForeignKey("messages", "conversation_id", "conversations", "id", "CASCADE"),
    ForeignKey("learnings", "conversation_id", "conversations", "id", "CASCADE"),
    ForeignKey("learning_tags", "learning_id", "learnings", "id", "CASCADE"),
    ForeignKey("uploads", "conversation_id", "conversations", "id", "CASCADE"),
)

STORE_ASSIGNED_IDS: Final[dict[tuple[str, str], str]] = {
    ("Message", "id"): "message",
    ("Learning", "id"): "learning",
    ("Job", "id"): "job",
    ("Upload", "id"): "upload",
}
"""Fields whose values the store picks: compared up to a consistent renaming."""

def backoff_seconds(attempts: int) -> int:
    """Delay before a failed job is retried: 1, 2, 4, ... seconds after attempt 1, 2, 3."""
    return int(2 ** (attempts - 1))


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    metadata: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Message:
    id: int
    """Store-assigned."""
    conversation_id: str
    role: str
    content: str
    timestamp: datetime


@dataclass(frozen=True)
class Learning:
    id: int
    """Store-assigned."""
    conversation_id: str | None
    category: str
    content: str
    tags: tuple[str, ...]
    """A set: distinct, sorted by code point."""
    confidence: float
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LearningHit:
    learning: Learning
    score: float
    """Relevance, higher is better; 0.0 when searching without text."""


@dataclass(frozen=True)
class Job:
    id: int
    """Store-assigned."""
    type: str
    payload: str
    """JSON text, stored verbatim."""
    priority: int
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Upload:
    id: int
    """Store-assigned."""
    conversation_id: str
    file_name: str
    size_bytes: int
    mime_type: str
    checksum: str
    """SHA-256, 64 lowercase hex digits."""
    storage_path: str
    created_at: datetime


@dataclass(frozen=True)
class ConversationCursor:
    created_at: datetime
    id: str


@dataclass(frozen=True)
class ConversationPage:
    items: tuple[Conversation, ...]
    next_cursor: ConversationCursor | None


@dataclass(frozen=True)
class LearningQuery:
    text: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    min_confidence: float | None = None


@dataclass(frozen=True)
class NewUpload:
    file_name: str
    size_bytes: int
    mime_type: str
    checksum: str
    storage_path: str


@dataclass(frozen=True)
class NewJob:
    type: str
    payload: str = "{}"
    priority: int = 0
    run_after: datetime | None = None
    """Defaults to the enqueue time."""
    max_attempts: int = 3


class ConversationStore(Protocol):
    """What an implementation of ``conversations`` offers."""

    def create_conversation(self, conversation_id: str, title: str,
                            metadata: Mapping[str, str], at: datetime) -> Conversation: ...
    def get_conversation(self, conversation_id: str) -> Conversation: ...
    def list_conversations(self, limit: int,
                           after: ConversationCursor | None = None) -> ConversationPage: ...
    def update_conversation(self, conversation_id: str, at: datetime, title: str | None = None,
                            metadata: Mapping[str, str] | None = None) -> Conversation: ...
    def soft_delete_conversation(self, conversation_id: str, at: datetime) -> Conversation: ...
    def restore_conversation(self, conversation_id: str, at: datetime) -> Conversation: ...
    def delete_conversation(self, conversation_id: str) -> None:
        """Hard delete: the conversation and, by cascade, everything it owns."""

    def add_message(self, conversation_id: str, role: str, content: str,
                    at: datetime) -> Message: ...
    def list_messages(self, conversation_id: str) -> list[Message]: ...
    def count_messages(self, conversation_id: str) -> int:
        """How many messages :meth:`list_messages` returns (:class:`NotFound` likewise)."""

    def create_learning(self, category: str, content: str, tags: Sequence[str],
                        confidence: float, at: datetime,
                        conversation_id: str | None = None) -> Learning: ...
    def get_learning(self, learning_id: int) -> Learning: ...
    def update_learning(self, learning_id: int, at: datetime, content: str | None = None,
                        category: str | None = None, tags: Sequence[str] | None = None,
                        confidence: float | None = None) -> Learning: ...
    def delete_learning(self, learning_id: int) -> None: ...
    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]: ...

    def enqueue(self, job: NewJob, at: datetime) -> Job: ...
    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None: ...
    def complete_job(self, job_id: int, worker: str, now: datetime) -> Job: ...
    def fail_job(self, job_id: int, worker: str, error: str, now: datetime) -> Job: ...
    def get_job(self, job_id: int) -> Job: ...
    def job_counts(self) -> dict[str, int]:
        """Jobs per status; every status of JOB_STATUSES is a key."""

    def create_upload(self, conversation_id: str, upload: NewUpload, at: datetime) -> Upload: ...
    def list_uploads(self, conversation_id: str) -> list[Upload]: ...
    def delete_upload(self, upload_id: int) -> None: ...

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        """Hard-delete conversations created before ``now - older_than_days``; return how many."""

    def right_to_delete(self, conversation_id: str) -> None:
        """Remove every trace of the conversation, including search index and audit rows."""

    def vacuum(self) -> SpaceReport: ...
    def close(self) -> None: ...


OPERATIONS: Final[tuple[Operation, ...]] = tuple(
    Operation(name, summary, writes) for name, summary, writes in (
        ("create_conversation", "new conversation", True),
        ("get_conversation", "by id, soft-deleted included", False),
        ("list_conversations", "newest first, keyset pages, soft-deleted hidden", False),
        ("update_conversation", "title and metadata", True),
        ("soft_delete_conversation", "hide", True),
        ("restore_conversation", "unhide", True),
        ("delete_conversation", "hard delete with cascade", True),
        ("add_message", "append to a live conversation", True),
        ("list_messages", "timestamp then insertion order", False),
        ("count_messages", "messages of a conversation", False),
        ("create_learning", "new learning", True),
        ("get_learning", "by id", False),
        ("update_learning", "content, category, tags, confidence", True),
        ("delete_learning", "delete", True),
        ("search_learnings", "full-text with filters", False),
        ("enqueue", "new job", True),
        ("dequeue", "claim one job exclusively with a lease", True),
        ("complete_job", "finish a claimed job", True),
        ("fail_job", "retry with backoff or dead-letter", True),
        ("get_job", "by id", False),
        ("job_counts", "jobs per status", False),
        ("create_upload", "file record of a live conversation", True),
        ("list_uploads", "uploads of a conversation", False),
        ("delete_upload", "delete", True),
        ("purge_conversations", "retention", True),
        ("right_to_delete", "erase one conversation everywhere", True),
        ("vacuum", "reclaim space", True),
    )
)
