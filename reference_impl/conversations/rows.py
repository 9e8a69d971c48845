"""Conversions between ``conversations`` records and SQLite rows."""

from __future__ import annotations

import json
from typing import Any

from storecheck.conformance.specs.conversations import Conversation, Job, Learning, Message, Upload
from storecheck.reference_impl.engine.timestamps import from_text, optional_from_text

CONVERSATION_COLUMNS = "id, title, metadata, created_at, updated_at, deleted_at"
MESSAGE_COLUMNS = "id, conversation_id, role, content, timestamp"
LEARNING_COLUMNS = "id, conversation_id, category, content, confidence, created_at, updated_at"
JOB_COLUMNS = ("id, type, payload, priority, status, attempts, max_attempts, run_after, "
               "lease_until, worker, last_error, created_at")
UPLOAD_COLUMNS = ("id, conversation_id, file_name, size_bytes, mime_type, checksum, storage_path, "
                  "created_at")


def conversation(row: Any) -> Conversation:
    return Conversation(row[0], row[1], json.loads(row[2]), from_text(row[3]), from_text(row[4]),
                        optional_from_text(row[5]))


def message(row: Any) -> Message:
    return Message(row[0], row[1], row[2], row[3], from_text(row[4]))


def learning(row: Any, tags: tuple[str, ...]) -> Learning:
    return Learning(row[0], row[1], row[2], row[3], tags, row[4], from_text(row[5]),
                    from_text(row[6]))


def job(row: Any) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], row[5], row[6], from_text(row[7]),
               optional_from_text(row[8]), row[9], row[10], from_text(row[11]))


def upload(row: Any) -> Upload:
    return Upload(row[0], row[1], row[2], row[3], row[4], row[5], row[6], from_text(row[7]))
