"""Spec ``session_history``: the session history store of seed 004.

Workspaces own sessions (competition / ensemble / debate runs of several
agent instances); sessions own their runtime mix, instances and chat
messages; deleting a parent cascades.  The seed's schema is the one in
``reference_impl/session_history/migrations/0001_initial_schema.up.sql``;
this module is the contract that schema serves.

Rules a backend must meet, beyond the records' types:

* Timestamps are timezone-aware and returned in UTC with microsecond
  precision; naive datetimes are a :class:`ValidationError`.
* The seed's CHECK constraints (session type, session status, message role,
  non-empty ids, task, content and workspace path, ``instance_id >= 0``) are
  refused with ``ConstraintViolation(kind=CHECK)``; duplicates with
  ``kind=UNIQUE``; a missing parent with ``kind=FOREIGN_KEY``.
* Operations addressing a record that does not exist raise :class:`NotFound`;
  a new record whose *parent* is missing is ``ConstraintViolation(FOREIGN_KEY)``.
* When one call breaks several rules, the error is the first in this order:
  :class:`ValidationError` (types and value rules, before anything is read),
  :class:`NotFound` of the record the call addresses, then the schema's
  rules statement by statement (the session row before its runtime mix,
  instances and messages; within a row CHECK, then UNIQUE, then FOREIGN KEY),
  then :class:`Conflict`.  So ``create_session`` with a duplicate id *and* a
  missing workspace is UNIQUE; ``update_session`` of an unknown session with
  an invalid status is NotFound.
* Every operation is atomic; ``create_session`` writes the session, its
  runtime mix, instances and first messages all or nothing.
* Text is stored and compared verbatim, including NUL and any Unicode code
  point: no trimming, no case folding, no Unicode normalisation (``café``
  spelled with a combining accent is another path, task or id).  Where text
  orders results (ties on ``id``), the order is by code point.
* ``search_sessions`` returns sessions newest first (``created_at`` desc,
  then ``id`` desc) and pages with a keyset cursor; ``text`` matches a
  case-sensitive substring of ``task`` (``%``, ``_`` and ``*`` are ordinary
  characters).  A cursor may be handed back at any UTC offset.
* Messages list in ``timestamp`` order, ties in the order they were appended.
* ``update_session`` keeps children's identity: an instance's ``row_id``
  never changes while the instance exists.
* Store-assigned ids (``Workspace.id``, ``Instance.row_id``) are integers the
  store picks; any value is allowed (0 and negative too), they never change
  and never name two records.
* Threads: one store object may be shared by any number of threads, each
  operation called from any of them at once.  ``atomic()`` belongs to the
  calling thread: other threads' operations are not part of the block, and
  a rollback undoes only the block's own writes.
* Operations that change state conditionally (``complete_session``,
  ``delete_*``, create under a unique id, ``get_or_create_workspace``,
  ``import_legacy``) are atomic check-then-act: of concurrent identical calls
  exactly one wins and the others get the error they would get one after
  the other (Conflict, NotFound, UNIQUE); concurrent imports of one document
  import each session once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from storecheck.conformance.specs.common import ForeignKey, Operation, Validator

SPEC: Final = "session_history"
SEED: Final = "004_83ba7b1273be1c41.txt"

SessionType = Literal["competition", "ensemble", "debate"]
SessionStatus = Literal["running", "completed", "failed", "paused"]
Role = Literal["user", "assistant", "system"]
SESSION_TYPES: Final[tuple[str, ...]] = ("competition", "ensemble", "debate")
SESSION_STATUSES: Final[tuple[str, ...]] = ("running", "completed", "failed", "paused")
FINAL_STATUSES: Final[tuple[str, ...]] = ("completed", "failed")
ROLES: Final[tuple[str, ...]] = ("user", "assistant", "system")

SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2)
"""1: the seed's initial schema.  2: keyset-pagination and message-order indexes."""

FOREIGN_KEYS: Final[tuple[ForeignKey, ...]] = (
    ForeignKey("sessions", "workspace_id", "workspaces", "id", "CASCADE"),
    ForeignKey("session_runtime_mix", "session_id", "sessions", "id", "CASCADE"),
    ForeignKey("instances", "session_id", "sessions", "id", "CASCADE"),
    ForeignKey("chat_messages", "session_id", "sessions", "id", "CASCADE"),
)


STORE_ASSIGNED_IDS: Final[dict[tuple[str, str], str]] = {
    ("Workspace", "id"): "workspace",
    ("Session", "workspace_id"): "workspace",
    ("Instance", "row_id"): "instance",
}
"""Fields whose values the store picks: compared up to a consistent renaming."""


def workspace_hash(path: str) -> str:
    """The seed's workspace hash: SHA-256 of the UTF-8 path, lowercase hex."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


# --- records returned by the store ---------------------------------------


@dataclass(frozen=True)
class Workspace:
    id: int
    path: str
    hash: str
    created_at: datetime
    last_accessed_at: datetime


@dataclass(frozen=True)
class Instance:
    row_id: int
    """Store-assigned identity; stable for the instance's lifetime."""
    session_id: str
    instance_id: int
    worktree_path: str
    branch: str
    agent_name: str
    status: str
    tmux_session_id: str
    output: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    files_changed: int | None = None
    lines_added: int | None = None
    lines_deleted: int | None = None
    runtime: str | None = None
    model: str | None = None
    runtime_label: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    id: str
    session_id: str
    role: str
    content: str
    timestamp: datetime
    instance_id: int | None = None


@dataclass(frozen=True)
class Session:
    id: str
    workspace_id: int
    type: str
    task: str
    status: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    model: str | None = None
    timeout_seconds: int | None = None
    preserve_worktrees: bool | None = None
    winner_id: int | None = None
    total_duration: int | None = None
    total_files_changed: int | None = None
    total_lines_added: int | None = None
    total_lines_deleted: int | None = None
    runtime_mix: tuple[str, ...] = ()
    """A set: distinct runtimes, sorted by code point (input duplicates collapse)."""


@dataclass(frozen=True)
class SessionSummary:
    """One row of the seed's ``session_complete`` view."""

    session: Session
    workspace_path: str
    instance_count: int
    message_count: int


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the last session of the previous page."""

    created_at: datetime
    id: str


@dataclass(frozen=True)
class SessionPage:
    items: tuple[Session, ...]
    next_cursor: Cursor | None
    """Set exactly when more sessions match after this page."""


@dataclass(frozen=True)
class MigrationMetadata:
    schema_version: int
    """The store's current schema version (the newest of :data:`SCHEMA_VERSIONS` once
    migrated; the seed's initial row says 1, and version 2 sets 2)."""
    migration_status: str
    """``pending`` until a legacy import has run, then ``completed``."""
    json_backup_path: str | None
    migrated_at: datetime | None
    """When the legacy import ran; ``None`` while pending."""


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int
    """Sessions already present (by id) and left untouched."""


# --- inputs ---------------------------------------------------------------


@dataclass(frozen=True)
class NewInstance:
    instance_id: int
    worktree_path: str
    branch: str
    agent_name: str
    status: str
    tmux_session_id: str
    output: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    files_changed: int | None = None
    lines_added: int | None = None
    lines_deleted: int | None = None
    runtime: str | None = None
    model: str | None = None
    runtime_label: str | None = None


@dataclass(frozen=True)
class NewMessage:
    id: str
    role: str
    content: str
    timestamp: datetime
    instance_id: int | None = None


@dataclass(frozen=True)
class NewSession:
    id: str
    workspace_id: int
    type: str
    task: str
    status: str
    created_at: datetime
    model: str | None = None
    timeout_seconds: int | None = None
    preserve_worktrees: bool | None = None
    runtime_mix: tuple[str, ...] = ()
    instances: tuple[NewInstance, ...] = ()
    messages: tuple[NewMessage, ...] = ()


@dataclass(frozen=True)
class SessionUpdate:
    """Fields left ``None`` keep their value (a partial update is never a replace);
    ``updated_at`` is always set.  ``completed_at`` is never touched, even when
    ``status`` becomes ``completed`` or ``failed`` here (:meth:`complete_session`
    sets it).

    ``runtime_mix`` replaces the whole set when given; ``instance_statuses``
    sets the status of each listed instance (matched by ``instance_id``) in
    place.  An ``instance_id`` the session does not have raises
    :class:`NotFound` and the whole update is rolled back.
    """

    updated_at: datetime
    task: str | None = None
    status: str | None = None
    model: str | None = None
    timeout_seconds: int | None = None
    preserve_worktrees: bool | None = None
    winner_id: int | None = None
    total_duration: int | None = None
    runtime_mix: tuple[str, ...] | None = None
    instance_statuses: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class InstanceUpdate:
    status: str | None = None
    output: str | None = None
    end_time: datetime | None = None
    files_changed: int | None = None
    lines_added: int | None = None
    lines_deleted: int | None = None


@dataclass(frozen=True)
class SessionQuery:
    """Filters of ``search_sessions``; every given filter must hold."""

    workspace_id: int | None = None
    status: str | None = None
    type: str | None = None
    created_from: datetime | None = None
    """Inclusive lower bound on ``created_at``."""
    created_to: datetime | None = None
    """Exclusive upper bound on ``created_at``."""
    text: str | None = None
    """Case-sensitive substring of ``task``."""


@dataclass(frozen=True)
class LegacySession:
    workspace_path: str
    session: NewSession
    updated_at: datetime
    completed_at: datetime | None = None
    totals: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None)
    winner_id: int | None = None


# --- the Protocol ---------------------------------------------------------


class SessionHistoryStore(Protocol):
    """What an implementation of ``session_history`` offers."""

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        """The workspace for ``path`` (matched exactly), created (hash computed,
        ``created_at`` and ``last_accessed_at`` = ``at``) if new; if it exists,
        ``last_accessed_at`` becomes ``at``.  Concurrent calls get one workspace."""

    def get_workspace(self, workspace_id: int) -> Workspace: ...

    def touch_workspace(self, workspace_id: int, at: datetime) -> Workspace:
        """Set ``last_accessed_at``."""

    def delete_workspace(self, workspace_id: int) -> None:
        """Remove the workspace and, by cascade, everything under it."""

    def create_session(self, new: NewSession) -> Session:
        """Session, runtime mix, instances and messages in one transaction."""

    def get_session(self, session_id: str) -> Session: ...

    def update_session(self, session_id: str, update: SessionUpdate) -> Session: ...

    def complete_session(self, session_id: str, status: str, at: datetime) -> Session:
        """Finish a running or paused session as ``completed`` or ``failed``: sets
        ``status``, and ``completed_at`` and ``updated_at`` to ``at``.

        ``status`` other than those two is a :class:`ValidationError`; an unknown
        session :class:`NotFound`; one already finished :class:`Conflict` (also
        for every caller but one of concurrent completions).
        """

    def record_instance_stats(
        self, session_id: str, files_changed: int, lines_added: int, lines_deleted: int
    ) -> Session:
        """Add to the session's totals (NULL counts as 0); no update is ever lost.

        Each figure is 0 to 2**31 - 1 (else :class:`ValidationError`); so is a total
        that would pass 2**63 - 1, and then nothing changes.  Leaves
        ``updated_at`` as it was: statistics are not an edit of the session.
        """

    def delete_session(self, session_id: str) -> None: ...

    def search_sessions(
        self, query: SessionQuery, limit: int, after: Cursor | None = None
    ) -> SessionPage: ...

    def add_instance(self, session_id: str, new: NewInstance) -> Instance: ...

    def update_instance(
        self, session_id: str, instance_id: int, update: InstanceUpdate
    ) -> Instance: ...

    def list_instances(self, session_id: str) -> list[Instance]:
        """Ordered by ``instance_id``."""

    def append_message(self, session_id: str, new: NewMessage) -> ChatMessage: ...

    def list_messages(self, session_id: str) -> list[ChatMessage]:
        """Ordered by ``timestamp``, ties in append order."""

    def session_summary(self, session_id: str) -> SessionSummary: ...

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        """Import a legacy JSON document (see :func:`parse_legacy_document`).

        All or nothing: a document that does not parse, or holds a record a
        rule refuses, raises and leaves the store (metadata included) as it
        was.  Sessions whose id exists are skipped, so re-running is a no-op.
        Workspaces are found or created by path (``at`` touches them).  Records
        ``backup_path``, status ``completed`` and ``migrated_at = at`` in the
        migration metadata.
        """

    def migration_metadata(self) -> MigrationMetadata: ...

    def close(self) -> None: ...


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("get_or_create_workspace", "workspace by path, hash computed", True),
    Operation("get_workspace", "workspace by id", False),
    Operation("touch_workspace", "update last_accessed_at", True),
    Operation("delete_workspace", "delete with cascade", True),
    Operation("create_session", "session with instances, runtime mix, messages", True),
    Operation("get_session", "session by id", False),
    Operation("update_session", "update fields and status in place", True),
    Operation("complete_session", "finish a session", True),
    Operation("record_instance_stats", "add to session totals", True),
    Operation("delete_session", "delete with cascade", True),
    Operation("search_sessions", "filters, created desc, keyset pages", False),
    Operation("add_instance", "add an instance", True),
    Operation("update_instance", "update an instance in place", True),
    Operation("list_instances", "instances by instance_id", False),
    Operation("append_message", "append a chat message", True),
    Operation("list_messages", "messages in order", False),
    Operation("session_summary", "the session_complete view", False),
    Operation("import_legacy", "idempotent legacy JSON import", True),
    Operation("migration_metadata", "migration metadata row", False),
)


# --- the legacy JSON document ---------------------------------------------

_SESSION_KEYS = frozenset(
    {"id", "type", "task", "status", "created_at", "updated_at", "completed_at", "model",
     "timeout_seconds", "preserve_worktrees", "winner_id", "total_duration",
     "total_files_changed", "total_lines_added", "total_lines_deleted", "runtime_mix",
     "instances", "chat_history"}
)


def parse_legacy_document(document: str) -> list[LegacySession]:
    """Parse the legacy JSON storage format.

    ``{"workspaces": [{"path": str, "sessions": [session, ...]}, ...]}`` where a
    session carries the fields of :class:`Session` (timestamps as ISO 8601
    with an offset), ``runtime_mix`` (list of str), ``instances`` (objects
    with the fields of :class:`NewInstance`) and ``chat_history`` (objects
    with the fields of :class:`NewMessage`).  Anything else is a
    :class:`ValidationError` naming the JSON path.
    """
    check = Validator(SPEC, "import_legacy")
    try:
        root = json.loads(document)
    except (TypeError, ValueError, RecursionError) as exc:
        raise check.fail(f"document is not JSON: {exc}") from None
    workspaces = _member(check, root, "workspaces", list, "$")
    parsed: list[LegacySession] = []
    for w_index, workspace in enumerate(workspaces):
        where = f"$.workspaces[{w_index}]"
        path = check.text(f"{where}.path", _member(check, workspace, "path", str, where))
        for s_index, raw in enumerate(_member(check, workspace, "sessions", list, where)):
            parsed.append(_legacy_session(check, path, raw, f"{where}.sessions[{s_index}]"))
    return parsed


def _member(check: Validator, obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict):
        raise check.fail(f"{where} must be an object", obj)
    if key not in obj or not isinstance(obj[key], kind):
        raise check.fail(f"{where}.{key} must be a {kind.__name__}", obj.get(key))
    return obj[key]


def _when(check: Validator, name: str, raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise check.fail(f"{name} must be an ISO 8601 string", raw)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise check.fail(f"{name} is not ISO 8601", raw) from None
    return check.timestamp(name, value)


def _optional_when(check: Validator, name: str, raw: Any) -> datetime | None:
    return None if raw is None else _when(check, name, raw)


def _legacy_session(check: Validator, path: str, raw: Any, where: str) -> LegacySession:
    if not isinstance(raw, dict):
        raise check.fail(f"{where} must be an object", raw)
    unknown = sorted(set(raw) - _SESSION_KEYS)
    if unknown:
        raise check.fail(f"{where} has unknown fields", unknown)
    instances = tuple(
        NewInstance(
            instance_id=check.integer(f"{where}.instances[{i}].instance_id", item.get("instance_id")),
            worktree_path=check.text(f"{where}.instances[{i}].worktree_path", item.get("worktree_path")),
            branch=check.text(f"{where}.instances[{i}].branch", item.get("branch")),
            agent_name=check.text(f"{where}.instances[{i}].agent_name", item.get("agent_name")),
            status=check.text(f"{where}.instances[{i}].status", item.get("status")),
            tmux_session_id=check.text(
                f"{where}.instances[{i}].tmux_session_id", item.get("tmux_session_id")
            ),
            output=check.optional_text(f"{where}.instances[{i}].output", item.get("output")),
        )
        for i, item in enumerate(_list_of_objects(check, raw, "instances", where))
    )
    messages = tuple(
        NewMessage(
            id=check.text(f"{where}.chat_history[{i}].id", item.get("id")),
            role=check.text(f"{where}.chat_history[{i}].role", item.get("role")),
            content=check.text(f"{where}.chat_history[{i}].content", item.get("content")),
            timestamp=_when(check, f"{where}.chat_history[{i}].timestamp", item.get("timestamp")),
            instance_id=check.optional_integer(
                f"{where}.chat_history[{i}].instance_id", item.get("instance_id")
            ),
        )
        for i, item in enumerate(_list_of_objects(check, raw, "chat_history", where))
    )
    mix = raw.get("runtime_mix") or []
    if not isinstance(mix, list):
        raise check.fail(f"{where}.runtime_mix must be a list", mix)
    session = NewSession(
        id=check.text(f"{where}.id", raw.get("id")),
        workspace_id=0,
        type=check.text(f"{where}.type", raw.get("type")),
        task=check.text(f"{where}.task", raw.get("task")),
        status=check.text(f"{where}.status", raw.get("status")),
        created_at=_when(check, f"{where}.created_at", raw.get("created_at")),
        model=check.optional_text(f"{where}.model", raw.get("model")),
        timeout_seconds=check.optional_integer(f"{where}.timeout_seconds", raw.get("timeout_seconds")),
        preserve_worktrees=check.flag(f"{where}.preserve_worktrees", raw.get("preserve_worktrees")),
        runtime_mix=tuple(check.text(f"{where}.runtime_mix[]", r) for r in mix),
        instances=instances,
        messages=messages,
    )
    totals = tuple(
        check.optional_integer(f"{where}.{name}", raw.get(name))
        for name in ("total_duration", "total_files_changed", "total_lines_added",
                     "total_lines_deleted")
    )
    return LegacySession(
        workspace_path=path,
        session=session,
        updated_at=_when(check, f"{where}.updated_at", raw.get("updated_at")),
        completed_at=_optional_when(check, f"{where}.completed_at", raw.get("completed_at")),
        totals=(totals[0], totals[1], totals[2], totals[3]),
        winner_id=check.optional_integer(f"{where}.winner_id", raw.get("winner_id")),
    )


def _list_of_objects(check: Validator, raw: dict[str, Any], key: str, where: str) -> Sequence[Any]:
    items = raw.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise check.fail(f"{where}.{key} must be a list of objects", items)
    return items
