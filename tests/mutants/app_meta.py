"""Deliberately broken variants of the reference ``app_meta`` store (seed 001).

The ways a settings table, a re-chunking step, a run state machine, a cron
reader, foreign keys and a snapshot are commonly got wrong, among them the real
application's own (foreign keys switched on for one pooled connection only).
``MUTANTS`` maps each to the conformance category that must catch it; the event
store's are in :mod:`tests.mutants.app_meta_events`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs import app_meta_inputs as inputs, cron
from storecheck.conformance.specs.app_meta import (
    BUNDLED_MODELS,
    SPEC,
    Document,
    Flow,
    KnowledgeBase,
    LoadedAggregate,
    Model,
    NewChunk,
    Pipeline,
    PipelineRun,
    Schedule,
    Setting,
    SettingValue,
    Tool,
)
from storecheck.reference_impl.app_meta import SqliteAppMeta, rows as row_codec
from storecheck.reference_impl.app_meta.rows import (
    DOCUMENT_COLUMNS,
    KB_COLUMNS,
    PIPELINE_COLUMNS,
    RUN_COLUMNS,
)
from storecheck.reference_impl.engine.timestamps import to_text

from tests.mutants import edit_migration, sqlite_mutant_backends
from tests.mutants.session_history import FirstConnectionOnlyDatabase


class SettingsLoseTheirType(SqliteAppMeta):
    """Values stored with ``str()``, read back by guessing: ``True`` comes back as ``"True"``
    or 1, ``1.0`` as ``1`` (a TEXT column and a parser that tries int, then float)."""

    def put_setting(self, key: str, value: SettingValue, at: datetime,
                    schema_version: int = 1) -> Setting:
        stored = super().put_setting(key, value, at, schema_version)
        return self._guess(stored)

    def get_setting(self, key: str) -> Setting:
        return self._guess(super().get_setting(key))

    def list_settings(self) -> list[Setting]:
        return [self._guess(setting) for setting in super().list_settings()]

    @staticmethod
    def _guess(setting: Setting) -> Setting:
        text = str(setting.value)
        value: SettingValue
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text
        return Setting(setting.key, value, setting.schema_version, setting.created_at,
                       setting.updated_at)


class ChunkCountNotUpdated(SqliteAppMeta):
    """Re-chunking swaps the chunks but leaves ``chunk_count`` at the first count."""

    def replace_chunks(self, document_id: str, chunks: Sequence[NewChunk],
                       at: datetime) -> Document:
        document_id, checked, at = inputs.chunks(document_id, chunks, at)
        with self._tx("replace_chunks", document_id) as conn:
            document = self._document(conn, document_id, "replace_chunks")
            conn.execute("DELETE FROM document_chunks WHERE document_id = ?", (document_id,))
            self._insert_chunks(conn, document, checked, at)
            count = document.chunk_count or len(checked)
            return row_codec.document(conn.execute(
                f"UPDATE documents SET chunk_count = ?, updated_at = ? WHERE id = ? "
                f"RETURNING {DOCUMENT_COLUMNS}", (count, to_text(at), document_id)).fetchone())


class RunsMoveAnywhere(SqliteAppMeta):
    """A status column set to whatever the caller asks, with no state machine."""

    def transition_run(self, run_id: str, status: str, at: datetime,
                       error_message: str | None = None,
                       metrics_json: str | None = None) -> PipelineRun:
        run_id, status, at, error_message, metrics_json = inputs.transition(
            run_id, status, at, error_message, metrics_json)
        with self._tx("transition_run", run_id) as conn:
            row = conn.execute(
                "UPDATE pipeline_runs SET status = ?, started_at = CASE WHEN ? = 'running' "
                "THEN ? ELSE started_at END, completed_at = CASE WHEN ? = 'running' THEN NULL "
                "ELSE ? END, error_message = ?, metrics = coalesce(?, metrics) WHERE id = ? "
                f"RETURNING {RUN_COLUMNS}",
                (status, status, to_text(at), status, to_text(at), error_message, metrics_json,
                 run_id)).fetchone()
            if row is None:
                raise NotFound(SPEC, "transition_run", "no such run", run_id)
            return row_codec.run(row)


class RunsOrderedByStartOnly(SqliteAppMeta):
    """``ORDER BY started_at DESC``: SQLite puts the runs not yet started last."""

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        (pipeline_id,) = inputs.texts("list_runs", pipeline_id=pipeline_id)
        with self._tx("list_runs", pipeline_id, write=False) as conn:
            self._pipeline(conn, pipeline_id, "list_runs")
            return [row_codec.run(row) for row in conn.execute(
                f"SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE pipeline_id = ? "
                "ORDER BY started_at DESC, id", (pipeline_id,))]


class KnowledgeBaseVersionsInTextOrder(SqliteAppMeta):
    """Versions sorted as they print: version 10 comes before version 2 of the same name."""

    def list_knowledge_bases(self, status: str | None) -> list[KnowledgeBase]:
        return sorted(super().list_knowledge_bases(status),
                      key=lambda kb: (kb.name, str(kb.version)))


class PinFindsAVersionOfAnyName(SqliteAppMeta):
    """``pin_version`` asks whether the version exists at all, not under the base's name."""

    def pin_version(self, kb_id: str, version: int | None, at: datetime) -> KnowledgeBase:
        v = inputs.check("pin_version")
        kb_id, at = v.text("kb_id", kb_id), v.timestamp("at", at)
        version = v.optional_integer("version", version)
        with self._tx("pin_version", kb_id) as conn:
            self._knowledge_base(conn, kb_id, "pin_version")
            if version is not None and conn.execute(
                    "SELECT 1 FROM knowledge_bases WHERE version = ?", (version,)
            ).fetchone() is None:
                raise NotFound(SPEC, "pin_version", f"no version {version}", version)
            return row_codec.knowledge_base(conn.execute(
                "UPDATE knowledge_bases SET pinned_version = ?, updated_at = ? WHERE id = ? "
                f"RETURNING {KB_COLUMNS}", (version, to_text(at), kb_id)).fetchone())


class CronDayFieldsBothRequired(SqliteAppMeta):
    """Day of month AND day of week, where cron means either when both are restricted."""

    def create_schedule(self, new: Any) -> Any:
        original = cron.Cron.day_matches

        def both(self_: cron.Cron, day: Any) -> bool:
            return (day.month in self_.months and day.day in self_.days
                    and (day.isoweekday() % 7) in self_.weekdays)

        setattr(cron.Cron, "day_matches", both)  # noqa: B010 (replaced for this call alone)
        try:
            return super().create_schedule(new)
        finally:
            setattr(cron.Cron, "day_matches", original)  # noqa: B010


class SnapshotHidesLaterEvents(SqliteAppMeta):
    """Loading from a snapshot returns the snapshot alone: the events after it are lost."""

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate:
        loaded = super().load_aggregate(aggregate_id)
        if loaded.snapshot is None:
            return loaded
        return LoadedAggregate(loaded.aggregate_id, loaded.aggregate_type, loaded.version,
                               loaded.snapshot, ())


class CheckpointMovesBack(SqliteAppMeta):
    """A checkpoint written as given: a late, slow processor rewinds it."""

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        processor, position, at = inputs.checkpoint(processor, position, at)
        with self._tx("set_checkpoint", processor) as conn:
            conn.execute(
                "INSERT INTO event_checkpoints (processor_name, last_processed_sequence, "
                "updated_at) VALUES (?, ?, ?) ON CONFLICT (processor_name) DO UPDATE SET "
                "last_processed_sequence = excluded.last_processed_sequence",
                (processor, position, to_text(at)))
            return position


class ForeignKeysOnFirstConnectionOnly(SqliteAppMeta):
    """The real application's pool: ``PRAGMA foreign_keys = ON`` on the first connection
    only, so a document may name a missing base and a deleted base keeps its documents."""

    database_class = FirstConnectionOnlyDatabase


class PipelineDeleteCascades(SqliteAppMeta):
    """Deleting a pipeline first deletes its runs and schedules: the run history is lost
    where the spec refuses."""

    def delete_pipeline(self, pipeline_id: str) -> None:
        with self._tx("delete_pipeline", pipeline_id) as conn:
            conn.execute("DELETE FROM pipeline_runs WHERE pipeline_id = ?", (pipeline_id,))
            conn.execute("DELETE FROM schedules WHERE pipeline_id = ?", (pipeline_id,))
            super().delete_pipeline(pipeline_id)


class ChunksKeepTheirDocument(SqliteAppMeta):
    """A chunk's key to its document without ``ON DELETE CASCADE``: deleting a document
    that has chunks fails on the foreign key."""

    migrations = edit_migration(
        SqliteAppMeta.migrations, 1, "up",
        "document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE",
        "document_id TEXT NOT NULL REFERENCES documents(id)")


class ReplaceChunksInTwoTransactions(SqliteAppMeta):
    """The old chunks deleted and committed, then the new ones inserted: a refused chunk
    leaves the document empty, and a reader sees it empty in between."""

    def replace_chunks(self, document_id: str, chunks: Sequence[NewChunk],
                       at: datetime) -> Document:
        document_id, checked, at = inputs.chunks(document_id, chunks, at)
        with self._tx("replace_chunks", document_id) as conn:
            conn.execute("DELETE FROM document_chunks WHERE document_id = ?", (document_id,))
        with self._tx("replace_chunks", document_id) as conn:
            document = self._document(conn, document_id, "replace_chunks")
            self._insert_chunks(conn, document, checked, at)
            return row_codec.document(conn.execute(
                "UPDATE documents SET chunk_count = ?, updated_at = ? WHERE id = ? "
                f"RETURNING {DOCUMENT_COLUMNS}", (len(checked), to_text(at),
                                                   document_id)).fetchone())


class DeletingAMissingScheduleSucceeds(SqliteAppMeta):
    """``DELETE ... WHERE id = ?`` without looking at what it deleted: a schedule already
    gone is "deleted" again without a word."""

    def delete_schedule(self, schedule_id: str) -> None:
        with self._tx("delete_schedule", schedule_id) as conn:
            conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))


class MissingRunIsNone(SqliteAppMeta):
    """``get_run`` of an unknown id returns ``None`` (the row the query did not find)."""

    def get_run(self, run_id: str) -> PipelineRun:
        with self._tx("get_run", run_id, write=False) as conn:
            row = conn.execute(f"SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE id = ?",
                               (run_id,)).fetchone()
        return None if row is None else row_codec.run(row)  # type: ignore[return-value]


class PipelinesListedAsCreated(SqliteAppMeta):
    """Pipelines listed in the order they were created (rowid), not by name."""

    def list_pipelines(self) -> list[Pipeline]:
        with self._tx("list_pipelines", write=False) as conn:
            return [row_codec.pipeline(row) for row in conn.execute(
                f"SELECT {PIPELINE_COLUMNS} FROM pipelines ORDER BY rowid")]


class ToolDeletedByDisabling(SqliteAppMeta):
    """``delete_tool`` as a soft delete (the tool disabled, kept for its history): it stays
    in the full listing and can still be read."""

    def delete_tool(self, tool_id: str) -> None:
        super().set_tool_enabled(tool_id, False, super().get_tool(tool_id).updated_at)


class PipelineUpdateClearsTheDescription(SqliteAppMeta):
    """``description = ?`` where every other field has ``coalesce``: an update that does
    not name the description erases it."""

    def update_pipeline(self, pipeline_id: str, at: datetime, name: str | None = None,
                        description: str | None = None, config_json: str | None = None,
                        status: str | None = None) -> Pipeline:
        updated = super().update_pipeline(pipeline_id, at, name, description, config_json,
                                          status)
        if description is None:
            with self._tx("update_pipeline", pipeline_id) as conn:
                conn.execute("UPDATE pipelines SET description = NULL WHERE id = ?",
                             (pipeline_id,))
            return super().get_pipeline(pipeline_id)
        return updated


class ToolUpdateKeepsUpdatedAt(SqliteAppMeta):
    """``update_tool`` changes the fields and leaves ``updated_at`` as it was."""

    def update_tool(self, tool_id: str, at: datetime, name: str | None = None,
                    config_json: str | None = None, schema_json: str | None = None) -> Tool:
        before = super().get_tool(tool_id)
        super().update_tool(tool_id, before.updated_at, name, config_json, schema_json)
        return super().get_tool(tool_id)


class FlowUpdateTrustsItsJson(SqliteAppMeta):
    """``create_flow`` parses the definition; ``update_flow`` stores what it is given."""

    def update_flow(self, flow_id: str, at: datetime, name: str | None = None,
                    description: str | None = None,
                    definition_json: str | None = None) -> Flow:
        updated = super().update_flow(flow_id, at, name, description, None)
        if definition_json is None:
            return updated
        with self._tx("update_flow", flow_id) as conn:
            conn.execute("UPDATE flows SET definition = ? WHERE id = ?",
                         (definition_json, flow_id))
        return super().get_flow(flow_id)


class ModelStatusReadBeforeTheUpdate(SqliteAppMeta):
    """``set_model_status`` reads the model, then updates it, and returns what it read."""

    def set_model_status(self, model_id: str, status: str, at: datetime) -> Model:
        before = next((m for m in super().list_models(None) if m.id == model_id), None)
        super().set_model_status(model_id, status, at)
        return before  # type: ignore[return-value]


class BundledModelKept(SqliteAppMeta):
    """The model the application ships is never deleted (it would have to be downloaded
    again); ``delete_model`` of it succeeds and keeps it."""

    def delete_model(self, model_id: str) -> None:
        if model_id not in {model.id for model in BUNDLED_MODELS}:
            super().delete_model(model_id)


class DocumentUpdateResetsItsChunkCount(SqliteAppMeta):
    """``update_document`` writes the whole row back from the caller's view of it, with the
    chunk count a fresh document has."""

    def update_document(self, document_id: str, at: datetime, title: str | None = None,
                        license_info: str | None = None,
                        metadata_json: str | None = None) -> Document:
        updated = super().update_document(document_id, at, title, license_info, metadata_json)
        with self._tx("update_document", document_id) as conn:
            conn.execute("UPDATE documents SET chunk_count = 0 WHERE id = ?", (document_id,))
        return replace(updated, chunk_count=0)


class ScheduleKeepsItsOldNextRun(SqliteAppMeta):
    """``update_schedule`` stores the new expression and leaves ``next_run`` where the old
    one put it: the schedule fires once more on its old time."""

    def update_schedule(self, schedule_id: str, at: datetime, name: str | None = None,
                        cron_expression: str | None = None) -> Schedule:
        before = super().get_schedule(schedule_id)
        super().update_schedule(schedule_id, at, name, cron_expression)
        with self._tx("update_schedule", schedule_id) as conn:
            conn.execute("UPDATE schedules SET next_run = ? WHERE id = ?",
                         (to_text(before.next_run), schedule_id))
        return super().get_schedule(schedule_id)


class SchedulesListedWhenEnabled(SqliteAppMeta):
    """``list_schedules`` shares the due query's ``WHERE enabled = 1``: a paused schedule
    disappears from the list it would be resumed from."""

    def list_schedules(self) -> list[Schedule]:
        return [schedule for schedule in super().list_schedules() if schedule.enabled]


MUTANTS: dict[str, tuple[type[SqliteAppMeta], str]] = {
    "settings_lose_their_type": (SettingsLoseTheirType, "model"),
    "chunk_count_not_updated": (ChunkCountNotUpdated, "model"),
    "runs_move_anywhere": (RunsMoveAnywhere, "model"),
    "runs_ordered_by_start_only": (RunsOrderedByStartOnly, "model"),
    "knowledge_base_versions_in_text_order": (KnowledgeBaseVersionsInTextOrder, "model"),
    "pin_finds_a_version_of_any_name": (PinFindsAVersionOfAnyName, "model"),
    "cron_day_fields_both_required": (CronDayFieldsBothRequired, "model"),
    "snapshot_hides_later_events": (SnapshotHidesLaterEvents, "model"),
    "checkpoint_moves_back": (CheckpointMovesBack, "model"),
    "foreign_keys_on_first_connection_only": (ForeignKeysOnFirstConnectionOnly, "fk"),
    "pipeline_delete_cascades": (PipelineDeleteCascades, "fk"),
    "chunks_keep_their_document": (ChunksKeepTheirDocument, "fk"),
    "replace_chunks_in_two_transactions": (ReplaceChunksInTwoTransactions, "acid"),
    "deleting_a_missing_schedule_succeeds": (DeletingAMissingScheduleSucceeds, "model"),
    "missing_run_is_none": (MissingRunIsNone, "model"),
    "pipelines_listed_as_created": (PipelinesListedAsCreated, "model"),
    "tool_deleted_by_disabling": (ToolDeletedByDisabling, "model"),
    "pipeline_update_clears_the_description": (PipelineUpdateClearsTheDescription, "model"),
    "tool_update_keeps_updated_at": (ToolUpdateKeepsUpdatedAt, "model"),
    "flow_update_trusts_its_json": (FlowUpdateTrustsItsJson, "model"),
    "model_status_read_before_the_update": (ModelStatusReadBeforeTheUpdate, "model"),
    "bundled_model_kept": (BundledModelKept, "model"),
    "schedule_keeps_its_old_next_run": (ScheduleKeepsItsOldNextRun, "model"),
    "schedules_listed_when_enabled": (SchedulesListedWhenEnabled, "model"),
    "document_update_resets_its_chunk_count": (DocumentUpdateResetsItsChunkCount, "model"),
}

globals().update(sqlite_mutant_backends(MUTANTS, __name__))
