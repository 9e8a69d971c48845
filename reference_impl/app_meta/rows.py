"""The ``app_meta`` tables' columns, and their rows read back as the spec's records."""

from __future__ import annotations

from typing import Any, Final

from storecheck.conformance.specs.app_meta import (
    Chunk,
    Document,
    Flow,
    KnowledgeBase,
    Model,
    Pipeline,
    PipelineRun,
    Schedule,
    Setting,
    Snapshot,
    StoredEvent,
    Tool,
    decode_setting,
)
from storecheck.reference_impl.engine.timestamps import from_text, optional_from_text

Row = Any

SETTING_COLUMNS: Final = "key, value, schema_version, created_at, updated_at"
KB_COLUMNS: Final = ("id, name, version, status, embedder_model, chunk_size, chunk_overlap, "
                     "description, metadata, health_score, pinned_version, created_at, updated_at")
DOCUMENT_COLUMNS: Final = ("id, kb_id, title, source_path, content_hash, size_bytes, license_info, "
                           "metadata, chunk_count, created_at, updated_at")
CHUNK_COLUMNS: Final = ("id, document_id, kb_id, chunk_index, content, content_hash, token_count, "
                        "metadata, created_at")
PIPELINE_COLUMNS: Final = "id, name, description, config, status, created_at, updated_at"
RUN_COLUMNS: Final = ("id, pipeline_id, kb_id, status, started_at, completed_at, error_message, "
                      "metrics")
TOOL_COLUMNS: Final = "id, name, type, config, schema, enabled, created_at, updated_at"
SCHEDULE_COLUMNS: Final = ("id, name, cron_expression, pipeline_id, enabled, last_run, next_run, "
                           "created_at, updated_at")
FLOW_COLUMNS: Final = "id, name, description, definition, enabled, created_at, updated_at"
MODEL_COLUMNS: Final = ("id, name, model_type, source_type, source_data, status, dimensions, "
                        "size_mb, created_at")
EVENT_COLUMNS: Final = ("id, event_id, event_type, aggregate_id, aggregate_type, sequence_number, "
                        "event_data, metadata, trace_id, user_id, timestamp, checksum")
SNAPSHOT_COLUMNS: Final = "aggregate_id, aggregate_type, sequence_number, snapshot_data, created_at"


def setting(row: Row) -> Setting:
    return Setting(row[0], decode_setting(row[1]), row[2], from_text(row[3]), from_text(row[4]))


def knowledge_base(row: Row) -> KnowledgeBase:
    return KnowledgeBase(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                         float(row[9]), row[10], from_text(row[11]), from_text(row[12]))


def document(row: Row) -> Document:
    return Document(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                    from_text(row[9]), from_text(row[10]))


def chunk(row: Row) -> Chunk:
    return Chunk(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                 from_text(row[8]))


def pipeline(row: Row) -> Pipeline:
    return Pipeline(row[0], row[1], row[2], row[3], row[4], from_text(row[5]), from_text(row[6]))


def run(row: Row) -> PipelineRun:
    return PipelineRun(row[0], row[1], row[2], row[3], optional_from_text(row[4]),
                       optional_from_text(row[5]), row[6], row[7])


def tool(row: Row) -> Tool:
    return Tool(row[0], row[1], row[2], row[3], row[4], bool(row[5]), from_text(row[6]),
                from_text(row[7]))


def schedule(row: Row) -> Schedule:
    return Schedule(row[0], row[1], row[2], row[3], bool(row[4]), optional_from_text(row[5]),
                    from_text(row[6]), from_text(row[7]), from_text(row[8]))


def flow(row: Row) -> Flow:
    return Flow(row[0], row[1], row[2], row[3], bool(row[4]), from_text(row[5]), from_text(row[6]))


def model(row: Row) -> Model:
    return Model(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], from_text(row[8]))


def event(row: Row) -> StoredEvent:
    return StoredEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                       row[9], from_text(row[10]), row[11])


def snapshot(row: Row) -> Snapshot:
    return Snapshot(row[0], row[1], row[2], row[3], from_text(row[4]))
