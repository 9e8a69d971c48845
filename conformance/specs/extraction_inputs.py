"""Value rules for the inputs of ``extraction`` operations (shared by every implementation).

Each function checks types and returns the input with every instant in UTC.
What the seed's schema enforces (CHECK, UNIQUE, FOREIGN KEY) stays with the
storage, so that a weakened schema is caught.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import fields, replace
from datetime import UTC, datetime
from types import UnionType
from typing import Any, Final

from storecheck.conformance.specs.common import Validator
from storecheck.conformance.specs.extraction import (
    MAX_SPEED,
    MIN_SPEED,
    SPEC,
    CodeBlock,
    EventCursor,
    EventFilter,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
    ProcessSessionUpdate,
    SessionTotals,
    content_digest,
)
from storecheck.conformance.specs.extraction_export import EXPORT_TABLES, ExportRecord
from storecheck.conformance.specs.json_lines import INSTANT_FORMAT

MAX_ADDITION = 2**31 - 1


def check(operation: str) -> Validator:
    return Validator(SPEC, operation)


def _json_text(v: Validator, name: str, value: Any) -> str | None:
    text = v.optional_text(name, value)
    if text is not None:
        try:
            json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):
            raise v.fail(f"{name} must be JSON text", text) from None
    return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def new_event(new: Any, operation: str = "save_event") -> NewExtractionEvent:
    v = check(operation)
    if not isinstance(new, NewExtractionEvent):
        raise v.fail("expected a NewExtractionEvent", new)
    for name in ("agent_name", "session_id", "event_type", "pattern"):
        v.text(name, getattr(new, name))
    for name in ("matched_value", "original_line", "code_block_language", "risk_level"):
        v.optional_text(name, getattr(new, name))
    v.optional_integer("line_number", new.line_number)
    _json_text(v, "metadata_json", new.metadata_json)
    if not isinstance(new.auto_confirmable, bool):
        raise v.fail("auto_confirmable must be a bool", new.auto_confirmable)
    timestamp = v.timestamp("timestamp", new.timestamp)
    return new if timestamp is new.timestamp else replace(new, timestamp=timestamp)


def event_batch(batch: Any) -> tuple[NewExtractionEvent, ...]:
    v = check("save_events")
    return v.sequence("batch", batch, lambda _, event: new_event(event, "save_events"))


def new_code_block(new: Any) -> NewCodeBlock:
    v = check("save_code_block")
    if not isinstance(new, NewCodeBlock):
        raise v.fail("expected a NewCodeBlock", new)
    for name in ("agent_name", "session_id", "content"):
        v.text(name, getattr(new, name))
    v.optional_text("language", new.language)
    v.optional_integer("line_start", new.line_start)
    v.optional_integer("line_end", new.line_end)
    _json_text(v, "context_json", new.context_json)
    v.flag("parseable", new.parseable)
    timestamp = v.timestamp("timestamp", new.timestamp)
    return new if timestamp is new.timestamp else replace(new, timestamp=timestamp)


def new_session(new: Any) -> NewProcessSession:
    v = check("create_session")
    if not isinstance(new, NewProcessSession):
        raise v.fail("expected a NewProcessSession", new)
    v.text("agent_name", new.agent_name)
    v.text("session_id", new.session_id)
    for name in ("environment", "stdout_log_path", "stderr_log_path",
                 "extraction_config_version", "environment_config_version"):
        v.optional_text(name, getattr(new, name))
    started_at = v.timestamp("started_at", new.started_at)
    return new if started_at is new.started_at else replace(new, started_at=started_at)


def session_update(update: Any) -> ProcessSessionUpdate:
    v = check("update_session")
    if not isinstance(update, ProcessSessionUpdate):
        raise v.fail("expected a ProcessSessionUpdate", update)
    for name in ("environment", "stdout_log_path", "stderr_log_path",
                 "extraction_config_version", "environment_config_version"):
        v.optional_text(name, getattr(update, name))
    return update


def progress(lines_processed: Any, extraction_events: Any,
             feedback_outcomes: Any) -> tuple[int, int, int]:
    v = check("record_progress")
    values = (v.integer("lines_processed", lines_processed),
              v.integer("extraction_events", extraction_events),
              v.integer("feedback_outcomes", feedback_outcomes))
    if any(not 0 <= value <= MAX_ADDITION for value in values):
        raise v.fail(f"each addition must be between 0 and {MAX_ADDITION}", values)
    return values


def completion(exit_code: Any, at: Any, totals: Any) -> tuple[int, datetime,
                                                              SessionTotals | None]:
    v = check("complete_session")
    code = v.integer("exit_code", exit_code)
    moment = v.timestamp("at", at)
    if totals is not None:
        if not isinstance(totals, SessionTotals):
            raise v.fail("expected a SessionTotals", totals)
        for name in ("lines_processed", "extraction_events", "feedback_outcomes"):
            v.integer(f"totals.{name}", getattr(totals, name))
    return code, moment, totals


def new_state_change(new: Any) -> NewStateChange:
    v = check("record_state_change")
    if not isinstance(new, NewStateChange):
        raise v.fail("expected a NewStateChange", new)
    v.text("session_id", new.session_id)
    v.text("state", new.state)
    v.optional_integer("exit_code", new.exit_code)
    _json_text(v, "metadata_json", new.metadata_json)
    timestamp = v.timestamp("timestamp", new.timestamp)
    return new if timestamp is new.timestamp else replace(new, timestamp=timestamp)


def window(agent_name: Any, start: Any, end: Any) -> tuple[str, datetime, datetime]:
    v = check("timeline")
    return v.text("agent_name", agent_name), v.timestamp("start", start), v.timestamp("end", end)


def history(agent_name: Any, days: Any, now: Any) -> tuple[str, datetime]:
    """The agent and the earliest ``started_at`` of ``session_history``."""
    v = check("session_history")
    count = v.integer("days", days)
    if count < 0:
        raise v.fail("days must be >= 0", days)
    return v.text("agent_name", agent_name), v.shifted("now - days", v.timestamp("now", now),
                                                       -86_400 * count)


def event_query(where: Any, limit: Any,
                after: Any) -> tuple[EventFilter, int, EventCursor | None]:
    """``query_events``'s filter, limit and cursor, the cursor's instant in UTC."""
    v = check("query_events")
    return _event_filter(v, where), v.limit(limit), v.optional_cursor("after", after, EventCursor)


def event_search(text: Any, where: Any, limit: Any) -> tuple[str, EventFilter, int]:
    """``search_events``'s text, filter and limit."""
    v = check("search_events")
    return v.text("text", text), _event_filter(v, where), v.limit(limit)


def _event_filter(v: Validator, where: Any) -> EventFilter:
    if not isinstance(where, EventFilter):
        raise v.fail("where must be an EventFilter", where)
    for field in fields(EventFilter):
        v.optional_text(f"where.{field.name}", getattr(where, field.name))
    return where


def speed(value: Any) -> float:
    v = check("replay")
    number = v.finite("speed", value)
    if not MIN_SPEED <= number <= MAX_SPEED:
        raise v.fail(f"speed must be in [{MIN_SPEED}, {MAX_SPEED}]", value)
    return number


__all__ = [
    "check",
    "completion",
    "event_batch",
    "event_query",
    "event_search",
    "history",
    "new_code_block",
    "new_event",
    "new_session",
    "new_state_change",
    "progress",
    "session_update",
    "speed",
    "window",
]


# -- import_data -----------------------------------------------------------------

JSON_FIELDS: Final = ("metadata_json", "context_json")
_INSTANT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def _refuse_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a field given twice")
    return found


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _instant(v: Validator, name: str, value: Any) -> datetime:
    text = v.text(name, value)
    try:
        if not _INSTANT.fullmatch(text):
            raise ValueError(text)
        return datetime.strptime(text, INSTANT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise v.fail(f"{name} must be an instant spelled YYYY-MM-DDTHH:MM:SS.ffffffZ",
                     value) from None


def _flag(v: Validator, name: str, value: Any) -> bool:
    if isinstance(value, bool) or value not in (0, 1):
        raise v.fail(f"{name} must be 0 or 1", value)
    return bool(value)


def _field(v: Validator, name: str, kind: Any, value: Any) -> Any:
    """``value`` read as a field of type ``kind`` (``X | None`` takes null too)."""
    if isinstance(kind, UnionType):
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if kind is datetime:
        return _instant(v, name, value)
    if kind is bool:
        return _flag(v, name, value)
    if kind is int:
        return v.integer(name, value)
    return v.text(name, value)


def _record(v: Validator, label: str, found: Any) -> ExportRecord:
    if not isinstance(found, dict):
        raise v.fail(f"{label} must be a JSON object", found)
    kinds = dict(EXPORT_TABLES)
    table = found.get("table")
    if table not in kinds:
        raise v.fail(f"{label}: table must be one of {[name for name, _ in EXPORT_TABLES]}",
                     table)
    record = kinds[table]
    hints = typing.get_type_hints(record)
    names = [f.name for f in fields(record)]
    if set(found) != {"table", *names}:
        raise v.fail(f"{label}: a {table} row has the fields {names}", sorted(found))
    values = {name: _field(v, f"{label}.{name}", hints[name], found[name]) for name in names}
    for name in JSON_FIELDS:
        text = values.get(name)
        if text is not None:
            try:
                json.loads(text, parse_constant=_refuse_constant)
            except (ValueError, RecursionError):
                raise v.fail(f"{label}.{name} must be JSON text", text) from None
    if record is CodeBlock and values["digest"] != content_digest(values["content"]):
        raise v.fail(f"{label}.digest must be the SHA-256 of its content", values["digest"])
    made: ExportRecord = record(**values)
    return made


def parse_export(data: Any) -> list[ExportRecord]:
    """The rows of an export, in its order; :class:`ValidationError` naming the first line
    that breaks a rule of the module docstring."""
    v = Validator(SPEC, "import_data")
    if not isinstance(data, bytes):
        raise v.fail("data must be bytes", data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise v.fail(f"data is not UTF-8 (byte {exc.start})", data[exc.start:exc.start + 8]) from None
    if text and not text.endswith("\n"):
        raise v.fail("data must end with a line feed, as every line of an export does",
                     text[-40:])
    records = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        try:
            found = json.loads(line, object_pairs_hook=_refuse_twice,
                               parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise v.fail(f"line {number} is not a JSON object: {exc}", line[:80]) from None
        records.append(_record(v, f"line {number}", found))
    return records
