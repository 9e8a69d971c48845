"""The ``app_meta`` model's state, and its settings, knowledge bases, documents and chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from storecheck.conformance.errors import (
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    NotFound,
    StorageCause,
    StorageFailed,
)
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    BUNDLED_MODELS,
    KB_STATUSES,
    SPEC,
    Chunk,
    DeletedKnowledgeBase,
    Document,
    Flow,
    KnowledgeBase,
    Model,
    NewChunk,
    NewDocument,
    NewKnowledgeBase,
    Pipeline,
    PipelineRun,
    Schedule,
    Setting,
    SettingValue,
    Snapshot,
    StoredEvent,
    Tool,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.base import MemoryStore
from storecheck.reference_impl.memory.rules import Rules

RULES = Rules(SPEC)
_check = RULES.check
_parent = RULES.parent
_found = RULES.found
T = TypeVar("T")


def _given(value: T | None, stored: T) -> T:
    """An update's field: what was given, or what is stored where ``None`` was."""
    return stored if value is None else value


@dataclass
class State:
    settings: dict[str, Setting] = field(default_factory=dict)
    knowledge_bases: dict[str, KnowledgeBase] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    runs: dict[str, PipelineRun] = field(default_factory=dict)
    tools: dict[str, Tool] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    models: dict[str, Model] = field(
        default_factory=lambda: {model.id: model for model in BUNDLED_MODELS})
    events: list[StoredEvent] = field(default_factory=list)
    """In position order."""
    last_position: int = 0
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    checkpoints: dict[str, int] = field(default_factory=dict)

    def copy(self) -> State:
        return State(dict(self.settings), dict(self.knowledge_bases), dict(self.documents),
                     dict(self.chunks), dict(self.pipelines), dict(self.runs), dict(self.tools),
                     dict(self.schedules), dict(self.flows), dict(self.models),
                     list(self.events), self.last_position, dict(self.snapshots),
                     dict(self.checkpoints))

    def stream(self, aggregate_id: str) -> list[StoredEvent]:
        return [event for event in self.events if event.aggregate_id == aggregate_id]


def _not_empty(operation: str, **values: str) -> None:
    for name, value in values.items():
        _check(operation, f"{name} <> ''", value != "", value)


def _unique(operation: str, taken: bool, what: str, value: object) -> None:
    if taken:
        raise ConstraintViolation(SPEC, operation, ConstraintKind.UNIQUE, f"duplicate {what}",
                                  value)


def _named(table: dict[str, Any], name: str, other_than: str) -> bool:
    return any(row.name == name for key, row in table.items() if key != other_than)


def verified(operation: str, events: list[StoredEvent]) -> list[StoredEvent]:
    for event in events:
        if event.checksum != formulas.event_checksum(
                event.event_id, event.event_type, event.aggregate_id, event.aggregate_type,
                event.sequence_number, event.data_json, event.metadata_json, event.trace_id,
                event.user_id, event.timestamp):
            raise StorageFailed(SPEC, operation, StorageCause.CORRUPT,
                                f"event {event.event_id!r} does not match its checksum",
                                event.position)
    return events


class MemoryAppMetaCatalog(MemoryStore[State]):
    """Settings and knowledge bases; :class:`.app_meta.MemoryAppMeta` adds the rest."""

    def __init__(self) -> None:
        super().__init__(State())

    # -- settings ------------------------------------------------------------------------

    def put_setting(self, key: str, value: SettingValue, at: datetime,
                    schema_version: int = 1) -> Setting:
        key, value, at, schema_version = inputs.setting(key, value, at, schema_version)

        def change(s: State) -> Setting:
            old = s.settings.get(key)
            if old is not None and schema_version < old.schema_version:
                raise Conflict(SPEC, "put_setting", "schema version would go down", key)
            _not_empty("put_setting", key=key)
            _check("put_setting", "schema_version >= 1", schema_version >= 1, schema_version)
            s.settings[key] = Setting(key, value, schema_version,
                                      at if old is None else old.created_at, at)
            return s.settings[key]
        return self._apply(change)

    def get_setting(self, key: str) -> Setting:
        (key,) = inputs.texts("get_setting", key=key)
        return self._read(lambda s: _found("get_setting", s.settings, key, "setting"))

    def list_settings(self) -> list[Setting]:
        return self._read(lambda s: [s.settings[key] for key in sorted(s.settings)])

    def delete_setting(self, key: str) -> None:
        (key,) = inputs.texts("delete_setting", key=key)

        def change(s: State) -> None:
            _found("delete_setting", s.settings, key, "setting")
            del s.settings[key]
        self._apply(change)

    # -- knowledge bases, documents, chunks --------------------------------------------------

    def create_knowledge_base(self, new: NewKnowledgeBase) -> KnowledgeBase:
        new = inputs.new_knowledge_base(new)
        operation = "create_knowledge_base"

        def change(s: State) -> KnowledgeBase:
            _not_empty(operation, id=new.id, name=new.name, embedder_model=new.embedder_model)
            _check(operation, "version >= 1", new.version >= 1, new.version)
            _check(operation, "status IN KB_STATUSES", new.status in KB_STATUSES, new.status)
            _check(operation, "chunk_size >= 1", new.chunk_size >= 1, new.chunk_size)
            _check(operation, "0 <= chunk_overlap < chunk_size",
                   0 <= new.chunk_overlap < new.chunk_size, new.chunk_overlap)
            _unique(operation, new.id in s.knowledge_bases, "id", new.id)
            _unique(operation, any((kb.name, kb.version) == (new.name, new.version)
                                   for kb in s.knowledge_bases.values()), "(name, version)",
                    new.name)
            s.knowledge_bases[new.id] = KnowledgeBase(
                new.id, new.name, new.version, new.status, new.embedder_model, new.chunk_size,
                new.chunk_overlap, new.description, new.metadata_json, 1.0, None, new.created_at,
                new.created_at)
            return s.knowledge_bases[new.id]
        return self._apply(change)

    def get_knowledge_base(self, kb_id: str) -> KnowledgeBase:
        (kb_id,) = inputs.texts("get_knowledge_base", kb_id=kb_id)
        return self._read(lambda s: _found("get_knowledge_base", s.knowledge_bases, kb_id,
                                           "knowledge base"))

    def list_knowledge_bases(self, status: str | None) -> list[KnowledgeBase]:
        status = inputs.optional_filter("list_knowledge_bases", "status", status)
        return self._read(lambda s: sorted(
            (kb for kb in s.knowledge_bases.values() if status is None or kb.status == status),
            key=lambda kb: (kb.name, kb.version)))

    def update_knowledge_base(self, kb_id: str, at: datetime, status: str | None = None,
                              health_score: float | None = None) -> KnowledgeBase:
        kb_id, at, status, health_score = inputs.kb_update(kb_id, at, status, health_score)
        operation = "update_knowledge_base"

        def change(s: State) -> KnowledgeBase:
            kb = _found(operation, s.knowledge_bases, kb_id, "knowledge base")
            _check(operation, "status IN KB_STATUSES", status is None or status in KB_STATUSES,
                   status)
            _check(operation, "health_score BETWEEN 0 AND 1",
                   health_score is None or 0 <= health_score <= 1, health_score)
            s.knowledge_bases[kb_id] = replace(
                kb, status=_given(status, kb.status),
                health_score=_given(health_score, kb.health_score), updated_at=at)
            return s.knowledge_bases[kb_id]
        return self._apply(change)

    def pin_version(self, kb_id: str, version: int | None, at: datetime) -> KnowledgeBase:
        v = inputs.check("pin_version")
        kb_id, at = v.text("kb_id", kb_id), v.timestamp("at", at)
        version = v.optional_integer("version", version)

        def change(s: State) -> KnowledgeBase:
            kb = _found("pin_version", s.knowledge_bases, kb_id, "knowledge base")
            if version is not None and not any(
                    (other.name, other.version) == (kb.name, version)
                    for other in s.knowledge_bases.values()):
                raise NotFound(SPEC, "pin_version", f"{kb.name!r} has no version {version}",
                               version)
            s.knowledge_bases[kb_id] = replace(kb, pinned_version=version, updated_at=at)
            return s.knowledge_bases[kb_id]
        return self._apply(change)

    def delete_knowledge_base(self, kb_id: str) -> DeletedKnowledgeBase:
        (kb_id,) = inputs.texts("delete_knowledge_base", kb_id=kb_id)

        def change(s: State) -> DeletedKnowledgeBase:
            _found("delete_knowledge_base", s.knowledge_bases, kb_id, "knowledge base")
            if any(run.kb_id == kb_id for run in s.runs.values()):
                raise ConstraintViolation(SPEC, "delete_knowledge_base",
                                          ConstraintKind.FOREIGN_KEY,
                                          "pipeline runs name the knowledge base", kb_id)
            documents = [key for key, doc in s.documents.items() if doc.kb_id == kb_id]
            chunks = [key for key, chunk in s.chunks.items() if chunk.kb_id == kb_id]
            for key in documents:
                del s.documents[key]
            for key in chunks:
                del s.chunks[key]
            del s.knowledge_bases[kb_id]
            return DeletedKnowledgeBase(len(documents), len(chunks))
        return self._apply(change)

    def add_document(self, new: NewDocument) -> Document:
        new = inputs.new_document(new)
        operation = "add_document"

        def change(s: State) -> Document:
            _not_empty(operation, id=new.id)
            _check(operation, "size_bytes >= 0", new.size_bytes >= 0, new.size_bytes)
            _unique(operation, new.id in s.documents, "id", new.id)
            _parent(operation, s.knowledge_bases, new.kb_id, "kb_id")
            s.documents[new.id] = Document(
                new.id, new.kb_id, new.title, new.source_path, new.content_hash, new.size_bytes,
                new.license_info, new.metadata_json, 0, new.created_at, new.created_at)
            return s.documents[new.id]
        return self._apply(change)

    def update_document(self, document_id: str, at: datetime, title: str | None = None,
                        license_info: str | None = None,
                        metadata_json: str | None = None) -> Document:
        document_id, at, title, license_info, metadata_json = inputs.document_update(
            document_id, at, title, license_info, metadata_json)

        def change(s: State) -> Document:
            document = _found("update_document", s.documents, document_id, "document")
            s.documents[document_id] = replace(
                document, title=_given(title, document.title),
                license_info=_given(license_info, document.license_info),
                metadata_json=_given(metadata_json, document.metadata_json), updated_at=at)
            return s.documents[document_id]
        return self._apply(change)

    def get_document(self, document_id: str) -> Document:
        (document_id,) = inputs.texts("get_document", document_id=document_id)
        return self._read(lambda s: _found("get_document", s.documents, document_id,
                                           "document"))

    def list_documents(self, kb_id: str) -> list[Document]:
        (kb_id,) = inputs.texts("list_documents", kb_id=kb_id)

        def look(s: State) -> list[Document]:
            _found("list_documents", s.knowledge_bases, kb_id, "knowledge base")
            return sorted((d for d in s.documents.values() if d.kb_id == kb_id),
                          key=lambda d: (d.created_at, d.id))
        return self._read(look)

    def replace_chunks(self, document_id: str, chunks: Sequence[NewChunk],
                       at: datetime) -> Document:
        document_id, checked, at = inputs.chunks(document_id, chunks, at)
        operation = "replace_chunks"

        def change(s: State) -> Document:
            document = _found(operation, s.documents, document_id, "document")
            for key in [k for k, c in s.chunks.items() if c.document_id == document_id]:
                del s.chunks[key]
            # Chunk by chunk, as the rows are inserted: the first bad chunk's error wins.
            for index, chunk in enumerate(checked):
                _not_empty(operation, id=chunk.id)
                _check(operation, "token_count >= 0",
                       chunk.token_count is None or chunk.token_count >= 0, chunk.token_count)
                _unique(operation, chunk.id in s.chunks, "chunk id", chunk.id)
                s.chunks[chunk.id] = Chunk(chunk.id, document_id, document.kb_id,
                                           index, chunk.content,
                                           formulas.sha256_hex(chunk.content), chunk.token_count,
                                           chunk.metadata_json, at)
            s.documents[document_id] = replace(document, chunk_count=len(checked),
                                               updated_at=at)
            return s.documents[document_id]
        return self._apply(change)

    def document_chunks(self, document_id: str) -> list[Chunk]:
        (document_id,) = inputs.texts("document_chunks", document_id=document_id)

        def look(s: State) -> list[Chunk]:
            _found("document_chunks", s.documents, document_id, "document")
            return sorted((c for c in s.chunks.values() if c.document_id == document_id),
                          key=lambda c: c.chunk_index)
        return self._read(look)

    def delete_document(self, document_id: str) -> int:
        (document_id,) = inputs.texts("delete_document", document_id=document_id)

        def change(s: State) -> int:
            _found("delete_document", s.documents, document_id, "document")
            doomed = [key for key, c in s.chunks.items() if c.document_id == document_id]
            for key in doomed:
                del s.chunks[key]
            del s.documents[document_id]
            return len(doomed)
        return self._apply(change)
