"""Value rules for the inputs of ``session_history`` operations.

Each function checks an input record's types and returns it with every
timestamp converted to UTC.  The store implementations call these first; the
schema-level rules (CHECK, UNIQUE, FOREIGN KEY) stay with the storage.
"""

from __future__ import annotations

from dataclasses import replace

from storecheck.conformance.errors import ValidationError
from storecheck.conformance.specs.common import INT64_MAX, Validator
from storecheck.conformance.specs.session_history import (
    FINAL_STATUSES,
    SESSION_STATUSES,
    SESSION_TYPES,
    SPEC,
    InstanceUpdate,
    NewInstance,
    NewMessage,
    NewSession,
    SessionQuery,
    SessionUpdate,
)

MAX_STAT = 2**31 - 1


def check(operation: str) -> Validator:
    return Validator(SPEC, operation)


def new_instance(new: NewInstance, operation: str) -> NewInstance:
    v = check(operation)
    if not isinstance(new, NewInstance):
        raise v.fail("expected a NewInstance", new)
    for name in ("worktree_path", "branch", "agent_name", "status", "tmux_session_id"):
        v.text(name, getattr(new, name))
    for name in ("output", "runtime", "model", "runtime_label"):
        v.optional_text(name, getattr(new, name))
    v.integer("instance_id", new.instance_id)
    for name in ("files_changed", "lines_added", "lines_deleted"):
        v.optional_integer(name, getattr(new, name))
    start_time = v.optional_timestamp("start_time", new.start_time)
    end_time = v.optional_timestamp("end_time", new.end_time)
    if start_time is new.start_time and end_time is new.end_time:
        return new  # already UTC: skip the copy, this runs for every row of a batch
    return replace(new, start_time=start_time, end_time=end_time)


def new_message(new: NewMessage, operation: str) -> NewMessage:
    v = check(operation)
    if not isinstance(new, NewMessage):
        raise v.fail("expected a NewMessage", new)
    v.text("id", new.id)
    v.text("role", new.role)
    v.text("content", new.content)
    v.optional_integer("instance_id", new.instance_id)
    timestamp = v.timestamp("timestamp", new.timestamp)
    return new if timestamp is new.timestamp else replace(new, timestamp=timestamp)


def new_session(new: NewSession, operation: str = "create_session") -> NewSession:
    v = check(operation)
    if not isinstance(new, NewSession):
        raise v.fail("expected a NewSession", new)
    v.text("id", new.id)
    v.integer("workspace_id", new.workspace_id)
    v.text("type", new.type)
    v.text("task", new.task)
    v.text("status", new.status)
    v.optional_text("model", new.model)
    v.optional_integer("timeout_seconds", new.timeout_seconds)
    v.flag("preserve_worktrees", new.preserve_worktrees)
    runtime_mix = v.sequence("runtime_mix", new.runtime_mix, v.text)
    created_at = v.timestamp("created_at", new.created_at)
    instances = v.sequence("instances", new.instances,
                           lambda _, instance: new_instance(instance, operation))
    messages = v.sequence("messages", new.messages,
                          lambda _, message: new_message(message, operation))
    unchanged = (
        created_at is new.created_at
        and isinstance(new.runtime_mix, tuple)
        and all(a is b for a, b in zip(instances, new.instances, strict=True))
        and all(a is b for a, b in zip(messages, new.messages, strict=True))
        and isinstance(new.instances, tuple) and isinstance(new.messages, tuple)
    )
    if unchanged:
        return new
    return replace(new, created_at=created_at, runtime_mix=runtime_mix,
                   instances=instances, messages=messages)


def session_update(update: SessionUpdate) -> SessionUpdate:
    v = check("update_session")
    if not isinstance(update, SessionUpdate):
        raise v.fail("expected a SessionUpdate", update)
    for name in ("task", "status", "model"):
        v.optional_text(name, getattr(update, name))
    for name in ("timeout_seconds", "winner_id", "total_duration"):
        v.optional_integer(name, getattr(update, name))
    v.flag("preserve_worktrees", update.preserve_worktrees)
    runtime_mix = (None if update.runtime_mix is None
                   else v.sequence("runtime_mix", update.runtime_mix, v.text))

    def instance_status(label: str, value: object) -> tuple[int, str]:
        instance_id, status = v.pair(label, value)
        return v.integer(f"{label}.instance_id", instance_id), v.text(f"{label}.status", status)

    statuses = v.sequence("instance_statuses", update.instance_statuses, instance_status)
    return replace(update, updated_at=v.timestamp("updated_at", update.updated_at),
                   runtime_mix=runtime_mix, instance_statuses=statuses)


def instance_update(update: InstanceUpdate) -> InstanceUpdate:
    v = check("update_instance")
    if not isinstance(update, InstanceUpdate):
        raise v.fail("expected an InstanceUpdate", update)
    v.optional_text("status", update.status)
    v.optional_text("output", update.output)
    for name in ("files_changed", "lines_added", "lines_deleted"):
        v.optional_integer(name, getattr(update, name))
    return replace(update, end_time=v.optional_timestamp("end_time", update.end_time))


def completion(status: str) -> str:
    return check("complete_session").one_of("status", status, FINAL_STATUSES)


def stats(files_changed: int, lines_added: int, lines_deleted: int) -> tuple[int, int, int]:
    v = check("record_instance_stats")
    values = (
        v.integer("files_changed", files_changed),
        v.integer("lines_added", lines_added),
        v.integer("lines_deleted", lines_deleted),
    )
    if any(not 0 <= value <= MAX_STAT for value in values):
        raise v.fail(f"stats must be between 0 and {MAX_STAT}", values)
    return values


def totals_overflow(values: tuple[int, int, int]) -> ValidationError:
    """What adding ``values`` to totals that would then pass 64 bits raises."""
    return check("record_instance_stats").fail(
        f"the session's totals would pass {INT64_MAX} with these stats", values)


def session_query(query: SessionQuery, limit: int) -> tuple[SessionQuery, int]:
    v = check("search_sessions")
    if not isinstance(query, SessionQuery):
        raise v.fail("expected a SessionQuery", query)
    v.optional_integer("workspace_id", query.workspace_id)
    if query.status is not None:
        v.one_of("status", query.status, SESSION_STATUSES)
    if query.type is not None:
        v.one_of("type", query.type, SESSION_TYPES)
    v.optional_text("text", query.text)
    normalised = replace(
        query,
        created_from=v.optional_timestamp("created_from", query.created_from),
        created_to=v.optional_timestamp("created_to", query.created_to),
    )
    return normalised, v.limit(limit)


__all__ = [
    "completion",
    "instance_update",
    "new_instance",
    "new_message",
    "new_session",
    "session_query",
    "session_update",
    "stats",
]
