"""Spec ``app_meta``: the application metadata and event store of seed 001 (RAG Studio).

A desktop application keeps its settings, knowledge bases with their
documents and chunks, pipelines and their runs, tools, schedules, flows and
models in one SQLite database, beside an event store (events, aggregate
snapshots, processor checkpoints) that lives in the same file (the seed's MVP
layout) or in a second file written with ``synchronous=FULL`` (its production
layout).  The tables are those of the real application's public migrations;
what the seed leaves open is decided below.  Rules beyond the records' types:

* Time is always passed in, timezone-aware, and returned in UTC with
  microseconds.  Ids are the caller's (the application uses UUIDs), except the
  event store's positions, which the store assigns.
* Settings: a key holds one :data:`SettingValue` (a bool, an int, a float or a
  str) and reads back as the same type and value (``True`` is not ``1``, ``1.0``
  is not ``1``); floats must be finite.  ``put_setting`` creates or replaces;
  its ``schema_version`` may not go below the stored one (:class:`Conflict`: an
  older client must not overwrite a newer format).  Settings list by key.
* Knowledge bases: ``(name, version)`` is unique; ``status`` is one of
  :data:`KB_STATUSES`; ``0 <= chunk_overlap < chunk_size``; ``health_score`` in
  [0, 1].  ``pin_version`` names a version of a knowledge base with the same
  name (else :class:`NotFound`), or ``None`` to unpin.  Knowledge bases list by
  name, then version.  ``delete_knowledge_base`` takes its documents and their
  chunks with it (the seed's cascade) and is refused while a pipeline run names
  it (``ConstraintViolation(FOREIGN_KEY)``).
* Documents: ``chunk_count`` always equals the number of stored chunks.
  ``replace_chunks`` swaps a document's chunks for the given ones in one
  transaction: chunk ``i`` of the list gets ``chunk_index`` ``i``, its
  ``content_hash`` is :func:`content_hash` of its content, and the document's
  ``chunk_count`` and ``updated_at`` follow.  Documents list by ``created_at``,
  then id; chunks by index.
* Pipelines: ``name`` is unique; ``config_json`` is a JSON object; pipelines
  list by name, then id.  A run starts ``pending``; :data:`RUN_TRANSITIONS`
  are the only legal moves (anything else, a run moved to its own status
  included, is :class:`Conflict`).  Moving to ``running`` sets ``started_at``;
  moving to an end status sets ``completed_at``, which may not come before ``started_at``
  (CHECK); ``failed`` requires an error message and only ``failed`` may carry
  one.  Runs list not-yet-started first, then by
  ``started_at`` newest first, ties by id.  ``delete_pipeline`` is refused while
  a run or a schedule names it (``ConstraintViolation(FOREIGN_KEY)``: the
  seed's keys have no cascade, and silently deleting run history is the worse
  bug).
* Schedules: ``cron_expression`` is read by :mod:`.cron` (UTC);
  ``next_run`` is :func:`~.cron.next_fire` after the creation instant, after
  each recorded run, after the instant a schedule is enabled again (missed
  runs are not made up), and after the instant its expression is changed by
  ``update_schedule`` (a name alone changes no time).  Schedule names are
  unique.  ``due_schedules(at)`` lists the enabled schedules with
  ``next_run <= at``, oldest ``next_run`` first, ties by id.
* Tools, flows and models: ``name`` is unique for tools and flows; their JSON
  fields must parse.  Models (schema version 2, the application's "add models
  table" step) have a type and source from :data:`MODEL_TYPES` and
  :data:`MODEL_SOURCES`.  Each lists by name, then id.  Nothing names a tool, a
  schedule or a flow, so each is deleted alone; once its schedules are
  deleted, a pipeline without runs can be.  An update of a pipeline, a tool, a
  flow, a schedule or a document holds its fields to the rules of their creation
  (a name still unique and not empty, JSON that parses); a field given as
  ``None`` is left as it is, so a description cannot be cleared, only replaced.
* Events: an aggregate's stream is its id; its type is fixed by its first
  event (another type is :class:`Conflict`).  ``append_events(aggregate,
  expected_version, events)`` appends 1 to :data:`MAX_BATCH` events when the
  stream's version (its last sequence number, 0 when empty) equals
  ``expected_version``; otherwise it is :class:`Conflict` and writes nothing.
  Sequence numbers continue the stream without gaps; positions are global,
  increasing in commit order, and never reused.  Each stored event carries
  :func:`event_checksum`; a read that finds an event whose fields no longer
  match its checksum raises ``StorageFailed(CORRUPT)`` naming the event, and
  returns none of them.
* Undo and redo (seed lines 79, 168) are the application's use of the event
  store, not operations of it: an undo appends the compensating event, and a
  state as of an earlier version is :func:`replay` of ``read_events`` up to it.
  The seed says nothing of what an undone event becomes (hidden, deleted,
  marked), so the store keeps every event as appended and adds no operation
  whose rules would have to be guessed.
* Snapshots: ``save_snapshot`` stores the state of an aggregate at a version
  between 1 and its current version, newer than its stored snapshot (else
  :class:`Conflict`); one snapshot per aggregate, the newest.
  ``load_aggregate`` returns the snapshot and the events after it, so that
  :func:`replay` of the snapshot's state over those events equals the replay of
  the whole stream (for a snapshot saved with the replayed state).
* The feed: ``read_feed(after, limit)`` returns events with ``position >
  after``, ascending.  A processor that reads after its checkpoint never skips
  an event: an event that becomes visible later never has a lower position
  than one already visible.  ``set_checkpoint`` moves a processor's position
  forward only (back is :class:`Conflict`; the same position changes
  nothing); ``get_checkpoint`` is 0 for an unknown processor.

Errors.  An operation addressing a missing setting, knowledge base, document,
pipeline, run, schedule, tool, flow or aggregate raises :class:`NotFound`; a
record naming a missing parent: ``ConstraintViolation(FOREIGN_KEY)``; a taken
id, name, ``(name, version)``, chunk id or event id:
``ConstraintViolation(UNIQUE)``; an empty id or name (a setting's key, a
knowledge base's embedder model and a tool's type count as names), a value
outside an enum, a number outside its range: ``ConstraintViolation(CHECK)``.
The ranges: a knowledge base's version, chunk size and pinned version, a
setting's schema version and a model's dimensions are 1 or more; a size (bytes
or MB), a token count and a chunk index 0 or more; ``health_score`` and the
overlap as above.  A wrong
type, a naive instant, NaN or an infinity, JSON that does not parse or is not
an object where one is required, a bad cron expression, a run status outside
:data:`RUN_STATUSES` asked of ``transition_run`` (it names a move, not a stored
value), an empty or oversized event batch, a version or position below its
minimum, a limit outside 1 to 1,000: :class:`ValidationError`.  A batch (chunks,
events) is written item by item: the first bad item's error wins.  When one
call breaks several rules the first applies in this order: ValidationError,
NotFound, Conflict, CHECK, UNIQUE, FOREIGN KEY.

Threads.  One store object may be shared by any number of threads; ``atomic()``
belongs to the calling thread.

Files (a store on SQLite, capability ``stated_settings``).  The production layout's
event file, reported as ``"events"``, is written with ``synchronous=FULL``: an event the
caller saw committed survives a power cut, not only a crash (seed lines 22, 76).  The
application's file (``"main"``, the only one of the MVP layout) keeps the common
settings, ``synchronous=NORMAL``.  In either layout an ``atomic()`` block is all or
nothing, a crash of its process included: a block whose commit did not return may be
stored or not, but never its events without its other writes, nor the reverse, once
the store is open again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from storecheck.conformance.specs.app_meta_records import (
    Chunk as Chunk,
    DeletedKnowledgeBase as DeletedKnowledgeBase,
    Document as Document,
    Flow as Flow,
    KnowledgeBase as KnowledgeBase,
    LoadedAggregate as LoadedAggregate,
    Model as Model,
    NewChunk as NewChunk,
    NewDocument as NewDocument,
    NewEvent as NewEvent,
    NewFlow as NewFlow,
    NewKnowledgeBase as NewKnowledgeBase,
    NewModel as NewModel,
    NewPipeline as NewPipeline,
    NewRun as NewRun,
    NewSchedule as NewSchedule,
    NewTool as NewTool,
    Pipeline as Pipeline,
    PipelineRun as PipelineRun,
    Schedule as Schedule,
    Setting as Setting,
    SettingValue as SettingValue,
    Snapshot as Snapshot,
    StoredEvent as StoredEvent,
    Tool as Tool,
)
from storecheck.conformance.specs.common import (
    SQLITE_FILE_SETTINGS,
    SQLITE_FILES,
    ForeignKey,
    Operation,
)

SPEC: Final = "app_meta"
SEED: Final = "001_aa82f72db502c55c.txt"
SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2)
"""1: the application's initial schema; 2: its "add models table" step."""
KB_STATUSES: Final[tuple[str, ...]] = ("active", "inactive", "building", "error")
PIPELINE_STATUSES: Final[tuple[str, ...]] = ("active", "inactive", "draft")
RUN_STATUSES: Final[tuple[str, ...]] = ("pending", "running", "completed", "failed",
                                        "cancelled")
RUN_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "pending": frozenset({"running", "cancelled"}),
    "running": frozenset({"completed", "failed", "cancelled"}),
}
MODEL_TYPES: Final[tuple[str, ...]] = ("embedding", "reranking", "combined")
MODEL_SOURCES: Final[tuple[str, ...]] = ("huggingface", "local", "bundled", "manual")
MODEL_STATUSES: Final[tuple[str, ...]] = ("available", "downloading", "error", "not_downloaded")
MAX_BATCH: Final = 1_000
FILES: Final[Mapping[str, Mapping[str, str]]] = {
    **SQLITE_FILES, "events": {**SQLITE_FILE_SETTINGS, "synchronous": "2"}}
"""The files of a store on SQLite and their settings (``synchronous`` 2 is FULL)."""


FOREIGN_KEYS: Final[tuple[ForeignKey, ...]] = (
    ForeignKey("documents", "kb_id", "knowledge_bases", "id", "CASCADE"),
    ForeignKey("document_chunks", "document_id", "documents", "id", "CASCADE"),
    ForeignKey("document_chunks", "kb_id", "knowledge_bases", "id", "CASCADE"),
    ForeignKey("pipeline_runs", "pipeline_id", "pipelines", "id", "NO ACTION"),
    ForeignKey("pipeline_runs", "kb_id", "knowledge_bases", "id", "NO ACTION"),
    ForeignKey("schedules", "pipeline_id", "pipelines", "id", "NO ACTION"),
)
"""The seed's keys: documents and chunks cascade; runs and schedules restrict."""

STORE_ASSIGNED_IDS: Final[dict[tuple[str, str], str]] = {
    ("StoredEvent", "position"): "event_position",
}


# --- the rules themselves ----------------------------------------------------


def encode_setting(value: SettingValue) -> str:
    """A setting's stored JSON: its type survives the round trip (``1.0`` stays a float)."""
    return json.dumps(value, allow_nan=False)


def decode_setting(text: str) -> SettingValue:
    value = json.loads(text)
    if not isinstance(value, bool | int | float | str):
        raise ValueError(f"not a setting value: {text!r}")
    return value


def content_hash(content: str) -> str:
    """SHA-256 (lowercase hex) of the chunk's UTF-8 text."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def event_checksum(event_id: str, event_type: str, aggregate_id: str, aggregate_type: str,
                   sequence_number: int, data_json: str, metadata_json: str | None,
                   trace_id: str | None, user_id: str | None, timestamp: datetime) -> str:
    """SHA-256 (lowercase hex) of the event's fields as one canonical JSON array."""
    fields = [event_id, event_type, aggregate_id, aggregate_type, sequence_number, data_json,
              metadata_json, trace_id, user_id, timestamp.isoformat(timespec="microseconds")]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def replay(state: Mapping[str, Any], events: Sequence[StoredEvent]) -> dict[str, Any]:
    """An aggregate's state: each event's data (a JSON object) merged over the state in
    sequence order, a key whose new value is ``null`` removed."""
    current = dict(state)
    for event in events:
        for key, value in json.loads(event.data_json).items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
    return current


BUNDLED_MODELS: Final[tuple[Model, ...]] = (
    Model("sentence-transformers/all-MiniLM-L6-v2", "All MiniLM L6 v2", "embedding", "bundled",
          '{"repo_id": "sentence-transformers/all-MiniLM-L6-v2", "version": "v2.2.2"}',
          "available", 384, 90, datetime(2024, 1, 2, tzinfo=UTC)),
)
"""The model the application ships: every store holds it from schema version 2 on."""


class AppMetaStore(Protocol):
    """The operations of seed 001's ``SqlService`` and its tables."""

    # settings
    def put_setting(self, key: str, value: SettingValue, at: datetime,
                    schema_version: int = 1) -> Setting: ...

    def get_setting(self, key: str) -> Setting: ...

    def list_settings(self) -> list[Setting]: ...

    def delete_setting(self, key: str) -> None: ...

    # knowledge bases, documents, chunks
    def create_knowledge_base(self, new: NewKnowledgeBase) -> KnowledgeBase: ...

    def get_knowledge_base(self, kb_id: str) -> KnowledgeBase: ...

    def list_knowledge_bases(self, status: str | None) -> list[KnowledgeBase]: ...

    def update_knowledge_base(self, kb_id: str, at: datetime, status: str | None = None,
                              health_score: float | None = None) -> KnowledgeBase:
        """Sets what is given (``None`` leaves a field); ``updated_at`` becomes ``at``."""

    def pin_version(self, kb_id: str, version: int | None, at: datetime) -> KnowledgeBase: ...

    def delete_knowledge_base(self, kb_id: str) -> DeletedKnowledgeBase: ...

    def add_document(self, new: NewDocument) -> Document: ...

    def get_document(self, document_id: str) -> Document: ...

    def list_documents(self, kb_id: str) -> list[Document]: ...

    def update_document(self, document_id: str, at: datetime, title: str | None = None,
                        license_info: str | None = None,
                        metadata_json: str | None = None) -> Document:
        """A document's description (``None`` leaves a field); its source, content hash,
        size and chunks are the ingestion's and stay; ``updated_at`` becomes ``at``."""

    def replace_chunks(self, document_id: str, chunks: Sequence[NewChunk],
                       at: datetime) -> Document: ...

    def document_chunks(self, document_id: str) -> list[Chunk]: ...

    def delete_document(self, document_id: str) -> int:
        """The number of chunks deleted with it."""

    # pipelines, runs, tools, schedules, flows, models
    def create_pipeline(self, new: NewPipeline) -> Pipeline: ...

    def get_pipeline(self, pipeline_id: str) -> Pipeline: ...

    def list_pipelines(self) -> list[Pipeline]: ...

    def update_pipeline(self, pipeline_id: str, at: datetime, name: str | None = None,
                        description: str | None = None, config_json: str | None = None,
                        status: str | None = None) -> Pipeline:
        """Sets what is given (``None`` leaves a field); ``updated_at`` becomes ``at``."""

    def delete_pipeline(self, pipeline_id: str) -> None: ...

    def create_run(self, new: NewRun) -> PipelineRun: ...

    def get_run(self, run_id: str) -> PipelineRun: ...

    def transition_run(self, run_id: str, status: str, at: datetime,
                       error_message: str | None = None,
                       metrics_json: str | None = None) -> PipelineRun: ...

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]: ...

    def register_tool(self, new: NewTool) -> Tool: ...

    def set_tool_enabled(self, tool_id: str, enabled: bool, at: datetime) -> Tool: ...

    def list_tools(self, enabled_only: bool) -> list[Tool]: ...

    def get_tool(self, tool_id: str) -> Tool: ...

    def update_tool(self, tool_id: str, at: datetime, name: str | None = None,
                    config_json: str | None = None, schema_json: str | None = None) -> Tool:
        """Sets what is given (``None`` leaves a field); ``updated_at`` becomes ``at``."""

    def delete_tool(self, tool_id: str) -> None: ...

    def create_schedule(self, new: NewSchedule) -> Schedule: ...

    def set_schedule_enabled(self, schedule_id: str, enabled: bool, at: datetime) -> Schedule: ...

    def record_schedule_run(self, schedule_id: str, at: datetime) -> Schedule: ...

    def due_schedules(self, at: datetime) -> list[Schedule]: ...

    def get_schedule(self, schedule_id: str) -> Schedule: ...

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, enabled or not, by name then id."""

    def update_schedule(self, schedule_id: str, at: datetime, name: str | None = None,
                        cron_expression: str | None = None) -> Schedule:
        """Sets what is given (``None`` leaves a field); ``updated_at`` becomes ``at``."""

    def delete_schedule(self, schedule_id: str) -> None: ...

    def create_flow(self, new: NewFlow) -> Flow: ...

    def list_flows(self) -> list[Flow]: ...

    def get_flow(self, flow_id: str) -> Flow: ...

    def update_flow(self, flow_id: str, at: datetime, name: str | None = None,
                    description: str | None = None,
                    definition_json: str | None = None) -> Flow:
        """Sets what is given (``None`` leaves a field); ``updated_at`` becomes ``at``."""

    def delete_flow(self, flow_id: str) -> None: ...

    def register_model(self, new: NewModel) -> Model: ...

    def list_models(self, model_type: str | None) -> list[Model]: ...

    def set_model_status(self, model_id: str, status: str, at: datetime) -> Model:
        """A model's download state moves (``status`` of :data:`MODEL_STATUSES`, else CHECK)."""

    def delete_model(self, model_id: str) -> None:
        """The bundled model too: the store does not bring it back."""

    # the event store
    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]: ...

    def read_events(self, aggregate_id: str, from_version: int = 1) -> list[StoredEvent]:
        """Events with ``sequence_number >= from_version``; none for an unknown aggregate."""

    def aggregate_version(self, aggregate_id: str) -> int:
        """The last sequence number; 0 for an unknown aggregate."""

    def save_snapshot(self, aggregate_id: str, version: int, state_json: str,
                      at: datetime) -> Snapshot: ...

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate: ...

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]: ...

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        """The processor's position afterwards."""

    def get_checkpoint(self, processor: str) -> int: ...

    def close(self) -> None: ...


OPERATIONS: Final[tuple[Operation, ...]] = tuple(
    Operation(name, summary, writes) for name, summary, writes in (
        ("put_setting", "settings: typed key/value, schema version per setting", True),
        ("get_setting", "settings by key", False),
        ("list_settings", "settings by key", False),
        ("delete_setting", "settings by key", True),
        ("create_knowledge_base", "knowledge_bases: unique (name, version)", True),
        ("get_knowledge_base", "knowledge_bases by id", False),
        ("list_knowledge_bases", "idx_kb_status, idx_kb_name_version", False),
        ("update_knowledge_base", "knowledge_bases.status, health_score", True),
        ("pin_version", "knowledge_bases.pinned_version", True),
        ("delete_knowledge_base", "ON DELETE CASCADE to documents and chunks", True),
        ("add_document", "documents", True),
        ("get_document", "documents by id", False),
        ("list_documents", "idx_documents_kb_id", False),
        ("update_document", "documents: title, license, metadata", True),
        ("replace_chunks", "document_chunks: re-chunking, chunk_count follows", True),
        ("document_chunks", "idx_chunks_document_id, unique (document_id, chunk_index)", False),
        ("delete_document", "documents, cascading to document_chunks", True),
        ("create_pipeline", "pipelines", True),
        ("get_pipeline", "pipelines by id", False),
        ("list_pipelines", "pipelines by name", False),
        ("update_pipeline", "pipelines: name, description, config, status", True),
        ("delete_pipeline", "pipelines (runs and schedules restrict)", True),
        ("create_run", "pipeline_runs", True),
        ("get_run", "pipeline_runs by id", False),
        ("transition_run", "pipeline_runs.status: pending -> running -> end", True),
        ("list_runs", "idx_pipeline_runs_pipeline_id, idx_pipeline_runs_started_at", False),
        ("register_tool", "tools", True),
        ("set_tool_enabled", "tools.enabled", True),
        ("list_tools", "tools", False),
        ("get_tool", "tools by id", False),
        ("update_tool", "tools: name, config, schema", True),
        ("delete_tool", "tools by id", True),
        ("create_schedule", "schedules: cron_expression, next_run", True),
        ("set_schedule_enabled", "schedules.enabled", True),
        ("record_schedule_run", "schedules.last_run, next_run", True),
        ("due_schedules", "idx_schedules_next_run", False),
        ("get_schedule", "schedules by id", False),
        ("list_schedules", "schedules by name", False),
        ("update_schedule", "schedules: name, cron_expression (next_run follows)", True),
        ("delete_schedule", "schedules by id (frees its pipeline)", True),
        ("create_flow", "flows", True),
        ("list_flows", "flows", False),
        ("get_flow", "flows by id", False),
        ("update_flow", "flows: name, description, definition", True),
        ("delete_flow", "flows by id", True),
        ("register_model", "models (schema version 2)", True),
        ("list_models", "idx_models_type", False),
        ("set_model_status", "models.status (a download's state)", True),
        ("delete_model", "models by id", True),
        ("append_events", "events: expected version, no gaps, checksum", True),
        ("read_events", "idx_events_aggregate", False),
        ("aggregate_version", "events: last sequence_number", False),
        ("save_snapshot", "aggregate_snapshots", True),
        ("load_aggregate", "aggregate_snapshots + the events after", False),
        ("read_feed", "events by position, for processors", False),
        ("set_checkpoint", "event_checkpoints: forward only", True),
        ("get_checkpoint", "event_checkpoints", False),
    )
)
