"""Value rules for the inputs of ``app_meta`` operations (shared by every implementation).

Each function checks types and returns the input with every instant in UTC.
What the schema enforces (enums, ranges, UNIQUE, FOREIGN KEY) stays with the
storage, so that a weakened schema is caught.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from storecheck.conformance.specs import cron
from storecheck.conformance.specs.app_meta import (
    MAX_BATCH,
    RUN_STATUSES,
    SPEC,
    NewChunk,
    NewDocument,
    NewEvent,
    NewFlow,
    NewKnowledgeBase,
    NewModel,
    NewPipeline,
    NewRun,
    NewSchedule,
    NewTool,
    SettingValue,
)
from storecheck.conformance.specs.common import Validator

R = TypeVar("R")

def check(operation: str) -> Validator:
    return Validator(SPEC, operation)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def json_text(v: Validator, name: str, value: Any, *, object_required: bool = False) -> str:
    text = v.text(name, value)
    try:
        parsed = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise v.fail(f"{name} must be JSON text", text) from None
    if object_required and not isinstance(parsed, dict):
        raise v.fail(f"{name} must be a JSON object", text)
    return text


def optional_json(v: Validator, name: str, value: Any) -> str | None:
    return None if value is None else json_text(v, name, value)


def flag(v: Validator, name: str, value: Any) -> bool:
    """A bool, never None (the spec's flags are not optional)."""
    if not isinstance(value, bool):
        raise v.fail(f"{name} must be a bool", value)
    return value


def record(v: Validator, name: str, value: Any, kind: type[R]) -> R:
    if not isinstance(value, kind):
        raise v.fail(f"{name} must be a {kind.__name__}", value)
    return value


def setting(key: Any, value: Any, at: Any, schema_version: Any) -> tuple[str, SettingValue,
                                                                           datetime, int]:
    v = check("put_setting")
    key = v.text("key", key)
    if isinstance(value, bool | str):
        checked: SettingValue = v.text("value", value) if isinstance(value, str) else value
    elif isinstance(value, int):
        checked = v.integer("value", value)
    elif isinstance(value, float):
        checked = v.finite("value", value)
    else:
        raise v.fail("value must be a bool, int, float or str", value)
    return key, checked, v.timestamp("at", at), v.integer("schema_version", schema_version)


def new_knowledge_base(given: Any) -> NewKnowledgeBase:
    v = check("create_knowledge_base")
    new = record(v, "new", given, NewKnowledgeBase)
    return replace(
        new, id=v.text("id", new.id), name=v.text("name", new.name),
        embedder_model=v.text("embedder_model", new.embedder_model),
        created_at=v.timestamp("created_at", new.created_at),
        version=v.integer("version", new.version), status=v.text("status", new.status),
        chunk_size=v.integer("chunk_size", new.chunk_size),
        chunk_overlap=v.integer("chunk_overlap", new.chunk_overlap),
        description=v.optional_text("description", new.description),
        metadata_json=optional_json(v, "metadata_json", new.metadata_json))


def kb_update(kb_id: Any, at: Any, status: Any, health_score: Any) -> tuple[
        str, datetime, str | None, float | None]:
    v = check("update_knowledge_base")
    return (v.text("kb_id", kb_id), v.timestamp("at", at), v.optional_text("status", status),
            None if health_score is None else v.finite("health_score", health_score))


def new_document(given: Any) -> NewDocument:
    v = check("add_document")
    new = record(v, "new", given, NewDocument)
    return replace(
        new, id=v.text("id", new.id), kb_id=v.text("kb_id", new.kb_id),
        title=v.text("title", new.title), source_path=v.text("source_path", new.source_path),
        content_hash=v.text("content_hash", new.content_hash),
        size_bytes=v.integer("size_bytes", new.size_bytes),
        created_at=v.timestamp("created_at", new.created_at),
        license_info=v.optional_text("license_info", new.license_info),
        metadata_json=optional_json(v, "metadata_json", new.metadata_json))


def document_update(document_id: Any, at: Any, title: Any, license_info: Any,
                    metadata_json: Any) -> tuple[str, datetime, str | None, str | None,
                                                 str | None]:
    v = check("update_document")
    return (v.text("document_id", document_id), v.timestamp("at", at),
            v.optional_text("title", title), v.optional_text("license_info", license_info),
            optional_json(v, "metadata_json", metadata_json))


def chunks(document_id: Any, given: Any, at: Any) -> tuple[str, tuple[NewChunk, ...], datetime]:
    v = check("replace_chunks")

    def chunk(label: str, item: Any) -> NewChunk:
        item = record(v, label, item, NewChunk)
        return NewChunk(v.text(f"{label}.id", item.id), v.text(f"{label}.content", item.content),
                        v.optional_integer(f"{label}.token_count", item.token_count),
                        optional_json(v, f"{label}.metadata_json", item.metadata_json))

    checked = v.sequence("chunks", given, chunk)
    if len(checked) > MAX_BATCH * 10:
        raise v.fail(f"at most {MAX_BATCH * 10} chunks per document", len(checked))
    return v.text("document_id", document_id), checked, v.timestamp("at", at)


def new_pipeline(given: Any) -> NewPipeline:
    v = check("create_pipeline")
    new = record(v, "new", given, NewPipeline)
    return replace(
        new, id=v.text("id", new.id), name=v.text("name", new.name),
        config_json=json_text(v, "config_json", new.config_json, object_required=True),
        created_at=v.timestamp("created_at", new.created_at),
        status=v.text("status", new.status),
        description=v.optional_text("description", new.description))


def pipeline_update(pipeline_id: Any, at: Any, name: Any, description: Any, config_json: Any,
                    status: Any) -> tuple[str, datetime, str | None, str | None, str | None,
                                          str | None]:
    v = check("update_pipeline")
    config = None if config_json is None else json_text(v, "config_json", config_json,
                                                        object_required=True)
    return (v.text("pipeline_id", pipeline_id), v.timestamp("at", at),
            v.optional_text("name", name), v.optional_text("description", description), config,
            v.optional_text("status", status))


def tool_update(tool_id: Any, at: Any, name: Any, config_json: Any,
                schema_json: Any) -> tuple[str, datetime, str | None, str | None, str | None]:
    v = check("update_tool")
    return (v.text("tool_id", tool_id), v.timestamp("at", at), v.optional_text("name", name),
            optional_json(v, "config_json", config_json),
            optional_json(v, "schema_json", schema_json))


def flow_update(flow_id: Any, at: Any, name: Any, description: Any,
                definition_json: Any) -> tuple[str, datetime, str | None, str | None, str | None]:
    v = check("update_flow")
    return (v.text("flow_id", flow_id), v.timestamp("at", at), v.optional_text("name", name),
            v.optional_text("description", description),
            optional_json(v, "definition_json", definition_json))


def new_run(new: Any) -> NewRun:
    v = check("create_run")
    new = record(v, "new", new, NewRun)
    return NewRun(v.text("id", new.id), v.text("pipeline_id", new.pipeline_id),
                  v.optional_text("kb_id", new.kb_id))


def transition(run_id: Any, status: Any, at: Any, error_message: Any,
               metrics_json: Any) -> tuple[str, str, datetime, str | None, str | None]:
    """``status`` names a move, so one outside :data:`RUN_STATUSES` is a ValidationError."""
    v = check("transition_run")
    return (v.text("run_id", run_id), v.one_of("status", status, RUN_STATUSES),
            v.timestamp("at", at), v.optional_text("error_message", error_message),
            optional_json(v, "metrics_json", metrics_json))


def new_tool(new: Any) -> NewTool:
    v = check("register_tool")
    new = record(v, "new", new, NewTool)
    enabled = flag(v, "enabled", new.enabled)
    return NewTool(v.text("id", new.id), v.text("name", new.name), v.text("type", new.type),
                   json_text(v, "config_json", new.config_json),
                   json_text(v, "schema_json", new.schema_json),
                   v.timestamp("created_at", new.created_at), enabled)


def switch(operation: str, item_id: Any, enabled: Any, at: Any) -> tuple[str, bool, datetime]:
    v = check(operation)
    return v.text("id", item_id), flag(v, "enabled", enabled), v.timestamp("at", at)


def new_schedule(new: Any) -> tuple[NewSchedule, cron.Cron]:
    v = check("create_schedule")
    new = record(v, "new", new, NewSchedule)
    expression = v.text("cron_expression", new.cron_expression)
    try:
        parsed = cron.parse(expression)
    except cron.CronError as exc:
        raise v.fail(f"cron_expression: {exc}", expression) from None
    enabled = flag(v, "enabled", new.enabled)
    return NewSchedule(v.text("id", new.id), v.text("name", new.name), expression,
                       v.text("pipeline_id", new.pipeline_id),
                       v.timestamp("created_at", new.created_at), enabled), parsed


def schedule_update(schedule_id: Any, at: Any, name: Any,
                    cron_expression: Any) -> tuple[str, datetime, str | None, str | None]:
    v = check("update_schedule")
    schedule_id, at = v.text("schedule_id", schedule_id), v.timestamp("at", at)
    name, expression = v.optional_text("name", name), v.optional_text("cron_expression",
                                                                      cron_expression)
    if expression is not None:
        try:
            cron.parse(expression)
        except cron.CronError as exc:
            raise v.fail(f"cron_expression: {exc}", expression) from None
    return schedule_id, at, name, expression


def next_run(operation: str, expression: str, after: datetime) -> datetime:
    """The next firing after ``after``; an expression whose next firing lies past the
    year 9999 is refused like any other instant out of range."""
    found = cron.next_fire(cron.parse(expression), after)
    if found is None:
        raise check(operation).fail("the schedule never fires again before the year 10000",
                                    after)
    return found


def new_flow(new: Any) -> NewFlow:
    v = check("create_flow")
    new = record(v, "new", new, NewFlow)
    enabled = flag(v, "enabled", new.enabled)
    return NewFlow(v.text("id", new.id), v.text("name", new.name),
                   json_text(v, "definition_json", new.definition_json),
                   v.timestamp("created_at", new.created_at), enabled,
                   v.optional_text("description", new.description))


def new_model(new: Any) -> NewModel:
    v = check("register_model")
    new = record(v, "new", new, NewModel)
    return NewModel(v.text("id", new.id), v.text("name", new.name),
                    v.text("model_type", new.model_type), v.text("source_type", new.source_type),
                    json_text(v, "source_data_json", new.source_data_json),
                    v.text("status", new.status), v.timestamp("created_at", new.created_at),
                    v.optional_integer("dimensions", new.dimensions),
                    v.optional_integer("size_mb", new.size_mb))


def append(aggregate_id: Any, aggregate_type: Any, expected_version: Any,
           events: Any) -> tuple[str, str, int, tuple[NewEvent, ...]]:
    v = check("append_events")

    def event(label: str, item: Any) -> NewEvent:
        item = record(v, label, item, NewEvent)
        return NewEvent(v.text(f"{label}.event_id", item.event_id),
                        v.text(f"{label}.event_type", item.event_type),
                        json_text(v, f"{label}.data_json", item.data_json, object_required=True),
                        v.timestamp(f"{label}.timestamp", item.timestamp),
                        optional_json(v, f"{label}.metadata_json", item.metadata_json),
                        v.optional_text(f"{label}.trace_id", item.trace_id),
                        v.optional_text(f"{label}.user_id", item.user_id))

    checked = v.sequence("events", events, event)
    if not 1 <= len(checked) <= MAX_BATCH:
        raise v.fail(f"an append holds 1 to {MAX_BATCH} events", len(checked))
    expected = v.integer("expected_version", expected_version)
    if expected < 0:
        raise v.fail("expected_version is 0 or more", expected)
    return v.text("aggregate_id", aggregate_id), v.text("aggregate_type", aggregate_type), \
        expected, checked


def version(operation: str, name: str, value: Any, minimum: int) -> int:
    v = check(operation)
    number = v.integer(name, value)
    if number < minimum:
        raise v.fail(f"{name} is {minimum} or more", number)
    return number


def snapshot(aggregate_id: Any, version_: Any, state_json: Any, at: Any) -> tuple[
        str, int, str, datetime]:
    v = check("save_snapshot")
    return (v.text("aggregate_id", aggregate_id),
            version("save_snapshot", "version", version_, 1),
            json_text(v, "state_json", state_json, object_required=True),
            v.timestamp("at", at))


def feed(after_position: Any, limit: Any) -> tuple[int, int]:
    v = check("read_feed")
    return version("read_feed", "after_position", after_position, 0), v.limit(limit)


def checkpoint(processor: Any, position: Any, at: Any) -> tuple[str, int, datetime]:
    v = check("set_checkpoint")
    return (v.text("processor", processor), version("set_checkpoint", "position", position, 0),
            v.timestamp("at", at))


def texts(operation: str, **values: Any) -> list[str]:
    v = check(operation)
    return [v.text(name, value) for name, value in values.items()]


def optional_filter(operation: str, name: str, value: Any) -> str | None:
    return check(operation).optional_text(name, value)
