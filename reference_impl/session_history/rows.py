"""Conversions between ``session_history`` records and SQLite rows."""

from __future__ import annotations

import sqlite3
from typing import Any

from storecheck.conformance.specs.session_history import (
    ChatMessage,
    Instance,
    Session,
    Workspace,
)
from storecheck.reference_impl.engine.timestamps import (
    from_text,
    optional_from_text,
)

SESSION_COLUMNS = (
    "id, workspace_id, type, task, status, created_at, updated_at, completed_at, model, "
    "timeout_seconds, preserve_worktrees, winner_id, total_duration, total_files_changed, "
    "total_lines_added, total_lines_deleted"
)
INSTANCE_COLUMNS = (
    "id, session_id, instance_id, worktree_path, branch, agent_name, status, tmux_session_id, "
    "output, start_time, end_time, files_changed, lines_added, lines_deleted, runtime, model, "
    "runtime_label"
)
MESSAGE_COLUMNS = "id, session_id, role, content, timestamp, instance_id"
WORKSPACE_COLUMNS = "id, workspace_path, workspace_hash, created_at, last_accessed_at"


def flag_to_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def workspace(row: sqlite3.Row | tuple[Any, ...]) -> Workspace:
    return Workspace(row[0], row[1], row[2], from_text(row[3]), from_text(row[4]))


def session(row: sqlite3.Row | tuple[Any, ...], runtime_mix: tuple[str, ...]) -> Session:
    return Session(
        id=row[0],
        workspace_id=row[1],
        type=row[2],
        task=row[3],
        status=row[4],
        created_at=from_text(row[5]),
        updated_at=from_text(row[6]),
        completed_at=optional_from_text(row[7]),
        model=row[8],
        timeout_seconds=row[9],
        preserve_worktrees=None if row[10] is None else bool(row[10]),
        winner_id=row[11],
        total_duration=row[12],
        total_files_changed=row[13],
        total_lines_added=row[14],
        total_lines_deleted=row[15],
        runtime_mix=runtime_mix,
    )


def instance(row: sqlite3.Row | tuple[Any, ...]) -> Instance:
    return Instance(
        row_id=row[0],
        session_id=row[1],
        instance_id=row[2],
        worktree_path=row[3],
        branch=row[4],
        agent_name=row[5],
        status=row[6],
        tmux_session_id=row[7],
        output=row[8],
        start_time=optional_from_text(row[9]),
        end_time=optional_from_text(row[10]),
        files_changed=row[11],
        lines_added=row[12],
        lines_deleted=row[13],
        runtime=row[14],
        model=row[15],
        runtime_label=row[16],
    )


def message(row: sqlite3.Row | tuple[Any, ...]) -> ChatMessage:
    return ChatMessage(row[0], row[1], row[2], row[3], from_text(row[4]), row[5])
