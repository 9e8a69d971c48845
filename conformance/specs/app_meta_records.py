"""The records of spec ``app_meta`` (seed 001): what its operations take and return.

The rules they obey are the spec's (:mod:`storecheck.conformance.specs.app_meta`), which
names every record here again, so either module may be imported for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SettingValue = bool | int | float | str
"""What a setting holds; its type survives the round trip."""


@dataclass(frozen=True)
class Setting:
    key: str
    value: SettingValue
    schema_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewKnowledgeBase:
    id: str
    name: str
    embedder_model: str
    created_at: datetime
    version: int = 1
    status: str = "building"
    chunk_size: int = 512
    chunk_overlap: int = 50
    description: str | None = None
    metadata_json: str | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    id: str
    name: str
    version: int
    status: str
    embedder_model: str
    chunk_size: int
    chunk_overlap: int
    description: str | None
    metadata_json: str | None
    health_score: float
    """1.0 when created."""
    pinned_version: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewDocument:
    id: str
    kb_id: str
    title: str
    source_path: str
    content_hash: str
    size_bytes: int
    created_at: datetime
    license_info: str | None = None
    metadata_json: str | None = None


@dataclass(frozen=True)
class Document:
    id: str
    kb_id: str
    title: str
    source_path: str
    content_hash: str
    size_bytes: int
    license_info: str | None
    metadata_json: str | None
    chunk_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewChunk:
    id: str
    content: str
    token_count: int | None = None
    metadata_json: str | None = None


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    kb_id: str
    chunk_index: int
    content: str
    content_hash: str
    token_count: int | None
    metadata_json: str | None
    created_at: datetime


@dataclass(frozen=True)
class DeletedKnowledgeBase:
    documents: int
    chunks: int


@dataclass(frozen=True)
class NewPipeline:
    id: str
    name: str
    config_json: str
    created_at: datetime
    status: str = "draft"
    description: str | None = None


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    description: str | None
    config_json: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewRun:
    id: str
    pipeline_id: str
    kb_id: str | None = None


@dataclass(frozen=True)
class PipelineRun:
    id: str
    pipeline_id: str
    kb_id: str | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    metrics_json: str | None


@dataclass(frozen=True)
class NewTool:
    id: str
    name: str
    type: str
    config_json: str
    schema_json: str
    created_at: datetime
    enabled: bool = True


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    type: str
    config_json: str
    schema_json: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewSchedule:
    id: str
    name: str
    cron_expression: str
    pipeline_id: str
    created_at: datetime
    enabled: bool = True


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    cron_expression: str
    pipeline_id: str
    enabled: bool
    last_run: datetime | None
    next_run: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewFlow:
    id: str
    name: str
    definition_json: str
    created_at: datetime
    enabled: bool = True
    description: str | None = None


@dataclass(frozen=True)
class Flow:
    id: str
    name: str
    description: str | None
    definition_json: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewModel:
    id: str
    name: str
    model_type: str
    source_type: str
    source_data_json: str
    status: str
    created_at: datetime
    dimensions: int | None = None
    size_mb: int | None = None


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    model_type: str
    source_type: str
    source_data_json: str
    status: str
    dimensions: int | None
    size_mb: int | None
    created_at: datetime


@dataclass(frozen=True)
class NewEvent:
    event_id: str
    event_type: str
    data_json: str
    """A JSON object."""
    timestamp: datetime
    metadata_json: str | None = None
    trace_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    position: int
    """Store-assigned: global, increasing in commit order."""
    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_type: str
    sequence_number: int
    data_json: str
    metadata_json: str | None
    trace_id: str | None
    user_id: str | None
    timestamp: datetime
    checksum: str


@dataclass(frozen=True)
class Snapshot:
    aggregate_id: str
    aggregate_type: str
    version: int
    state_json: str
    created_at: datetime


@dataclass(frozen=True)
class LoadedAggregate:
    aggregate_id: str
    aggregate_type: str
    version: int
    snapshot: Snapshot | None
    events: tuple[StoredEvent, ...]
    """The events after the snapshot (all of them without one), in sequence order."""
