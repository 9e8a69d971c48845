"""The ``session_history`` model: plain dictionaries, obviously correct.

Every operation works on a copy of the state and swaps it in only when it
succeeds, which makes each one atomic without any cleverness; constraint
checks follow the order in which SQL evaluates them for one statement
(CHECK, then UNIQUE, then FOREIGN KEY), statement by statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from storecheck.conformance.errors import (
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    NotFound,
)
from storecheck.conformance.specs import session_history_inputs as inputs
from storecheck.conformance.specs.common import INT64_MAX
from storecheck.conformance.specs.session_history import (
    FINAL_STATUSES,
    ROLES,
    SCHEMA_VERSIONS,
    SESSION_STATUSES,
    SESSION_TYPES,
    SPEC,
    ChatMessage,
    Cursor,
    ImportResult,
    Instance,
    InstanceUpdate,
    MigrationMetadata,
    NewInstance,
    NewMessage,
    NewSession,
    Session,
    SessionPage,
    SessionQuery,
    SessionSummary,
    SessionUpdate,
    Workspace,
    parse_legacy_document,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore

T = TypeVar("T")


@dataclass
class State:
    workspaces: dict[int, Workspace] = field(default_factory=dict)
    last_workspace_id: int = 0
    sessions: dict[str, Session] = field(default_factory=dict)
    instances: dict[str, dict[int, Instance]] = field(default_factory=dict)
    last_instance_row: int = 0
    messages: list[ChatMessage] = field(default_factory=list)
    metadata: MigrationMetadata = field(
        default_factory=lambda: MigrationMetadata(SCHEMA_VERSIONS[-1], "pending", None, None))

    def copy(self) -> State:
        return replace(
            self,
            workspaces=dict(self.workspaces),
            sessions=dict(self.sessions),
            instances={key: dict(value) for key, value in self.instances.items()},
            messages=list(self.messages),
        )


def violation(operation: str, kind: ConstraintKind, detail: str, value: object) -> ConstraintViolation:
    return ConstraintViolation(SPEC, operation, kind, detail, value)


class MemorySessionHistory(MemoryStore[State]):
    """Implements :class:`~storecheck.conformance.specs.session_history.SessionHistoryStore`."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- workspaces ----------------------------------------------------------

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        v = inputs.check("get_or_create_workspace")
        path = v.text("path", path)
        at = v.timestamp("at", at)

        def change(s: State) -> Workspace:
            for workspace in s.workspaces.values():
                if workspace.path == path:
                    s.workspaces[workspace.id] = replace(workspace, last_accessed_at=at)
                    return s.workspaces[workspace.id]
            return self._new_workspace(s, path, at, "get_or_create_workspace")

        return self._apply(change)

    @staticmethod
    def _new_workspace(s: State, path: str, at: datetime, operation: str) -> Workspace:
        if path == "":
            raise violation(operation, ConstraintKind.CHECK, "workspace_path <> ''", path)
        s.last_workspace_id += 1
        workspace = Workspace(s.last_workspace_id, path, formulas.sha256_hex(path), at, at)
        s.workspaces[workspace.id] = workspace
        return workspace

    def get_workspace(self, workspace_id: int) -> Workspace:
        inputs.check("get_workspace").integer("workspace_id", workspace_id)
        return self._read(lambda s: self._workspace(s, workspace_id, "get_workspace"))

    @staticmethod
    def _workspace(s: State, workspace_id: int, operation: str) -> Workspace:
        if workspace_id not in s.workspaces:
            raise NotFound(SPEC, operation, "no such workspace", workspace_id)
        return s.workspaces[workspace_id]

    def touch_workspace(self, workspace_id: int, at: datetime) -> Workspace:
        v = inputs.check("touch_workspace")
        v.integer("workspace_id", workspace_id)
        at = v.timestamp("at", at)

        def change(s: State) -> Workspace:
            workspace = self._workspace(s, workspace_id, "touch_workspace")
            s.workspaces[workspace_id] = replace(workspace, last_accessed_at=at)
            return s.workspaces[workspace_id]

        return self._apply(change)

    def delete_workspace(self, workspace_id: int) -> None:
        inputs.check("delete_workspace").integer("workspace_id", workspace_id)

        def change(s: State) -> None:
            self._workspace(s, workspace_id, "delete_workspace")
            del s.workspaces[workspace_id]
            for session in list(s.sessions.values()):
                if session.workspace_id == workspace_id:
                    self._drop_session(s, session.id)

        self._apply(change)

    # -- sessions ------------------------------------------------------------

    def create_session(self, new: NewSession) -> Session:
        new = inputs.new_session(new)

        def change(s: State) -> Session:
            self._insert_session(s, new, new.created_at, None, None, (None, None, None, None),
                                 "create_session")
            return s.sessions[new.id]

        return self._apply(change)

    def _insert_session(
        self, s: State, new: NewSession, updated_at: datetime, completed_at: datetime | None,
        winner_id: int | None, totals: tuple[int | None, ...], operation: str,
    ) -> None:
        for ok, rule in ((new.type in SESSION_TYPES, "type IN (...)"),
                         (new.status in SESSION_STATUSES, "status IN (...)"),
                         (new.id != "", "id <> ''"), (new.task != "", "task <> ''")):
            if not ok:
                raise violation(operation, ConstraintKind.CHECK, rule, new)
        if new.id in s.sessions:
            raise violation(operation, ConstraintKind.UNIQUE, "sessions.id", new.id)
        if new.workspace_id not in s.workspaces:
            raise violation(operation, ConstraintKind.FOREIGN_KEY, "sessions.workspace_id",
                            new.workspace_id)
        s.sessions[new.id] = Session(
            id=new.id, workspace_id=new.workspace_id, type=new.type, task=new.task,
            status=new.status, created_at=new.created_at, updated_at=updated_at,
            completed_at=completed_at, model=new.model, timeout_seconds=new.timeout_seconds,
            preserve_worktrees=new.preserve_worktrees, winner_id=winner_id,
            total_duration=totals[0], total_files_changed=totals[1],
            total_lines_added=totals[2], total_lines_deleted=totals[3],
            runtime_mix=tuple(sorted(set(new.runtime_mix))),
        )
        s.instances[new.id] = {}
        for item in new.instances:
            self._insert_instance(s, new.id, item, operation)
        for message in new.messages:
            self._insert_message(s, new.id, message, operation)

    def get_session(self, session_id: str) -> Session:
        inputs.check("get_session").text("session_id", session_id)
        return self._read(lambda s: self._session(s, session_id, "get_session"))

    @staticmethod
    def _session(s: State, session_id: str, operation: str) -> Session:
        if session_id not in s.sessions:
            raise NotFound(SPEC, operation, "no such session", session_id)
        return s.sessions[session_id]

    def update_session(self, session_id: str, update: SessionUpdate) -> Session:
        inputs.check("update_session").text("session_id", session_id)
        update = inputs.session_update(update)

        def change(s: State) -> Session:
            current = self._session(s, session_id, "update_session")
            task = current.task if update.task is None else update.task
            status = current.status if update.status is None else update.status
            if status not in SESSION_STATUSES:
                raise violation("update_session", ConstraintKind.CHECK, "status IN (...)", status)
            if task == "":
                raise violation("update_session", ConstraintKind.CHECK, "task <> ''", task)
            mix = current.runtime_mix if update.runtime_mix is None else tuple(
                sorted(set(update.runtime_mix)))
            s.sessions[session_id] = replace(
                current, updated_at=update.updated_at, task=task, status=status,
                model=_keep(current.model, update.model),
                timeout_seconds=_keep(current.timeout_seconds, update.timeout_seconds),
                preserve_worktrees=_keep(current.preserve_worktrees, update.preserve_worktrees),
                winner_id=_keep(current.winner_id, update.winner_id),
                total_duration=_keep(current.total_duration, update.total_duration),
                runtime_mix=mix,
            )
            children = s.instances[session_id]
            for instance_id, instance_status in update.instance_statuses:
                if instance_id not in children:
                    raise NotFound(SPEC, "update_session", "no such instance", instance_id)
                children[instance_id] = replace(children[instance_id], status=instance_status)
            return s.sessions[session_id]

        return self._apply(change)

    def complete_session(self, session_id: str, status: str, at: datetime) -> Session:
        v = inputs.check("complete_session")
        v.text("session_id", session_id)
        status = inputs.completion(status)
        at = v.timestamp("at", at)

        def change(s: State) -> Session:
            current = self._session(s, session_id, "complete_session")
            if current.status in FINAL_STATUSES:
                raise Conflict(SPEC, "complete_session", f"session is already {current.status}",
                               session_id)
            s.sessions[session_id] = replace(current, status=status, completed_at=at, updated_at=at)
            return s.sessions[session_id]

        return self._apply(change)

    def record_instance_stats(
        self, session_id: str, files_changed: int, lines_added: int, lines_deleted: int
    ) -> Session:
        inputs.check("record_instance_stats").text("session_id", session_id)
        files, added, deleted = inputs.stats(files_changed, lines_added, lines_deleted)

        def change(s: State) -> Session:
            current = self._session(s, session_id, "record_instance_stats")
            totals = (current.total_files_changed, current.total_lines_added,
                      current.total_lines_deleted)
            if any((total or 0) + value > INT64_MAX
                   for total, value in zip(totals, (files, added, deleted), strict=True)):
                raise inputs.totals_overflow((files, added, deleted))
            s.sessions[session_id] = replace(
                current,
                total_files_changed=(current.total_files_changed or 0) + files,
                total_lines_added=(current.total_lines_added or 0) + added,
                total_lines_deleted=(current.total_lines_deleted or 0) + deleted,
            )
            return s.sessions[session_id]

        return self._apply(change)

    def delete_session(self, session_id: str) -> None:
        inputs.check("delete_session").text("session_id", session_id)

        def change(s: State) -> None:
            self._session(s, session_id, "delete_session")
            self._drop_session(s, session_id)

        self._apply(change)

    @staticmethod
    def _drop_session(s: State, session_id: str) -> None:
        del s.sessions[session_id]
        del s.instances[session_id]
        s.messages = [m for m in s.messages if m.session_id != session_id]

    def search_sessions(
        self, query: SessionQuery, limit: int, after: Cursor | None = None
    ) -> SessionPage:
        query, limit = inputs.session_query(query, limit)
        v = inputs.check("search_sessions")
        if after is not None:
            if not isinstance(after, Cursor):
                raise v.fail("after must be a Cursor", after)
            after = Cursor(v.timestamp("after", after.created_at), v.text("after.id", after.id))

        def matches(session: Session) -> bool:
            return (
                (query.workspace_id is None or session.workspace_id == query.workspace_id)
                and (query.status is None or session.status == query.status)
                and (query.type is None or session.type == query.type)
                and (query.created_from is None or session.created_at >= query.created_from)
                and (query.created_to is None or session.created_at < query.created_to)
                and (query.text is None or query.text in session.task)
                and (after is None or (session.created_at, session.id) < (after.created_at, after.id))
            )

        def look(s: State) -> SessionPage:
            found = sorted((x for x in s.sessions.values() if matches(x)),
                           key=lambda x: (x.created_at, x.id), reverse=True)
            items = tuple(found[:limit])
            more = len(found) > limit
            return SessionPage(items, Cursor(items[-1].created_at, items[-1].id) if more else None)

        return self._read(look)

    def session_summary(self, session_id: str) -> SessionSummary:
        inputs.check("session_summary").text("session_id", session_id)

        def look(s: State) -> SessionSummary:
            session = self._session(s, session_id, "session_summary")
            return SessionSummary(
                session,
                s.workspaces[session.workspace_id].path,
                len(s.instances[session_id]),
                sum(1 for m in s.messages if m.session_id == session_id),
            )

        return self._read(look)

    # -- instances -----------------------------------------------------------

    def add_instance(self, session_id: str, new: NewInstance) -> Instance:
        inputs.check("add_instance").text("session_id", session_id)
        new = inputs.new_instance(new, "add_instance")
        return self._apply(lambda s: self._insert_instance(s, session_id, new, "add_instance"))

    @staticmethod
    def _insert_instance(s: State, session_id: str, new: NewInstance, operation: str) -> Instance:
        if new.instance_id < 0:
            raise violation(operation, ConstraintKind.CHECK, "instance_id >= 0", new.instance_id)
        if new.instance_id in s.instances.get(session_id, {}):
            raise violation(operation, ConstraintKind.UNIQUE, "instances(session_id, instance_id)",
                            new.instance_id)
        if session_id not in s.sessions:
            raise violation(operation, ConstraintKind.FOREIGN_KEY, "instances.session_id", session_id)
        s.last_instance_row += 1
        instance = Instance(s.last_instance_row, session_id, **vars(new))
        s.instances[session_id][new.instance_id] = instance
        return instance

    def update_instance(self, session_id: str, instance_id: int, update: InstanceUpdate) -> Instance:
        v = inputs.check("update_instance")
        v.text("session_id", session_id)
        v.integer("instance_id", instance_id)
        update = inputs.instance_update(update)

        def change(s: State) -> Instance:
            children = s.instances.get(session_id, {})
            if instance_id not in children:
                raise NotFound(SPEC, "update_instance", "no such instance", (session_id, instance_id))
            current = children[instance_id]
            children[instance_id] = replace(
                current,
                status=_keep(current.status, update.status),
                output=_keep(current.output, update.output),
                end_time=_keep(current.end_time, update.end_time),
                files_changed=_keep(current.files_changed, update.files_changed),
                lines_added=_keep(current.lines_added, update.lines_added),
                lines_deleted=_keep(current.lines_deleted, update.lines_deleted),
            )
            return children[instance_id]

        return self._apply(change)

    def list_instances(self, session_id: str) -> list[Instance]:
        inputs.check("list_instances").text("session_id", session_id)

        def look(s: State) -> list[Instance]:
            self._session(s, session_id, "list_instances")
            return [s.instances[session_id][key] for key in sorted(s.instances[session_id])]

        return self._read(look)

    # -- messages ------------------------------------------------------------

    def append_message(self, session_id: str, new: NewMessage) -> ChatMessage:
        inputs.check("append_message").text("session_id", session_id)
        new = inputs.new_message(new, "append_message")
        return self._apply(lambda s: self._insert_message(s, session_id, new, "append_message"))

    @staticmethod
    def _insert_message(s: State, session_id: str, new: NewMessage, operation: str) -> ChatMessage:
        for ok, rule in ((new.role in ROLES, "role IN (...)"), (new.id != "", "id <> ''"),
                         (new.content != "", "content <> ''")):
            if not ok:
                raise violation(operation, ConstraintKind.CHECK, rule, new)
        if any(m.id == new.id for m in s.messages):
            raise violation(operation, ConstraintKind.UNIQUE, "chat_messages.id", new.id)
        if session_id not in s.sessions:
            raise violation(operation, ConstraintKind.FOREIGN_KEY, "chat_messages.session_id",
                            session_id)
        message = ChatMessage(new.id, session_id, new.role, new.content, new.timestamp,
                              new.instance_id)
        s.messages.append(message)
        return message

    def list_messages(self, session_id: str) -> list[ChatMessage]:
        inputs.check("list_messages").text("session_id", session_id)

        def look(s: State) -> list[ChatMessage]:
            self._session(s, session_id, "list_messages")
            mine = [m for m in s.messages if m.session_id == session_id]
            return sorted(mine, key=lambda m: m.timestamp)  # stable: ties keep append order

        return self._read(look)

    # -- legacy import and metadata -----------------------------------------

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        v = inputs.check("import_legacy")
        backup_path = v.text("backup_path", backup_path)
        at = v.timestamp("at", at)
        legacy = parse_legacy_document(document)

        def change(s: State) -> ImportResult:
            imported = skipped = 0
            for item in legacy:
                if item.session.id in s.sessions:
                    skipped += 1
                    continue
                workspace = next((w for w in s.workspaces.values()
                                  if w.path == item.workspace_path), None)
                if workspace is None:
                    workspace = self._new_workspace(s, item.workspace_path, at, "import_legacy")
                else:
                    s.workspaces[workspace.id] = replace(workspace, last_accessed_at=at)
                new = inputs.new_session(replace(item.session, workspace_id=workspace.id),
                                         "import_legacy")
                self._insert_session(s, new, item.updated_at, item.completed_at, item.winner_id,
                                     item.totals, "import_legacy")
                imported += 1
            s.metadata = replace(s.metadata, migration_status="completed",
                                 json_backup_path=backup_path, migrated_at=at)
            return ImportResult(imported, skipped)

        return self._apply(change)

    def migration_metadata(self) -> MigrationMetadata:
        return self._read(lambda s: s.metadata)


def _keep(current: T, new: T | None) -> T:
    return current if new is None else new
