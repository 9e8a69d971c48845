"""Value rules for the inputs of ``conversations`` operations (shared by every implementation)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storecheck.conformance.specs.common import Validator
from storecheck.conformance.specs.conversations import SPEC, LearningQuery, NewJob, NewUpload

MAX_LEASE_SECONDS = 86_400.0


def check(operation: str) -> Validator:
    return Validator(SPEC, operation)


def metadata(operation: str, value: Any) -> dict[str, str]:
    v = check(operation)
    if not isinstance(value, Mapping):
        raise v.fail("metadata must be a mapping of str to str", value)
    return {v.text("metadata key", key): v.text("metadata value", item) for key, item in value.items()}


def tags(operation: str, value: Any) -> tuple[str, ...]:
    v = check(operation)
    cleaned = set(v.sequence("tags", value, v.text))
    if "" in cleaned:
        raise v.fail("a tag must not be empty", value)
    return tuple(sorted(cleaned))


def confidence(operation: str, value: Any) -> float:
    v = check(operation)
    number = v.finite("confidence", value)
    if not 0.0 <= number <= 1.0:
        raise v.fail("confidence must be between 0 and 1", value)
    return number


def new_job(job: Any) -> NewJob:
    v = check("enqueue")
    if not isinstance(job, NewJob):
        raise v.fail("expected a NewJob", job)
    v.text("type", job.type)
    payload = v.text("payload", job.payload)
    try:
        json.loads(payload, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise v.fail("payload must be JSON text", payload) from None
    v.integer("priority", job.priority)
    attempts = v.integer("max_attempts", job.max_attempts)
    if attempts < 1:
        raise v.fail("max_attempts must be at least 1", attempts)
    v.optional_timestamp("run_after", job.run_after)
    return job


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def dequeue_arguments(worker: Any, now: Any, lease_seconds: Any) -> tuple[datetime, datetime]:
    """The arguments of ``dequeue``: the instant (UTC) and the end of the lease."""
    v = check("dequeue")
    v.text("worker", worker)
    moment = v.timestamp("now", now)
    seconds = v.finite("lease_seconds", lease_seconds)
    if not 0 < seconds <= MAX_LEASE_SECONDS:
        raise v.fail(f"lease_seconds must be in (0, {MAX_LEASE_SECONDS:g}]", lease_seconds)
    return moment, v.shifted("now + lease_seconds", moment, seconds)


def retry_time(operation: str, now: datetime, backoff: float) -> datetime:
    """When a failed job runs again (refused past the year 9999)."""
    return check(operation).shifted("now + backoff (the retry time)", now, backoff)


def purge_cutoff(older_than_days: Any, now: Any) -> datetime:
    """The instant before which ``purge_conversations`` deletes (UTC)."""
    v = check("purge_conversations")
    days = v.integer("older_than_days", older_than_days)
    if days < 0:
        raise v.fail("older_than_days must be >= 0", days)
    return v.shifted("now - older_than_days", v.timestamp("now", now), -86_400 * days)


def new_upload(upload: Any) -> NewUpload:
    v = check("create_upload")
    if not isinstance(upload, NewUpload):
        raise v.fail("expected a NewUpload", upload)
    for name in ("file_name", "mime_type", "checksum", "storage_path"):
        v.text(name, getattr(upload, name))
    v.integer("size_bytes", upload.size_bytes)
    return upload


def learning_query(query: Any, limit: Any) -> tuple[LearningQuery, int]:
    v = check("search_learnings")
    if not isinstance(query, LearningQuery):
        raise v.fail("expected a LearningQuery", query)
    v.optional_text("text", query.text)
    v.optional_text("category", query.category)
    normalised = LearningQuery(
        text=query.text,
        category=query.category,
        tags=tags("search_learnings", query.tags),
        min_confidence=None if query.min_confidence is None
        else v.finite("min_confidence", query.min_confidence),
    )
    return normalised, v.limit(limit)


__all__ = [
    "check",
    "confidence",
    "dequeue_arguments",
    "learning_query",
    "metadata",
    "new_job",
    "new_upload",
    "purge_cutoff",
    "retry_time",
    "tags",
]
