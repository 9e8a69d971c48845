"""Conversions between ``extraction`` records and SQLite rows."""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs.extraction import (
    CodeBlock,
    ExtractionEvent,
    ProcessSession,
    StateChange,
)
from storecheck.reference_impl.engine.timestamps import from_text, optional_from_text

EVENT_COLUMNS = ("id, agent_name, session_id, timestamp, event_type, pattern, matched_value, "
                 "original_line, line_number, metadata_json, code_block_language, risk_level, "
                 "auto_confirmable")
BLOCK_COLUMNS = ("id, agent_name, session_id, timestamp, content, digest, language, line_start, "
                 "line_end, context_json, parseable")
SESSION_COLUMNS = ("id, agent_name, session_id, started_at, environment, ended_at, exit_code, "
                   "total_lines_processed, total_extraction_events, total_feedback_outcomes, "
                   "stdout_log_path, stderr_log_path, extraction_config_version, "
                   "environment_config_version")
CHANGE_COLUMNS = "id, session_id, timestamp, state, exit_code, metadata_json"


def event(row: Any) -> ExtractionEvent:
    return ExtractionEvent(row[0], row[1], row[2], from_text(row[3]), row[4], row[5], row[6],
                           row[7], row[8], row[9], row[10], row[11], bool(row[12]))


def block(row: Any) -> CodeBlock:
    return CodeBlock(row[0], row[1], row[2], from_text(row[3]), row[4], row[5], row[6], row[7],
                     row[8], row[9], None if row[10] is None else bool(row[10]))


def session(row: Any) -> ProcessSession:
    return ProcessSession(row[0], row[1], row[2], from_text(row[3]), row[4],
                          optional_from_text(row[5]), row[6], row[7], row[8], row[9], row[10],
                          row[11], row[12], row[13])


def change(row: Any) -> StateChange:
    return StateChange(row[0], row[1], from_text(row[2]), row[3], row[4], row[5])
