"""Settings, knowledge bases, documents and chunks of the reference ``app_meta`` store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    SPEC,
    Chunk,
    DeletedKnowledgeBase,
    Document,
    KnowledgeBase,
    NewChunk,
    NewDocument,
    NewKnowledgeBase,
    Setting,
    SettingValue,
    content_hash,
    encode_setting,
)
from storecheck.reference_impl.app_meta import rows
from storecheck.reference_impl.app_meta.rows import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    KB_COLUMNS,
    SETTING_COLUMNS,
)
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import SqliteStore
from storecheck.reference_impl.engine.timestamps import to_text

R = TypeVar("R")

SELECT_SETTING: Final = f"SELECT {SETTING_COLUMNS} FROM settings WHERE key = ?"
UPSERT_SETTING: Final = (
    "INSERT INTO settings (key, value, schema_version, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "schema_version = excluded.schema_version, updated_at = excluded.updated_at "
    f"RETURNING {SETTING_COLUMNS}")
INSERT_CHUNK: Final = (
    "INSERT INTO document_chunks (id, document_id, kb_id, chunk_index, content, content_hash, "
    "token_count, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def found(row: R | None, what: str, operation: str, key: object) -> R:
    """``row``, the one ``key`` names; NotFound in the spec's words where there is none."""
    if row is None:
        raise NotFound(SPEC, operation, f"no such {what}", key)
    return row


def deleted(cursor: Any, what: str, operation: str, key: object) -> None:
    """A DELETE by key that found nothing to delete is NotFound."""
    if cursor.rowcount == 0:
        raise NotFound(SPEC, operation, f"no such {what}", key)


class SqliteAppMetaCatalog(SqliteStore):
    """The application tables that describe knowledge: settings and knowledge bases."""

    # -- settings ----------------------------------------------------------------------

    def put_setting(self, key: str, value: SettingValue, at: datetime,
                    schema_version: int = 1) -> Setting:
        key, value, at, schema_version = inputs.setting(key, value, at, schema_version)
        with self._tx("put_setting", key) as conn:
            stored = conn.execute("SELECT schema_version FROM settings WHERE key = ?",
                                  (key,)).fetchone()
            if stored is not None and schema_version < stored[0]:
                raise Conflict(SPEC, "put_setting", f"the setting is at schema version "
                               f"{stored[0]}; {schema_version} would downgrade it", key)
            return rows.setting(conn.execute(UPSERT_SETTING, (
                key, encode_setting(value), schema_version, to_text(at), to_text(at))).fetchone())

    def get_setting(self, key: str) -> Setting:
        (key,) = inputs.texts("get_setting", key=key)
        with self._tx("get_setting", key, write=False) as conn:
            row = conn.execute(SELECT_SETTING, (key,)).fetchone()
            found(row, "setting", "get_setting", key)
            return rows.setting(row)

    def list_settings(self) -> list[Setting]:
        with self._tx("list_settings", write=False) as conn:
            return [rows.setting(row) for row in conn.execute(
                f"SELECT {SETTING_COLUMNS} FROM settings ORDER BY key")]

    def delete_setting(self, key: str) -> None:
        (key,) = inputs.texts("delete_setting", key=key)
        with self._tx("delete_setting", key) as conn:
            if conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount == 0:
                raise NotFound(SPEC, "delete_setting", "no such setting", key)

    # -- knowledge bases ---------------------------------------------------------------

    @staticmethod
    def _knowledge_base(conn: Connection, kb_id: str, operation: str) -> KnowledgeBase:
        row = conn.execute(f"SELECT {KB_COLUMNS} FROM knowledge_bases WHERE id = ?",
                           (kb_id,)).fetchone()
        found(row, "knowledge base", operation, kb_id)
        return rows.knowledge_base(row)

    def create_knowledge_base(self, new: NewKnowledgeBase) -> KnowledgeBase:
        new = inputs.new_knowledge_base(new)
        with self._tx("create_knowledge_base", new.id) as conn:
            return rows.knowledge_base(conn.execute(
                "INSERT INTO knowledge_bases (id, name, version, status, embedder_model, "
                "chunk_size, chunk_overlap, description, metadata, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {KB_COLUMNS}",
                (new.id, new.name, new.version, new.status, new.embedder_model, new.chunk_size,
                 new.chunk_overlap, new.description, new.metadata_json, to_text(new.created_at),
                 to_text(new.created_at))).fetchone())

    def get_knowledge_base(self, kb_id: str) -> KnowledgeBase:
        (kb_id,) = inputs.texts("get_knowledge_base", kb_id=kb_id)
        with self._tx("get_knowledge_base", kb_id, write=False) as conn:
            return self._knowledge_base(conn, kb_id, "get_knowledge_base")

    def list_knowledge_bases(self, status: str | None) -> list[KnowledgeBase]:
        status = inputs.optional_filter("list_knowledge_bases", "status", status)
        with self._tx("list_knowledge_bases", status, write=False) as conn:
            return [rows.knowledge_base(row) for row in conn.execute(
                f"SELECT {KB_COLUMNS} FROM knowledge_bases WHERE CAST(? AS TEXT) IS NULL OR status = ? "
                "ORDER BY name, version", (status, status))]

    def update_knowledge_base(self, kb_id: str, at: datetime, status: str | None = None,
                              health_score: float | None = None) -> KnowledgeBase:
        kb_id, at, status, health_score = inputs.kb_update(kb_id, at, status, health_score)
        with self._tx("update_knowledge_base", kb_id) as conn:
            self._knowledge_base(conn, kb_id, "update_knowledge_base")
            return rows.knowledge_base(conn.execute(
                "UPDATE knowledge_bases SET status = coalesce(?, status), "
                "health_score = coalesce(?, health_score), updated_at = ? WHERE id = ? "
                f"RETURNING {KB_COLUMNS}", (status, health_score, to_text(at), kb_id)).fetchone())

    def pin_version(self, kb_id: str, version: int | None, at: datetime) -> KnowledgeBase:
        v = inputs.check("pin_version")
        kb_id, at = v.text("kb_id", kb_id), v.timestamp("at", at)
        version = v.optional_integer("version", version)
        with self._tx("pin_version", kb_id) as conn:
            base = self._knowledge_base(conn, kb_id, "pin_version")
            if version is not None and conn.execute(
                    "SELECT 1 FROM knowledge_bases WHERE name = ? AND version = ?",
                    (base.name, version)).fetchone() is None:
                raise NotFound(SPEC, "pin_version", f"{base.name!r} has no version {version}",
                               version)
            return rows.knowledge_base(conn.execute(
                "UPDATE knowledge_bases SET pinned_version = ?, updated_at = ? WHERE id = ? "
                f"RETURNING {KB_COLUMNS}", (version, to_text(at), kb_id)).fetchone())

    def delete_knowledge_base(self, kb_id: str) -> DeletedKnowledgeBase:
        (kb_id,) = inputs.texts("delete_knowledge_base", kb_id=kb_id)
        with self._tx("delete_knowledge_base", kb_id) as conn:
            self._knowledge_base(conn, kb_id, "delete_knowledge_base")
            documents, chunks, runs = conn.execute(
                "SELECT (SELECT count(*) FROM documents WHERE kb_id = ?), "
                "(SELECT count(*) FROM document_chunks WHERE kb_id = ?), "
                "(SELECT count(*) FROM pipeline_runs WHERE kb_id = ?)",
                (kb_id, kb_id, kb_id)).fetchone()
            if runs:
                # The foreign key would refuse it too; this says why, in the spec's words.
                raise ConstraintViolation(SPEC, "delete_knowledge_base",
                                          ConstraintKind.FOREIGN_KEY,
                                          f"{runs} pipeline run(s) name the knowledge base", kb_id)
            conn.execute("DELETE FROM knowledge_bases WHERE id = ?", (kb_id,))
            return DeletedKnowledgeBase(documents, chunks)

    # -- documents and chunks ------------------------------------------------------------

    @staticmethod
    def _document(conn: Connection, document_id: str, operation: str) -> Document:
        row = conn.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ?",
                           (document_id,)).fetchone()
        found(row, "document", operation, document_id)
        return rows.document(row)

    def add_document(self, new: NewDocument) -> Document:
        new = inputs.new_document(new)
        with self._tx("add_document", new.id) as conn:
            return rows.document(conn.execute(
                "INSERT INTO documents (id, kb_id, title, source_path, content_hash, size_bytes, "
                "license_info, metadata, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {DOCUMENT_COLUMNS}",
                (new.id, new.kb_id, new.title, new.source_path, new.content_hash, new.size_bytes,
                 new.license_info, new.metadata_json, to_text(new.created_at),
                 to_text(new.created_at))).fetchone())

    def update_document(self, document_id: str, at: datetime, title: str | None = None,
                        license_info: str | None = None,
                        metadata_json: str | None = None) -> Document:
        document_id, at, title, license_info, metadata_json = inputs.document_update(
            document_id, at, title, license_info, metadata_json)
        with self._tx("update_document", document_id) as conn:
            row = conn.execute(
                "UPDATE documents SET title = coalesce(?, title), "
                "license_info = coalesce(?, license_info), metadata = coalesce(?, metadata), "
                f"updated_at = ? WHERE id = ? RETURNING {DOCUMENT_COLUMNS}",
                (title, license_info, metadata_json, to_text(at), document_id)).fetchone()
        return rows.document(found(row, "document", "update_document", document_id))

    def get_document(self, document_id: str) -> Document:
        (document_id,) = inputs.texts("get_document", document_id=document_id)
        with self._tx("get_document", document_id, write=False) as conn:
            return self._document(conn, document_id, "get_document")

    def list_documents(self, kb_id: str) -> list[Document]:
        (kb_id,) = inputs.texts("list_documents", kb_id=kb_id)
        with self._tx("list_documents", kb_id, write=False) as conn:
            self._knowledge_base(conn, kb_id, "list_documents")
            return [rows.document(row) for row in conn.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE kb_id = ? "
                "ORDER BY created_at, id", (kb_id,))]

    def replace_chunks(self, document_id: str, chunks: Sequence[NewChunk],
                       at: datetime) -> Document:
        document_id, checked, at = inputs.chunks(document_id, chunks, at)
        with self._tx("replace_chunks", document_id) as conn:
            document = self._document(conn, document_id, "replace_chunks")
            conn.execute("DELETE FROM document_chunks WHERE document_id = ?", (document_id,))
            self._insert_chunks(conn, document, checked, at)
            return rows.document(conn.execute(
                "UPDATE documents SET chunk_count = (SELECT count(*) FROM document_chunks "
                "WHERE document_id = ?), updated_at = ? WHERE id = ? "
                f"RETURNING {DOCUMENT_COLUMNS}", (document_id, to_text(at), document_id)).fetchone())

    @staticmethod
    def _insert_chunks(conn: Connection, document: Document, chunks: Sequence[NewChunk],
                       at: datetime) -> None:
        """The chunks in list order: ``chunk_index`` is the position, the hash is computed."""
        conn.executemany(INSERT_CHUNK, [
            (chunk.id, document.id, document.kb_id, index, chunk.content,
             content_hash(chunk.content), chunk.token_count, chunk.metadata_json, to_text(at))
            for index, chunk in enumerate(chunks)])

    def document_chunks(self, document_id: str) -> list[Chunk]:
        (document_id,) = inputs.texts("document_chunks", document_id=document_id)
        with self._tx("document_chunks", document_id, write=False) as conn:
            self._document(conn, document_id, "document_chunks")
            return [rows.chunk(row) for row in conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM document_chunks WHERE document_id = ? "
                "ORDER BY chunk_index", (document_id,))]

    def delete_document(self, document_id: str) -> int:
        (document_id,) = inputs.texts("delete_document", document_id=document_id)
        with self._tx("delete_document", document_id) as conn:
            self._document(conn, document_id, "delete_document")
            (chunks,) = conn.execute("SELECT count(*) FROM document_chunks WHERE document_id = ?",
                                     (document_id,)).fetchone()
            conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            return int(chunks)
