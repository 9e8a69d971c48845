"""The reference ``session_history`` store on SQLite."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from storecheck.conformance.errors import Conflict, NotFound
from storecheck.conformance.specs import session_history_inputs as inputs
from storecheck.conformance.specs.session_history import (
    FINAL_STATUSES,
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
    workspace_hash,
)
from storecheck.reference_impl.engine import ConnectionRules, load_migrations
from storecheck.reference_impl.engine.pages import keyset_page, rows_to_read
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import SqliteStore
from storecheck.reference_impl.engine.timestamps import from_text, optional_text, to_text
from storecheck.reference_impl.session_history import queries, rows
from storecheck.reference_impl.session_history.rows import INSTANCE_COLUMNS, WORKSPACE_COLUMNS

MIGRATIONS = load_migrations("storecheck.reference_impl.session_history.migrations")


class SqliteSessionHistory(SqliteStore):
    """Implements :class:`~storecheck.conformance.specs.session_history.SessionHistoryStore`."""

    spec = SPEC
    migrations = MIGRATIONS
    # The seed's 20 MB page cache: a text search walks every task, which SQLite's default
    # 2 MiB does not hold at 10,000 sessions (python -m tests.tuning_benchmark: text search
    # 0.78x, median of 19 timed rows 0.96x, none slower).  Its 256 MB memory map is left
    # out: 3% on reads, and an I/O error under a map is a SIGBUS, not StorageFailed.
    rules = ConnectionRules(cache_kib=20_000)

    # -- workspaces ----------------------------------------------------------

    def get_or_create_workspace(self, path: str, at: datetime) -> Workspace:
        v = inputs.check("get_or_create_workspace")
        path = v.text("path", path)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("get_or_create_workspace", path) as conn:
            # One upsert: concurrent callers on any engine get the one row, none a conflict.
            row = conn.execute(
                "INSERT INTO workspaces (workspace_path, workspace_hash, created_at, "
                "last_accessed_at) VALUES (?, ?, ?, ?) ON CONFLICT (workspace_path) "
                f"DO UPDATE SET last_accessed_at = excluded.last_accessed_at RETURNING {WORKSPACE_COLUMNS}",
                (path, workspace_hash(path), stamp, stamp),
            ).fetchone()
        return rows.workspace(row)

    def get_workspace(self, workspace_id: int) -> Workspace:
        inputs.check("get_workspace").integer("workspace_id", workspace_id)
        with self._tx("get_workspace", workspace_id, write=False) as conn:
            return self._workspace(conn, workspace_id, "get_workspace")

    def touch_workspace(self, workspace_id: int, at: datetime) -> Workspace:
        v = inputs.check("touch_workspace")
        v.integer("workspace_id", workspace_id)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("touch_workspace", workspace_id) as conn:
            conn.execute(
                "UPDATE workspaces SET last_accessed_at = ? WHERE id = ?", (stamp, workspace_id)
            )
            return self._workspace(conn, workspace_id, "touch_workspace")

    def delete_workspace(self, workspace_id: int) -> None:
        inputs.check("delete_workspace").integer("workspace_id", workspace_id)
        with self._tx("delete_workspace", workspace_id) as conn:
            deleted = conn.execute("DELETE FROM workspaces WHERE id = ?", (workspace_id,))
            if deleted.rowcount == 0:
                raise NotFound(SPEC, "delete_workspace", "no such workspace", workspace_id)

    @staticmethod
    def _workspace(conn: Connection, workspace_id: int, operation: str) -> Workspace:
        row = conn.execute(
            f"SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?", (workspace_id,)
        ).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such workspace", workspace_id)
        return rows.workspace(row)

    # -- sessions ------------------------------------------------------------

    def create_session(self, new: NewSession) -> Session:
        new = inputs.new_session(new)
        with self._tx("create_session", new.id) as conn:
            self._insert_session(conn, new, updated_at=new.created_at)
            return self._session(conn, new.id, "create_session")

    def _insert_session(
        self,
        conn: Connection,
        new: NewSession,
        *,
        updated_at: datetime,
        completed_at: datetime | None = None,
        winner_id: int | None = None,
        totals: tuple[int | None, ...] = (None, None, None, None),
    ) -> None:
        conn.execute(
            "INSERT INTO sessions (id, workspace_id, type, task, status, created_at, updated_at, "
            "completed_at, model, timeout_seconds, preserve_worktrees, winner_id, total_duration, "
            "total_files_changed, total_lines_added, total_lines_deleted) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new.id, new.workspace_id, new.type, new.task, new.status, to_text(new.created_at),
             to_text(updated_at), optional_text(completed_at), new.model,
             new.timeout_seconds, rows.flag_to_int(new.preserve_worktrees), winner_id, *totals),
        )
        conn.executemany(
            "INSERT INTO session_runtime_mix (session_id, runtime) VALUES (?, ?)",
            [(new.id, runtime) for runtime in sorted(set(new.runtime_mix))],
        )
        for item in new.instances:
            self._insert_instance(conn, new.id, item)
        conn.executemany(
            "INSERT INTO chat_messages (id, session_id, role, content, timestamp, instance_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(m.id, new.id, m.role, m.content, to_text(m.timestamp), m.instance_id)
             for m in new.messages],
        )

    def get_session(self, session_id: str) -> Session:
        inputs.check("get_session").text("session_id", session_id)
        with self._tx("get_session", session_id, write=False) as conn:
            return self._session(conn, session_id, "get_session")

    def update_session(self, session_id: str, update: SessionUpdate) -> Session:
        inputs.check("update_session").text("session_id", session_id)
        update = inputs.session_update(update)
        with self._tx("update_session", session_id) as conn:
            self._require_session(conn, session_id, "update_session")
            conn.execute(
                "UPDATE sessions SET updated_at = ?, task = COALESCE(?, task), "
                "status = COALESCE(?, status), model = COALESCE(?, model), "
                "timeout_seconds = COALESCE(?, timeout_seconds), "
                "preserve_worktrees = COALESCE(?, preserve_worktrees), "
                "winner_id = COALESCE(?, winner_id), total_duration = COALESCE(?, total_duration) "
                "WHERE id = ?",
                (to_text(update.updated_at), update.task, update.status, update.model,
                 update.timeout_seconds, rows.flag_to_int(update.preserve_worktrees),
                 update.winner_id, update.total_duration, session_id),
            )
            if update.runtime_mix is not None:
                self._replace_runtime_mix(conn, session_id, update.runtime_mix)
            for instance_id, status in update.instance_statuses:
                changed = conn.execute(
                    "UPDATE instances SET status = ? WHERE session_id = ? AND instance_id = ?",
                    (status, session_id, instance_id),
                )
                if changed.rowcount == 0:
                    raise NotFound(SPEC, "update_session", "no such instance", instance_id)
            return self._session(conn, session_id, "update_session")

    @staticmethod
    def _replace_runtime_mix(conn: Connection, session_id: str, mix: tuple[str, ...]) -> None:
        """Delete only the runtimes that left and insert only new ones, keeping row identity."""
        kept = {r for (r,) in conn.execute(
            "SELECT runtime FROM session_runtime_mix WHERE session_id = ?", (session_id,))}
        conn.executemany(
            "DELETE FROM session_runtime_mix WHERE session_id = ? AND runtime = ?",
            [(session_id, runtime) for runtime in sorted(kept - set(mix))],
        )
        conn.executemany(
            "INSERT INTO session_runtime_mix (session_id, runtime) VALUES (?, ?)",
            [(session_id, runtime) for runtime in sorted(set(mix) - kept)],
        )

    def complete_session(self, session_id: str, status: str, at: datetime) -> Session:
        v = inputs.check("complete_session")
        v.text("session_id", session_id)
        status = inputs.completion(status)
        stamp = to_text(v.timestamp("at", at))
        with self._tx("complete_session", session_id) as conn:
            # The status test is in the UPDATE itself, so of two racing completions one
            # finds the row already final (PostgreSQL re-reads it after the row lock).
            changed = conn.execute(
                "UPDATE sessions SET status = ?, completed_at = ?, updated_at = ? "
                "WHERE id = ? AND status NOT IN (?, ?)",
                (status, stamp, stamp, session_id, *sorted(FINAL_STATUSES)),
            )
            if changed.rowcount == 0:
                current = self._require_session(conn, session_id, "complete_session")
                raise Conflict(SPEC, "complete_session", f"session is already {current}", session_id)
            return self._session(conn, session_id, "complete_session")

    def record_instance_stats(
        self, session_id: str, files_changed: int, lines_added: int, lines_deleted: int
    ) -> Session:
        inputs.check("record_instance_stats").text("session_id", session_id)
        values = inputs.stats(files_changed, lines_added, lines_deleted)
        with self._tx("record_instance_stats", session_id) as conn:
            # One UPDATE reading and writing the totals: no read-modify-write window.
            changed = conn.execute(queries.ADD_STATS, (*values, session_id, *values))
            session = self._session(conn, session_id, "record_instance_stats")
            if changed.rowcount == 0:
                raise inputs.totals_overflow(values)
            return session

    def delete_session(self, session_id: str) -> None:
        inputs.check("delete_session").text("session_id", session_id)
        with self._tx("delete_session", session_id) as conn:
            if conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount == 0:
                raise NotFound(SPEC, "delete_session", "no such session", session_id)

    def search_sessions(
        self, query: SessionQuery, limit: int, after: Cursor | None = None
    ) -> SessionPage:
        query, limit = inputs.session_query(query, limit)
        v = inputs.check("search_sessions")
        if after is not None and not isinstance(after, Cursor):
            raise v.fail("after must be a Cursor", after)
        params = {
            "workspace_id": query.workspace_id,
            "status": query.status,
            "type": query.type,
            "created_from": optional_text(query.created_from),
            "created_to": optional_text(query.created_to),
            "text": query.text,
            "after_created": None if after is None else to_text(v.timestamp("after", after.created_at)),
            "after_id": None if after is None else v.text("after.id", after.id),
            "row_limit": rows_to_read(limit),
        }
        self._substring_filter(params)
        with self._tx("search_sessions", query, write=False) as conn:
            found = conn.execute(queries.search_statement(params), params).fetchall()
            page, cursor = keyset_page(found, limit, lambda row: Cursor(from_text(row[5]), row[0]))
            # One query for the page's runtime mixes, not one per session: a round trip
            # is nothing in SQLite and 0.1-0.3 ms to a server.
            mixes: dict[str, list[str]] = {}
            if page:
                for session_id, runtime in conn.execute(
                        queries.runtime_mixes_statement(len(page)), [row[0] for row in page]):
                    mixes.setdefault(session_id, []).append(runtime)
            items = tuple(rows.session(row, tuple(sorted(mixes.get(row[0], ())))) for row in page)
        return SessionPage(items, cursor)

    @staticmethod
    def _substring_filter(params: dict[str, Any]) -> None:
        """Adjust the task-substring filter to how the engine stores text (as is, here)."""

    @staticmethod
    def _runtime_mix(conn: Connection, session_id: str) -> tuple[str, ...]:
        found = conn.execute(queries.SELECT_RUNTIME_MIX, (session_id,))
        return tuple(sorted(runtime for (runtime,) in found))

    def _session(self, conn: Connection, session_id: str, operation: str) -> Session:
        row = conn.execute(queries.SELECT_SESSION, (session_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such session", session_id)
        return rows.session(row, self._runtime_mix(conn, session_id))

    @staticmethod
    def _require_session(conn: Connection, session_id: str, operation: str) -> str:
        row = conn.execute(queries.SELECT_STATUS, (session_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such session", session_id)
        return str(row[0])

    def session_summary(self, session_id: str) -> SessionSummary:
        inputs.check("session_summary").text("session_id", session_id)
        with self._tx("session_summary", session_id, write=False) as conn:
            session = self._session(conn, session_id, "session_summary")
            path, instance_count, message_count = conn.execute(
                queries.SELECT_SUMMARY_COUNTS, (session_id,)).fetchone()
        return SessionSummary(session, path, instance_count, message_count)

    # -- instances -----------------------------------------------------------

    def add_instance(self, session_id: str, new: NewInstance) -> Instance:
        inputs.check("add_instance").text("session_id", session_id)
        new = inputs.new_instance(new, "add_instance")
        with self._tx("add_instance", (session_id, new.instance_id)) as conn:
            row_id = self._insert_instance(conn, session_id, new)
            row = conn.execute(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = ?", (row_id,)).fetchone()
        return rows.instance(row)

    @staticmethod
    def _insert_instance(conn: Connection, session_id: str, new: NewInstance) -> int:
        cursor = conn.execute(
            "INSERT INTO instances (session_id, instance_id, worktree_path, branch, agent_name, "
            "status, tmux_session_id, output, start_time, end_time, files_changed, lines_added, "
            "lines_deleted, runtime, model, runtime_label) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (session_id, new.instance_id, new.worktree_path, new.branch, new.agent_name,
             new.status, new.tmux_session_id, new.output, optional_text(new.start_time),
             optional_text(new.end_time), new.files_changed, new.lines_added,
             new.lines_deleted, new.runtime, new.model, new.runtime_label),
        )
        return int(cursor.fetchone()[0])

    def update_instance(self, session_id: str, instance_id: int, update: InstanceUpdate) -> Instance:
        v = inputs.check("update_instance")
        v.text("session_id", session_id)
        v.integer("instance_id", instance_id)
        update = inputs.instance_update(update)
        with self._tx("update_instance", (session_id, instance_id)) as conn:
            changed = conn.execute(
                "UPDATE instances SET status = COALESCE(?, status), output = COALESCE(?, output), "
                "end_time = COALESCE(?, end_time), files_changed = COALESCE(?, files_changed), "
                "lines_added = COALESCE(?, lines_added), lines_deleted = COALESCE(?, lines_deleted) "
                "WHERE session_id = ? AND instance_id = ?",
                (update.status, update.output, optional_text(update.end_time),
                 update.files_changed, update.lines_added, update.lines_deleted,
                 session_id, instance_id),
            )
            if changed.rowcount == 0:
                raise NotFound(SPEC, "update_instance", "no such instance", (session_id, instance_id))
            row = conn.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE session_id = ? AND instance_id = ?",
                (session_id, instance_id),
            ).fetchone()
        return rows.instance(row)

    def list_instances(self, session_id: str) -> list[Instance]:
        inputs.check("list_instances").text("session_id", session_id)
        with self._tx("list_instances", session_id, write=False) as conn:
            self._require_session(conn, session_id, "list_instances")
            found = conn.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE session_id = ? ORDER BY instance_id",
                (session_id,),
            ).fetchall()
        return [rows.instance(row) for row in found]

    # -- messages ------------------------------------------------------------

    def append_message(self, session_id: str, new: NewMessage) -> ChatMessage:
        inputs.check("append_message").text("session_id", session_id)
        new = inputs.new_message(new, "append_message")
        with self._tx("append_message", new.id) as conn:
            conn.execute(queries.INSERT_MESSAGE, (new.id, session_id, new.role, new.content,
                                                  to_text(new.timestamp), new.instance_id))
        return ChatMessage(new.id, session_id, new.role, new.content, new.timestamp, new.instance_id)

    def list_messages(self, session_id: str) -> list[ChatMessage]:
        inputs.check("list_messages").text("session_id", session_id)
        with self._tx("list_messages", session_id, write=False) as conn:
            self._require_session(conn, session_id, "list_messages")
            found = conn.execute(queries.SELECT_MESSAGES, (session_id,)).fetchall()
        return [rows.message(row) for row in found]

    # -- legacy import and metadata -----------------------------------------

    def import_legacy(self, document: str, backup_path: str, at: datetime) -> ImportResult:
        v = inputs.check("import_legacy")
        backup_path = v.text("backup_path", backup_path)
        stamp = to_text(v.timestamp("at", at))
        legacy = parse_legacy_document(document)
        imported = skipped = 0
        with self._tx("import_legacy", backup_path) as conn:
            for item in legacy:
                exists = conn.execute(
                    "SELECT 1 FROM sessions WHERE id = ?", (item.session.id,)).fetchone()
                if exists:
                    skipped += 1
                    continue
                workspace = self.get_or_create_workspace(item.workspace_path, at)
                new = inputs.new_session(
                    _with_workspace(item.session, workspace.id), "import_legacy")
                self._insert_session(conn, new, updated_at=item.updated_at,
                                     completed_at=item.completed_at, winner_id=item.winner_id,
                                     totals=item.totals)
                imported += 1
            conn.execute(
                "UPDATE migration_metadata SET migration_status = 'completed', "
                "json_backup_path = ?, migrated_at = ?, last_updated_at = ? WHERE id = 1",
                (backup_path, stamp, stamp),
            )
        return ImportResult(imported, skipped)

    def migration_metadata(self) -> MigrationMetadata:
        with self._tx("migration_metadata", write=False) as conn:
            version, status, path, migrated_at = conn.execute(
                "SELECT schema_version, migration_status, json_backup_path, migrated_at "
                "FROM migration_metadata WHERE id = 1"
            ).fetchone()
        when = None if status == "pending" else from_text(migrated_at)
        return MigrationMetadata(version, status, path, when)

def _with_workspace(new: NewSession, workspace_id: int) -> NewSession:
    return replace(new, workspace_id=workspace_id)

