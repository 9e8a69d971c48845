"""The ``app_meta`` model: the spec's rules over plain dictionaries, obviously correct."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs import app_meta_inputs as inputs
from storecheck.conformance.specs.app_meta import (
    MODEL_SOURCES,
    MODEL_STATUSES,
    MODEL_TYPES,
    PIPELINE_STATUSES,
    RUN_TRANSITIONS,
    SPEC,
    Flow,
    LoadedAggregate,
    Model,
    NewEvent,
    NewFlow,
    NewModel,
    NewPipeline,
    NewRun,
    NewSchedule,
    NewTool,
    Pipeline,
    PipelineRun,
    Schedule,
    Snapshot,
    StoredEvent,
    Tool,
)
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.memory.app_meta_catalog import (
    MemoryAppMetaCatalog,
    State,
    _check,
    _found,
    _given,
    _named,
    _not_empty,
    _parent,
    _unique,
    verified,
)


def _removed(operation: str, table: dict[str, Any], key: str, what: str) -> None:
    _found(operation, table, key, what)
    del table[key]


class MemoryAppMeta(MemoryAppMetaCatalog):
    """Implements :class:`~storecheck.conformance.specs.app_meta.AppMetaStore`."""

    # -- pipelines and runs ------------------------------------------------------------------

    def create_pipeline(self, new: NewPipeline) -> Pipeline:
        new = inputs.new_pipeline(new)
        operation = "create_pipeline"

        def change(s: State) -> Pipeline:
            _not_empty(operation, id=new.id, name=new.name)
            _check(operation, "status IN PIPELINE_STATUSES", new.status in PIPELINE_STATUSES,
                   new.status)
            _unique(operation, new.id in s.pipelines, "id", new.id)
            _unique(operation, _named(s.pipelines, new.name, new.id), "name", new.name)
            s.pipelines[new.id] = Pipeline(new.id, new.name, new.description, new.config_json,
                                           new.status, new.created_at, new.created_at)
            return s.pipelines[new.id]
        return self._apply(change)

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        (pipeline_id,) = inputs.texts("get_pipeline", pipeline_id=pipeline_id)
        return self._read(lambda s: _found("get_pipeline", s.pipelines, pipeline_id, "pipeline"))

    def list_pipelines(self) -> list[Pipeline]:
        return self._read(lambda s: sorted(s.pipelines.values(), key=lambda p: (p.name, p.id)))

    def update_pipeline(self, pipeline_id: str, at: datetime, name: str | None = None,
                        description: str | None = None, config_json: str | None = None,
                        status: str | None = None) -> Pipeline:
        pipeline_id, at, name, description, config_json, status = inputs.pipeline_update(
            pipeline_id, at, name, description, config_json, status)
        operation = "update_pipeline"

        def change(s: State) -> Pipeline:
            pipeline = _found(operation, s.pipelines, pipeline_id, "pipeline")
            _check(operation, "name <> ''", name != "", name)
            _check(operation, "status IN PIPELINE_STATUSES",
                   status is None or status in PIPELINE_STATUSES, status)
            _unique(operation, name is not None and _named(s.pipelines, name, pipeline_id),
                    "name", name)
            s.pipelines[pipeline_id] = replace(
                pipeline, name=_given(name, pipeline.name),
                description=_given(description, pipeline.description),
                config_json=_given(config_json, pipeline.config_json),
                status=_given(status, pipeline.status), updated_at=at)
            return s.pipelines[pipeline_id]
        return self._apply(change)

    def delete_pipeline(self, pipeline_id: str) -> None:
        (pipeline_id,) = inputs.texts("delete_pipeline", pipeline_id=pipeline_id)

        def change(s: State) -> None:
            _found("delete_pipeline", s.pipelines, pipeline_id, "pipeline")
            if any(run.pipeline_id == pipeline_id for run in s.runs.values()) or any(
                    schedule.pipeline_id == pipeline_id for schedule in s.schedules.values()):
                raise ConstraintViolation(SPEC, "delete_pipeline", ConstraintKind.FOREIGN_KEY,
                                          "runs or schedules name the pipeline", pipeline_id)
            del s.pipelines[pipeline_id]
        self._apply(change)

    def create_run(self, new: NewRun) -> PipelineRun:
        new = inputs.new_run(new)

        def change(s: State) -> PipelineRun:
            _not_empty("create_run", id=new.id)
            _unique("create_run", new.id in s.runs, "id", new.id)
            _parent("create_run", s.pipelines, new.pipeline_id, "pipeline_id")
            _parent("create_run", s.knowledge_bases, new.kb_id, "kb_id")
            s.runs[new.id] = PipelineRun(new.id, new.pipeline_id, new.kb_id, "pending", None,
                                         None, None, None)
            return s.runs[new.id]
        return self._apply(change)

    def get_run(self, run_id: str) -> PipelineRun:
        (run_id,) = inputs.texts("get_run", run_id=run_id)
        return self._read(lambda s: _found("get_run", s.runs, run_id, "run"))

    def transition_run(self, run_id: str, status: str, at: datetime,
                       error_message: str | None = None,
                       metrics_json: str | None = None) -> PipelineRun:
        run_id, status, at, error_message, metrics_json = inputs.transition(
            run_id, status, at, error_message, metrics_json)
        operation = "transition_run"

        def change(s: State) -> PipelineRun:
            run = _found(operation, s.runs, run_id, "run")
            if status not in RUN_TRANSITIONS.get(run.status, frozenset()):
                raise Conflict(SPEC, operation, f"a {run.status} run cannot become {status}",
                               run_id)
            _check(operation, "error_message only and always when failed",
                   (status == "failed") == (error_message is not None), error_message)
            started = at if status == "running" else run.started_at
            completed = None if status == "running" else at
            _check(operation, "completed_at >= started_at",
                   completed is None or started is None or completed >= started, at)
            s.runs[run_id] = replace(
                run, status=status, started_at=started, completed_at=completed,
                error_message=error_message,
                metrics_json=run.metrics_json if metrics_json is None else metrics_json)
            return s.runs[run_id]
        return self._apply(change)

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        (pipeline_id,) = inputs.texts("list_runs", pipeline_id=pipeline_id)

        def look(s: State) -> list[PipelineRun]:
            _found("list_runs", s.pipelines, pipeline_id, "pipeline")
            runs = [run for run in s.runs.values() if run.pipeline_id == pipeline_id]
            not_started = sorted((r for r in runs if r.started_at is None), key=lambda r: r.id)
            started = sorted((r for r in runs if r.started_at is not None), key=lambda r: r.id)
            started.sort(key=lambda r: r.started_at or datetime.min, reverse=True)
            return not_started + started
        return self._read(look)

    # -- tools, schedules, flows, models -------------------------------------------------------

    def register_tool(self, new: NewTool) -> Tool:
        new = inputs.new_tool(new)
        operation = "register_tool"

        def change(s: State) -> Tool:
            _not_empty(operation, id=new.id, name=new.name, type=new.type)
            _unique(operation, new.id in s.tools, "id", new.id)
            _unique(operation, _named(s.tools, new.name, new.id), "name", new.name)
            s.tools[new.id] = Tool(new.id, new.name, new.type, new.config_json, new.schema_json,
                                   new.enabled, new.created_at, new.created_at)
            return s.tools[new.id]
        return self._apply(change)

    def set_tool_enabled(self, tool_id: str, enabled: bool, at: datetime) -> Tool:
        tool_id, enabled, at = inputs.switch("set_tool_enabled", tool_id, enabled, at)

        def change(s: State) -> Tool:
            tool = _found("set_tool_enabled", s.tools, tool_id, "tool")
            s.tools[tool_id] = replace(tool, enabled=enabled, updated_at=at)
            return s.tools[tool_id]
        return self._apply(change)

    def list_tools(self, enabled_only: bool) -> list[Tool]:
        enabled_only = inputs.flag(inputs.check("list_tools"), "enabled_only", enabled_only)
        return self._read(lambda s: sorted(
            (t for t in s.tools.values() if t.enabled or not enabled_only),
            key=lambda t: (t.name, t.id)))

    def get_tool(self, tool_id: str) -> Tool:
        (tool_id,) = inputs.texts("get_tool", tool_id=tool_id)
        return self._read(lambda s: _found("get_tool", s.tools, tool_id, "tool"))

    def update_tool(self, tool_id: str, at: datetime, name: str | None = None,
                    config_json: str | None = None, schema_json: str | None = None) -> Tool:
        tool_id, at, name, config_json, schema_json = inputs.tool_update(
            tool_id, at, name, config_json, schema_json)
        operation = "update_tool"

        def change(s: State) -> Tool:
            tool = _found(operation, s.tools, tool_id, "tool")
            _check(operation, "name <> ''", name != "", name)
            _unique(operation, name is not None and _named(s.tools, name, tool_id), "name", name)
            s.tools[tool_id] = replace(tool, name=_given(name, tool.name),
                                       config_json=_given(config_json, tool.config_json),
                                       schema_json=_given(schema_json, tool.schema_json),
                                       updated_at=at)
            return s.tools[tool_id]
        return self._apply(change)

    def delete_tool(self, tool_id: str) -> None:
        (tool_id,) = inputs.texts("delete_tool", tool_id=tool_id)
        self._apply(lambda s: _removed("delete_tool", s.tools, tool_id, "tool"))

    def create_schedule(self, new: NewSchedule) -> Schedule:
        new, _ = inputs.new_schedule(new)
        next_run = inputs.next_run("create_schedule", new.cron_expression, new.created_at)
        operation = "create_schedule"

        def change(s: State) -> Schedule:
            _not_empty(operation, id=new.id, name=new.name)
            _unique(operation, new.id in s.schedules, "id", new.id)
            _unique(operation, _named(s.schedules, new.name, new.id), "name", new.name)
            _parent(operation, s.pipelines, new.pipeline_id, "pipeline_id")
            s.schedules[new.id] = Schedule(new.id, new.name, new.cron_expression,
                                           new.pipeline_id, new.enabled, None, next_run,
                                           new.created_at, new.created_at)
            return s.schedules[new.id]
        return self._apply(change)

    def set_schedule_enabled(self, schedule_id: str, enabled: bool, at: datetime) -> Schedule:
        schedule_id, enabled, at = inputs.switch("set_schedule_enabled", schedule_id, enabled, at)

        def change(s: State) -> Schedule:
            schedule = _found("set_schedule_enabled", s.schedules, schedule_id, "schedule")
            next_run = schedule.next_run
            if enabled and not schedule.enabled:
                next_run = inputs.next_run("set_schedule_enabled", schedule.cron_expression, at)
            s.schedules[schedule_id] = replace(schedule, enabled=enabled, next_run=next_run,
                                               updated_at=at)
            return s.schedules[schedule_id]
        return self._apply(change)

    def record_schedule_run(self, schedule_id: str, at: datetime) -> Schedule:
        v = inputs.check("record_schedule_run")
        schedule_id, at = v.text("schedule_id", schedule_id), v.timestamp("at", at)

        def change(s: State) -> Schedule:
            schedule = _found("record_schedule_run", s.schedules, schedule_id, "schedule")
            next_run = inputs.next_run("record_schedule_run", schedule.cron_expression, at)
            s.schedules[schedule_id] = replace(schedule, last_run=at, next_run=next_run,
                                               updated_at=at)
            return s.schedules[schedule_id]
        return self._apply(change)

    def due_schedules(self, at: datetime) -> list[Schedule]:
        at = inputs.check("due_schedules").timestamp("at", at)
        return self._read(lambda s: sorted(
            (x for x in s.schedules.values() if x.enabled and x.next_run <= at),
            key=lambda x: (x.next_run, x.id)))

    def get_schedule(self, schedule_id: str) -> Schedule:
        (schedule_id,) = inputs.texts("get_schedule", schedule_id=schedule_id)
        return self._read(lambda s: _found("get_schedule", s.schedules, schedule_id, "schedule"))

    def list_schedules(self) -> list[Schedule]:
        return self._read(lambda s: sorted(s.schedules.values(), key=lambda x: (x.name, x.id)))

    def update_schedule(self, schedule_id: str, at: datetime, name: str | None = None,
                        cron_expression: str | None = None) -> Schedule:
        schedule_id, at, name, cron_expression = inputs.schedule_update(
            schedule_id, at, name, cron_expression)
        operation = "update_schedule"
        next_run = (None if cron_expression is None
                    else inputs.next_run(operation, cron_expression, at))

        def change(s: State) -> Schedule:
            schedule = _found(operation, s.schedules, schedule_id, "schedule")
            _check(operation, "name <> ''", name != "", name)
            _unique(operation, name is not None and _named(s.schedules, name, schedule_id),
                    "name", name)
            s.schedules[schedule_id] = replace(
                schedule, name=_given(name, schedule.name),
                cron_expression=_given(cron_expression, schedule.cron_expression),
                next_run=_given(next_run, schedule.next_run), updated_at=at)
            return s.schedules[schedule_id]
        return self._apply(change)

    def delete_schedule(self, schedule_id: str) -> None:
        (schedule_id,) = inputs.texts("delete_schedule", schedule_id=schedule_id)
        self._apply(lambda s: _removed("delete_schedule", s.schedules, schedule_id, "schedule"))

    def create_flow(self, new: NewFlow) -> Flow:
        new = inputs.new_flow(new)

        def change(s: State) -> Flow:
            _not_empty("create_flow", id=new.id, name=new.name)
            _unique("create_flow", new.id in s.flows, "id", new.id)
            _unique("create_flow", _named(s.flows, new.name, new.id), "name", new.name)
            s.flows[new.id] = Flow(new.id, new.name, new.description, new.definition_json,
                                   new.enabled, new.created_at, new.created_at)
            return s.flows[new.id]
        return self._apply(change)

    def list_flows(self) -> list[Flow]:
        return self._read(lambda s: sorted(s.flows.values(), key=lambda f: (f.name, f.id)))

    def get_flow(self, flow_id: str) -> Flow:
        (flow_id,) = inputs.texts("get_flow", flow_id=flow_id)
        return self._read(lambda s: _found("get_flow", s.flows, flow_id, "flow"))

    def update_flow(self, flow_id: str, at: datetime, name: str | None = None,
                    description: str | None = None,
                    definition_json: str | None = None) -> Flow:
        flow_id, at, name, description, definition_json = inputs.flow_update(
            flow_id, at, name, description, definition_json)
        operation = "update_flow"

        def change(s: State) -> Flow:
            flow = _found(operation, s.flows, flow_id, "flow")
            _check(operation, "name <> ''", name != "", name)
            _unique(operation, name is not None and _named(s.flows, name, flow_id), "name", name)
            s.flows[flow_id] = replace(
                flow, name=_given(name, flow.name),
                description=_given(description, flow.description),
                definition_json=_given(definition_json, flow.definition_json), updated_at=at)
            return s.flows[flow_id]
        return self._apply(change)

    def delete_flow(self, flow_id: str) -> None:
        (flow_id,) = inputs.texts("delete_flow", flow_id=flow_id)
        self._apply(lambda s: _removed("delete_flow", s.flows, flow_id, "flow"))

    def register_model(self, new: NewModel) -> Model:
        new = inputs.new_model(new)
        operation = "register_model"

        def change(s: State) -> Model:
            _not_empty(operation, id=new.id, name=new.name)
            _check(operation, "model_type IN MODEL_TYPES", new.model_type in MODEL_TYPES,
                   new.model_type)
            _check(operation, "source_type IN MODEL_SOURCES", new.source_type in MODEL_SOURCES,
                   new.source_type)
            _check(operation, "status IN MODEL_STATUSES", new.status in MODEL_STATUSES,
                   new.status)
            _check(operation, "dimensions >= 1", new.dimensions is None or new.dimensions >= 1,
                   new.dimensions)
            _check(operation, "size_mb >= 0", new.size_mb is None or new.size_mb >= 0,
                   new.size_mb)
            _unique(operation, new.id in s.models, "id", new.id)
            s.models[new.id] = Model(new.id, new.name, new.model_type, new.source_type,
                                     new.source_data_json, new.status, new.dimensions,
                                     new.size_mb, new.created_at)
            return s.models[new.id]
        return self._apply(change)

    def list_models(self, model_type: str | None) -> list[Model]:
        model_type = inputs.optional_filter("list_models", "model_type", model_type)
        return self._read(lambda s: sorted(
            (m for m in s.models.values() if model_type is None or m.model_type == model_type),
            key=lambda m: (m.name, m.id)))

    def set_model_status(self, model_id: str, status: str, at: datetime) -> Model:
        v = inputs.check("set_model_status")
        model_id, status, at = (v.text("model_id", model_id), v.text("status", status),
                                v.timestamp("at", at))

        def change(s: State) -> Model:
            model = _found("set_model_status", s.models, model_id, "model")
            _check("set_model_status", "status IN MODEL_STATUSES", status in MODEL_STATUSES,
                   status)
            s.models[model_id] = replace(model, status=status)
            return s.models[model_id]
        return self._apply(change)

    def delete_model(self, model_id: str) -> None:
        (model_id,) = inputs.texts("delete_model", model_id=model_id)
        self._apply(lambda s: _removed("delete_model", s.models, model_id, "model"))

    # -- the event store ------------------------------------------------------------------------

    def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                      events: Sequence[NewEvent]) -> list[StoredEvent]:
        aggregate_id, aggregate_type, expected, checked = inputs.append(
            aggregate_id, aggregate_type, expected_version, events)
        operation = "append_events"

        def change(s: State) -> list[StoredEvent]:
            stream = s.stream(aggregate_id)
            if stream and stream[0].aggregate_type != aggregate_type:
                raise Conflict(SPEC, operation, "the aggregate has another type", aggregate_id)
            if len(stream) != expected:
                raise Conflict(SPEC, operation, f"the aggregate is at {len(stream)}",
                               aggregate_id)
            _not_empty(operation, aggregate_id=aggregate_id, aggregate_type=aggregate_type)
            taken = {event.event_id for event in s.events}
            appended = []
            # Event by event, as the rows are inserted: the first bad event's error wins.
            for offset, event in enumerate(checked, start=1):
                _not_empty(operation, event_id=event.event_id, event_type=event.event_type)
                _unique(operation, event.event_id in taken, "event id", event.event_id)
                taken.add(event.event_id)
                s.last_position += 1
                sequence = expected + offset
                appended.append(StoredEvent(
                    s.last_position, event.event_id, event.event_type, aggregate_id,
                    aggregate_type, sequence, event.data_json, event.metadata_json,
                    event.trace_id, event.user_id, event.timestamp,
                    formulas.event_checksum(
                        event.event_id, event.event_type, aggregate_id, aggregate_type,
                        sequence, event.data_json, event.metadata_json, event.trace_id,
                        event.user_id, event.timestamp)))
            s.events += appended
            return appended
        return self._apply(change)

    def read_events(self, aggregate_id: str, from_version: int = 1) -> list[StoredEvent]:
        (aggregate_id,) = inputs.texts("read_events", aggregate_id=aggregate_id)
        from_version = inputs.version("read_events", "from_version", from_version, 1)
        return self._read(lambda s: verified("read_events", [
            e for e in s.stream(aggregate_id) if e.sequence_number >= from_version]))

    def aggregate_version(self, aggregate_id: str) -> int:
        (aggregate_id,) = inputs.texts("aggregate_version", aggregate_id=aggregate_id)
        return self._read(lambda s: len(s.stream(aggregate_id)))

    def save_snapshot(self, aggregate_id: str, version: int, state_json: str,
                      at: datetime) -> Snapshot:
        aggregate_id, version, state_json, at = inputs.snapshot(aggregate_id, version,
                                                                state_json, at)
        operation = "save_snapshot"

        def change(s: State) -> Snapshot:
            stream = s.stream(aggregate_id)
            if not stream:
                raise NotFound(SPEC, operation, "no such aggregate", aggregate_id)
            if version > len(stream):
                raise Conflict(SPEC, operation, f"the aggregate is at {len(stream)}", version)
            stored = s.snapshots.get(aggregate_id)
            if stored is not None and stored.version >= version:
                raise Conflict(SPEC, operation, "a snapshot as new is stored", version)
            s.snapshots[aggregate_id] = Snapshot(aggregate_id, stream[0].aggregate_type,
                                                 version, state_json, at)
            return s.snapshots[aggregate_id]
        return self._apply(change)

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate:
        (aggregate_id,) = inputs.texts("load_aggregate", aggregate_id=aggregate_id)

        def look(s: State) -> LoadedAggregate:
            stream = s.stream(aggregate_id)
            if not stream:
                raise NotFound(SPEC, "load_aggregate", "no such aggregate", aggregate_id)
            snapshot = s.snapshots.get(aggregate_id)
            after = 0 if snapshot is None else snapshot.version
            return LoadedAggregate(aggregate_id, stream[0].aggregate_type, len(stream),
                                   snapshot, tuple(verified("load_aggregate", stream[after:])))
        return self._read(look)

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        after_position, limit = inputs.feed(after_position, limit)
        return self._read(lambda s: verified("read_feed", [
            e for e in s.events if e.position > after_position][:limit]))

    def set_checkpoint(self, processor: str, position: int, at: datetime) -> int:
        processor, position, at = inputs.checkpoint(processor, position, at)

        def change(s: State) -> int:
            current = s.checkpoints.get(processor, 0)
            if position < current:
                raise Conflict(SPEC, "set_checkpoint", f"the processor is at {current}",
                               position)
            _not_empty("set_checkpoint", processor=processor)
            s.checkpoints[processor] = position
            return position
        return self._apply(change)

    def get_checkpoint(self, processor: str) -> int:
        (processor,) = inputs.texts("get_checkpoint", processor=processor)
        return self._read(lambda s: s.checkpoints.get(processor, 0))
