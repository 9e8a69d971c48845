"""Pipelines, runs, tools, schedules, flows and models of the reference ``app_meta`` store."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    RUN_TRANSITIONS,
    SPEC,
    Flow,
    Model,
    NewFlow,
    NewModel,
    NewPipeline,
    NewRun,
    NewSchedule,
    NewTool,
    Pipeline,
    PipelineRun,
    Schedule,
    Tool,
)
from storecheck.reference_impl.app_meta import rows
from storecheck.reference_impl.app_meta.catalog import SqliteAppMetaCatalog, deleted, found
from storecheck.reference_impl.app_meta.rows import (
    FLOW_COLUMNS,
    MODEL_COLUMNS,
    PIPELINE_COLUMNS,
    RUN_COLUMNS,
    SCHEDULE_COLUMNS,
    TOOL_COLUMNS,
)
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.timestamps import to_text

NOT_STARTED_FIRST: Final = "ORDER BY started_at IS NOT NULL, started_at DESC, id"
"""Runs: not yet started first, then newest start first (spelled out: engines order NULLs
differently)."""
SELECT_SCHEDULE: Final = f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ?"


class SqliteAppMetaPipelines(SqliteAppMetaCatalog):
    """The application tables that describe work: pipelines and what runs them."""

    @staticmethod
    def _pipeline(conn: Connection, pipeline_id: str, operation: str) -> Pipeline:
        row = conn.execute(f"SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = ?",
                           (pipeline_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such pipeline", pipeline_id)
        return rows.pipeline(row)

    def create_pipeline(self, new: NewPipeline) -> Pipeline:
        new = inputs.new_pipeline(new)
        with self._tx("create_pipeline", new.id) as conn:
            return rows.pipeline(conn.execute(
                "INSERT INTO pipelines (id, name, description, config, status, created_at, "
                f"updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {PIPELINE_COLUMNS}",
                (new.id, new.name, new.description, new.config_json, new.status,
                 to_text(new.created_at), to_text(new.created_at))).fetchone())

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        (pipeline_id,) = inputs.texts("get_pipeline", pipeline_id=pipeline_id)
        with self._tx("get_pipeline", pipeline_id, write=False) as conn:
            return self._pipeline(conn, pipeline_id, "get_pipeline")

    def list_pipelines(self) -> list[Pipeline]:
        with self._tx("list_pipelines", write=False) as conn:
            return [rows.pipeline(row) for row in conn.execute(
                f"SELECT {PIPELINE_COLUMNS} FROM pipelines ORDER BY name, id")]

    def update_pipeline(self, pipeline_id: str, at: datetime, name: str | None = None,
                        description: str | None = None, config_json: str | None = None,
                        status: str | None = None) -> Pipeline:
        pipeline_id, at, name, description, config_json, status = inputs.pipeline_update(
            pipeline_id, at, name, description, config_json, status)
        with self._tx("update_pipeline", pipeline_id) as conn:
            self._pipeline(conn, pipeline_id, "update_pipeline")
            return rows.pipeline(conn.execute(
                "UPDATE pipelines SET name = coalesce(?, name), "
                "description = coalesce(?, description), config = coalesce(?, config), "
                "status = coalesce(?, status), updated_at = ? WHERE id = ? "
                f"RETURNING {PIPELINE_COLUMNS}",
                (name, description, config_json, status, to_text(at), pipeline_id)).fetchone())

    def delete_pipeline(self, pipeline_id: str) -> None:
        (pipeline_id,) = inputs.texts("delete_pipeline", pipeline_id=pipeline_id)
        with self._tx("delete_pipeline", pipeline_id) as conn:
            self._pipeline(conn, pipeline_id, "delete_pipeline")
            runs, schedules = conn.execute(
                "SELECT (SELECT count(*) FROM pipeline_runs WHERE pipeline_id = ?), "
                "(SELECT count(*) FROM schedules WHERE pipeline_id = ?)",
                (pipeline_id, pipeline_id)).fetchone()
            if runs or schedules:
                # The foreign keys would refuse it too; this says why, in the spec's words.
                raise ConstraintViolation(
                    SPEC, "delete_pipeline", ConstraintKind.FOREIGN_KEY,
                    f"the pipeline has {runs} run(s) and {schedules} schedule(s)", pipeline_id)
            conn.execute("DELETE FROM pipelines WHERE id = ?", (pipeline_id,))

    # -- runs ---------------------------------------------------------------------------

    def create_run(self, new: NewRun) -> PipelineRun:
        new = inputs.new_run(new)
        with self._tx("create_run", new.id) as conn:
            return rows.run(conn.execute(
                "INSERT INTO pipeline_runs (id, pipeline_id, kb_id, status) "
                f"VALUES (?, ?, ?, 'pending') RETURNING {RUN_COLUMNS}",
                (new.id, new.pipeline_id, new.kb_id)).fetchone())

    def get_run(self, run_id: str) -> PipelineRun:
        (run_id,) = inputs.texts("get_run", run_id=run_id)
        with self._tx("get_run", run_id, write=False) as conn:
            row = conn.execute(f"SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE id = ?",
                               (run_id,)).fetchone()
        return rows.run(found(row, "run", "get_run", run_id))

    def transition_run(self, run_id: str, status: str, at: datetime,
                       error_message: str | None = None,
                       metrics_json: str | None = None) -> PipelineRun:
        run_id, status, at, error_message, metrics_json = inputs.transition(
            run_id, status, at, error_message, metrics_json)
        with self._tx("transition_run", run_id) as conn:
            row = conn.execute("SELECT status FROM pipeline_runs WHERE id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise NotFound(SPEC, "transition_run", "no such run", run_id)
            if status not in RUN_TRANSITIONS.get(row[0], frozenset()):
                raise Conflict(SPEC, "transition_run", f"a {row[0]} run cannot become {status}",
                               run_id)
            moment = to_text(at)
            started, completed = (moment, None) if status == "running" else (None, moment)
            # The old status again in the WHERE: of two racing moves, one changes nothing.
            changed = conn.execute(
                "UPDATE pipeline_runs SET status = ?, started_at = coalesce(?, started_at), "
                "completed_at = ?, error_message = ?, metrics = coalesce(?, metrics) "
                f"WHERE id = ? AND status = ? RETURNING {RUN_COLUMNS}",
                (status, started, completed, error_message, metrics_json, run_id,
                 row[0])).fetchone()
            if changed is None:
                raise Conflict(SPEC, "transition_run", "the run moved meanwhile", run_id)
            return rows.run(changed)

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        (pipeline_id,) = inputs.texts("list_runs", pipeline_id=pipeline_id)
        with self._tx("list_runs", pipeline_id, write=False) as conn:
            self._pipeline(conn, pipeline_id, "list_runs")
            return [rows.run(row) for row in conn.execute(
                f"SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE pipeline_id = ? "
                f"{NOT_STARTED_FIRST}", (pipeline_id,))]

    # -- tools ----------------------------------------------------------------------------

    def register_tool(self, new: NewTool) -> Tool:
        new = inputs.new_tool(new)
        with self._tx("register_tool", new.id) as conn:
            return rows.tool(conn.execute(
                "INSERT INTO tools (id, name, type, config, schema, enabled, created_at, "
                f"updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TOOL_COLUMNS}",
                (new.id, new.name, new.type, new.config_json, new.schema_json, int(new.enabled),
                 to_text(new.created_at), to_text(new.created_at))).fetchone())

    def set_tool_enabled(self, tool_id: str, enabled: bool, at: datetime) -> Tool:
        tool_id, enabled, at = inputs.switch("set_tool_enabled", tool_id, enabled, at)
        with self._tx("set_tool_enabled", tool_id) as conn:
            row = conn.execute(f"UPDATE tools SET enabled = ?, updated_at = ? WHERE id = ? "
                               f"RETURNING {TOOL_COLUMNS}",
                               (int(enabled), to_text(at), tool_id)).fetchone()
            if row is None:
                raise NotFound(SPEC, "set_tool_enabled", "no such tool", tool_id)
            return rows.tool(row)

    def list_tools(self, enabled_only: bool) -> list[Tool]:
        enabled_only = inputs.flag(inputs.check("list_tools"), "enabled_only", enabled_only)
        with self._tx("list_tools", enabled_only, write=False) as conn:
            return [rows.tool(row) for row in conn.execute(
                f"SELECT {TOOL_COLUMNS} FROM tools WHERE enabled = 1 OR ? = 0 "
                "ORDER BY name, id", (int(enabled_only),))]

    def get_tool(self, tool_id: str) -> Tool:
        (tool_id,) = inputs.texts("get_tool", tool_id=tool_id)
        with self._tx("get_tool", tool_id, write=False) as conn:
            row = conn.execute(f"SELECT {TOOL_COLUMNS} FROM tools WHERE id = ?",
                               (tool_id,)).fetchone()
        return rows.tool(found(row, "tool", "get_tool", tool_id))

    def update_tool(self, tool_id: str, at: datetime, name: str | None = None,
                    config_json: str | None = None, schema_json: str | None = None) -> Tool:
        tool_id, at, name, config_json, schema_json = inputs.tool_update(
            tool_id, at, name, config_json, schema_json)
        with self._tx("update_tool", tool_id) as conn:
            row = conn.execute(
                "UPDATE tools SET name = coalesce(?, name), config = coalesce(?, config), "
                "schema = coalesce(?, schema), updated_at = ? WHERE id = ? "
                f"RETURNING {TOOL_COLUMNS}",
                (name, config_json, schema_json, to_text(at), tool_id)).fetchone()
        return rows.tool(found(row, "tool", "update_tool", tool_id))

    def delete_tool(self, tool_id: str) -> None:
        (tool_id,) = inputs.texts("delete_tool", tool_id=tool_id)
        with self._tx("delete_tool", tool_id) as conn:
            deleted(conn.execute("DELETE FROM tools WHERE id = ?", (tool_id,)),
                    "tool", "delete_tool", tool_id)

    # -- schedules ------------------------------------------------------------------------

    @staticmethod
    def _schedule(conn: Connection, schedule_id: str, operation: str) -> Schedule:
        row = conn.execute(SELECT_SCHEDULE, (schedule_id,)).fetchone()
        if row is None:
            raise NotFound(SPEC, operation, "no such schedule", schedule_id)
        return rows.schedule(row)

    def create_schedule(self, new: NewSchedule) -> Schedule:
        new, _ = inputs.new_schedule(new)
        next_run = inputs.next_run("create_schedule", new.cron_expression, new.created_at)
        with self._tx("create_schedule", new.id) as conn:
            return rows.schedule(conn.execute(
                "INSERT INTO schedules (id, name, cron_expression, pipeline_id, enabled, "
                "next_run, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {SCHEDULE_COLUMNS}",
                (new.id, new.name, new.cron_expression, new.pipeline_id, int(new.enabled),
                 to_text(next_run), to_text(new.created_at), to_text(new.created_at))).fetchone())

    def set_schedule_enabled(self, schedule_id: str, enabled: bool, at: datetime) -> Schedule:
        schedule_id, enabled, at = inputs.switch("set_schedule_enabled", schedule_id, enabled, at)
        with self._tx("set_schedule_enabled", schedule_id) as conn:
            schedule = self._schedule(conn, schedule_id, "set_schedule_enabled")
            next_run = schedule.next_run
            if enabled and not schedule.enabled:
                next_run = inputs.next_run("set_schedule_enabled", schedule.cron_expression, at)
            conn.execute("UPDATE schedules SET enabled = ?, next_run = ?, updated_at = ? "
                         "WHERE id = ?", (int(enabled), to_text(next_run), to_text(at),
                                          schedule_id))
            return self._schedule(conn, schedule_id, "set_schedule_enabled")

    def record_schedule_run(self, schedule_id: str, at: datetime) -> Schedule:
        v = inputs.check("record_schedule_run")
        schedule_id, at = v.text("schedule_id", schedule_id), v.timestamp("at", at)
        with self._tx("record_schedule_run", schedule_id) as conn:
            schedule = self._schedule(conn, schedule_id, "record_schedule_run")
            next_run = inputs.next_run("record_schedule_run", schedule.cron_expression, at)
            conn.execute("UPDATE schedules SET last_run = ?, next_run = ?, updated_at = ? "
                         "WHERE id = ?", (to_text(at), to_text(next_run), to_text(at),
                                          schedule_id))
            return self._schedule(conn, schedule_id, "record_schedule_run")

    def due_schedules(self, at: datetime) -> list[Schedule]:
        at = inputs.check("due_schedules").timestamp("at", at)
        with self._tx("due_schedules", at, write=False) as conn:
            return [rows.schedule(row) for row in conn.execute(
                f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE enabled = 1 AND next_run <= ? "
                "ORDER BY next_run, id", (to_text(at),))]

    def get_schedule(self, schedule_id: str) -> Schedule:
        (schedule_id,) = inputs.texts("get_schedule", schedule_id=schedule_id)
        with self._tx("get_schedule", schedule_id, write=False) as conn:
            return self._schedule(conn, schedule_id, "get_schedule")

    def list_schedules(self) -> list[Schedule]:
        with self._tx("list_schedules", write=False) as conn:
            return [rows.schedule(row) for row in conn.execute(
                f"SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name, id")]

    def update_schedule(self, schedule_id: str, at: datetime, name: str | None = None,
                        cron_expression: str | None = None) -> Schedule:
        schedule_id, at, name, cron_expression = inputs.schedule_update(
            schedule_id, at, name, cron_expression)
        next_run = (None if cron_expression is None
                    else to_text(inputs.next_run("update_schedule", cron_expression, at)))
        with self._tx("update_schedule", schedule_id) as conn:
            row = conn.execute("UPDATE schedules SET name = coalesce(?, name), "
                               "cron_expression = coalesce(?, cron_expression), "
                               "next_run = coalesce(?, next_run), updated_at = ? WHERE id = ? "
                               f"RETURNING {SCHEDULE_COLUMNS}",
                               (name, cron_expression, next_run, to_text(at),
                                schedule_id)).fetchone()
        return rows.schedule(found(row, "schedule", "update_schedule", schedule_id))

    def delete_schedule(self, schedule_id: str) -> None:
        (schedule_id,) = inputs.texts("delete_schedule", schedule_id=schedule_id)
        with self._tx("delete_schedule", schedule_id) as conn:
            deleted(conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)),
                    "schedule", "delete_schedule", schedule_id)

    # -- flows and models -------------------------------------------------------------------

    def create_flow(self, new: NewFlow) -> Flow:
        new = inputs.new_flow(new)
        with self._tx("create_flow", new.id) as conn:
            return rows.flow(conn.execute(
                "INSERT INTO flows (id, name, description, definition, enabled, created_at, "
                f"updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {FLOW_COLUMNS}",
                (new.id, new.name, new.description, new.definition_json, int(new.enabled),
                 to_text(new.created_at), to_text(new.created_at))).fetchone())

    def list_flows(self) -> list[Flow]:
        with self._tx("list_flows", write=False) as conn:
            return [rows.flow(row) for row in conn.execute(
                f"SELECT {FLOW_COLUMNS} FROM flows ORDER BY name, id")]

    def get_flow(self, flow_id: str) -> Flow:
        (flow_id,) = inputs.texts("get_flow", flow_id=flow_id)
        with self._tx("get_flow", flow_id, write=False) as conn:
            row = conn.execute(f"SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?",
                               (flow_id,)).fetchone()
        return rows.flow(found(row, "flow", "get_flow", flow_id))

    def update_flow(self, flow_id: str, at: datetime, name: str | None = None,
                    description: str | None = None,
                    definition_json: str | None = None) -> Flow:
        flow_id, at, name, description, definition_json = inputs.flow_update(
            flow_id, at, name, description, definition_json)
        with self._tx("update_flow", flow_id) as conn:
            row = conn.execute(
                "UPDATE flows SET name = coalesce(?, name), "
                "description = coalesce(?, description), "
                "definition = coalesce(?, definition), updated_at = ? WHERE id = ? "
                f"RETURNING {FLOW_COLUMNS}",
                (name, description, definition_json, to_text(at), flow_id)).fetchone()
        return rows.flow(found(row, "flow", "update_flow", flow_id))

    def delete_flow(self, flow_id: str) -> None:
        (flow_id,) = inputs.texts("delete_flow", flow_id=flow_id)
        with self._tx("delete_flow", flow_id) as conn:
            deleted(conn.execute("DELETE FROM flows WHERE id = ?", (flow_id,)),
                    "flow", "delete_flow", flow_id)

    def register_model(self, new: NewModel) -> Model:
        new = inputs.new_model(new)
        with self._tx("register_model", new.id) as conn:
            return rows.model(conn.execute(
                "INSERT INTO models (id, name, model_type, source_type, source_data, status, "
                "dimensions, size_mb, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {MODEL_COLUMNS}",
                (new.id, new.name, new.model_type, new.source_type, new.source_data_json,
                 new.status, new.dimensions, new.size_mb, to_text(new.created_at),
                 to_text(new.created_at))).fetchone())

    def list_models(self, model_type: str | None) -> list[Model]:
        model_type = inputs.optional_filter("list_models", "model_type", model_type)
        with self._tx("list_models", model_type, write=False) as conn:
            return [rows.model(row) for row in conn.execute(
                f"SELECT {MODEL_COLUMNS} FROM models WHERE CAST(? AS TEXT) IS NULL OR model_type = ? "
                "ORDER BY name, id", (model_type, model_type))]

    def set_model_status(self, model_id: str, status: str, at: datetime) -> Model:
        v = inputs.check("set_model_status")
        model_id, status, at = (v.text("model_id", model_id), v.text("status", status),
                                v.timestamp("at", at))
        with self._tx("set_model_status", model_id) as conn:
            row = conn.execute(f"UPDATE models SET status = ?, updated_at = ? WHERE id = ? "
                               f"RETURNING {MODEL_COLUMNS}",
                               (status, to_text(at), model_id)).fetchone()
        return rows.model(found(row, "model", "set_model_status", model_id))

    def delete_model(self, model_id: str) -> None:
        (model_id,) = inputs.texts("delete_model", model_id=model_id)
        with self._tx("delete_model", model_id) as conn:
            deleted(conn.execute("DELETE FROM models WHERE id = ?", (model_id,)),
                    "model", "delete_model", model_id)

