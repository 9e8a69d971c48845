"""``model``: random operation sequences against the app_meta model, every result compared.

The pools are small on purpose (three knowledge bases under two names, three
documents, four chunk ids, three pipelines, three aggregates, ids that differ
only in case), and every example starts from rows that reach the edges: a
setting of each type, a pinned version, a re-chunked document, a run through
every legal and an illegal move, a schedule whose both day fields are
restricted, a stream with a snapshot and events after it, a checkpoint that
tries to go back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from storecheck.conformance import reach
from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs import app_meta as spec_module
from storecheck.conformance.specs.app_meta import (
    KB_STATUSES,
    MODEL_STATUSES,
    MODEL_TYPES,
    PIPELINE_STATUSES,
    SPEC,
    STORE_ASSIGNED_IDS,
    NewChunk,
    NewDocument,
    NewEvent,
    NewFlow,
    NewKnowledgeBase,
    NewModel,
    NewPipeline,
    NewRun,
    NewSchedule,
    NewTool,
    replay,
)
from storecheck.conformance.stateful import ComparingMachine, after_changes, run_machine
from storecheck.fixtures.app_meta import (
    AGGREGATES,
    CHUNKS,
    DOCUMENTS,
    FLOWS,
    KEYS,
    KNOWLEDGE_BASES,
    MICRO,
    MODELS,
    PIPELINES,
    PROCESSORS,
    RUNS,
    SCHEDULES,
    T0,
    TOOLS,
    chunks,
    cron_expressions,
    documents,
    events,
    few_times,
    flows,
    json_objects,
    json_values,
    knowledge_bases,
    models,
    pipelines,
    run_statuses,
    runs,
    schedules,
    setting_values,
    settings_versions,
    tools,
)
from storecheck.reference_impl.memory.app_meta import MemoryAppMeta

pytestmark = pytest.mark.model
POSITION: str = STORE_ASSIGNED_IDS[("StoredEvent", "position")]
aggregate_ids = st.sampled_from((*AGGREGATES, "a-nobody", ""))
aggregate_types = st.sampled_from(("Order", "order"))
versions = st.sampled_from((0, 1, 2, 3, 5, 9, 10, -1))
picks = st.integers(0, 50)
"""An index into the positions seen so far (0 names position 0)."""


SITUATIONS = (
    *reach.derived(spec_module),
    reach.tie("list_knowledge_bases", "name"),
    reach.tie("list_documents", "created_at"),
    reach.tie("list_runs", "started_at"),
    reach.tie("due_schedules", "next_run"),
    reach.sometimes("list_knowledge_bases: a name at version 10 or more and a version below",
                    "list_knowledge_bases", lambda c: c.succeeded and any(
                        {kb.version >= 10 for kb in c.result if kb.name == name} == {True, False}
                        for name in {kb.name for kb in c.result})),
    reach.Situation("pin_version: a version only another name has (NotFound)",
                    lambda c, earlier: _pins_another_names_version(c, earlier)),
    reach.sometimes("due_schedules: a schedule due exactly at the instant asked",
                    "due_schedules", lambda c: c.succeeded and any(
                        schedule.next_run == c.arguments["at"] for schedule in c.result)),
    reach.sometimes("read_feed: a page cut by its limit", "read_feed",
                    lambda c: c.succeeded and len(c.result) == c.arguments["limit"]),
)
"""Beyond what the spec module tells (:func:`reach.derived`): every order's ties, a tenth
version beside the first (text order is not number order), a version under another name, a
schedule due on the instant, a feed page that its limit cuts."""


def _pins_another_names_version(call: reach.Call, earlier: Any) -> bool:
    if call.operation != "pin_version" or not isinstance(call.error, NotFound):
        return False
    created = [c.result for c in earlier
               if c.operation == "create_knowledge_base" and c.succeeded]
    names = {kb.name for kb in created if kb.id == call.arguments["kb_id"]}
    return any(kb.version == call.arguments["version"] and kb.name not in names
               for kb in created)


def build_machine(backend: Any, workdir: Path) -> type[ComparingMachine]:
    class AppMetaMachine(ComparingMachine):
        spec = SPEC
        assigned = STORE_ASSIGNED_IDS
        make_model = MemoryAppMeta

        def call(self, operation: str, *args: Any) -> Any:
            return self.both(operation, _op(operation, *args))

        def position(self, pick: int) -> int:
            """A position the model has handed out (or 0), for reading the feed after it."""
            seen = [0, *(event.position for event in self.model.state.events)]
            return int(seen[pick % len(seen)])

        def on_side(self, position: int, backend_side: bool) -> int:
            return position if position == 0 else self.backend_id(POSITION, position,
                                                                   backend_side)

        def as_model(self, position: int, backend_side: bool) -> int:
            if not backend_side or position == 0:
                return position
            return int(self.ids.forward.get((POSITION, position), position))

        @initialize()
        def start(self) -> None:
            """Rows every example starts from, since a drawn rule may never reach them."""
            call = self.call
            for key, value in (("theme", True), ("Theme", 1), ("index.chunk_size", 1.0),
                               ("index.chunk_size", "1.0")):
                call("put_setting", key, value, T0)
            call("put_setting", "theme", False, T0 + MICRO, 2)
            call("put_setting", "theme", True, T0, 1)
            call("create_knowledge_base", NewKnowledgeBase("kb-1", "docs", "mini", T0))
            call("create_knowledge_base", NewKnowledgeBase("kb-2", "docs", "mini", T0 - MICRO,
                                                           version=2, status="active"))
            call("pin_version", "kb-2", 1, T0)
            call("pin_version", "kb-2", 3, T0)
            call("add_document", NewDocument("d-1", "kb-1", "Guide", "/g.md", "ab" * 32, 10, T0))
            call("add_document", NewDocument("d-tied", "kb-1", "Notes", "/n.md", "ef" * 32, 3, T0))
            call("replace_chunks", "d-1", [NewChunk("c-1", "hello"), NewChunk("c-2", "world", 2)],
                 T0)
            # Re-chunked: the old chunks go, an id may come back, the count follows.
            call("replace_chunks", "d-1", [NewChunk("c-2", "hello world", 3)], T0 + MICRO)
            call("create_pipeline", NewPipeline("p-1", "ingest", '{"steps": []}', T0))
            call("create_run", NewRun("r-1", "p-1", "kb-1"))
            call("create_run", NewRun("r-2", "p-1"))
            call("create_run", NewRun("r-3", "p-1"))
            call("transition_run", "r-1", "running", T0)
            call("transition_run", "r-1", "pending", T0)
            call("transition_run", "r-1", "failed", T0 + MICRO, "out of memory", '{"docs": 3}')
            call("transition_run", "r-2", "cancelled", T0)
            call("delete_pipeline", "p-1")
            call("delete_knowledge_base", "kb-1")
            # Both day fields restricted: the 1st of the month or any Monday.
            call("create_schedule", NewSchedule("sch-1", "nightly", "0 9 1 * 1", "p-1", T0))
            # A second schedule of the same cron: both due at one instant, asked exactly then.
            tied = call("create_schedule", NewSchedule("sch-2", "nightly too", "0 9 1 * 1", "p-1",
                                                       T0))
            call("due_schedules", tied.next_run)
            call("due_schedules", T0 + timedelta(days=1, hours=9))
            call("record_schedule_run", "sch-1", T0 + timedelta(days=1, hours=9))
            call("register_tool", NewTool("t-1", "search", "http", "{}", "{}", T0, False))
            call("create_flow", NewFlow("f-1", "answer", '{"nodes": []}', T0))
            call("register_model", NewModel("m-1", "bge-small", "embedding", "huggingface",
                                            '{"repo_id": "BAAI/bge-small"}', "downloading", T0))
            # A tenth version beside the first two (text order is not number order), and a
            # version only another name has: pinning it is NotFound.
            call("create_knowledge_base", NewKnowledgeBase("kb-10", "docs", "mini", T0,
                                                           version=10))
            call("create_knowledge_base", NewKnowledgeBase("kb-o", "other", "mini", T0,
                                                           version=5))
            call("pin_version", "kb-2", 5, T0)
            call("pin_version", "kb-2", 10, T0)
            # Every other write once, so that the rules doing each write again find one.
            call("update_knowledge_base", "kb-o", T0 + MICRO, "active", 0.5)
            call("add_document", NewDocument("d-o", "kb-o", "Other", "/o.md", "cd" * 32, 1, T0))
            call("delete_document", "d-o")
            call("delete_knowledge_base", "kb-o")
            call("create_pipeline", NewPipeline("p-o", "unused", "{}", T0))
            call("delete_pipeline", "p-o")
            call("set_tool_enabled", "t-1", True, T0 + MICRO)
            # Created after "ingest", listed before it ("I" sorts before "i").
            call("create_pipeline", NewPipeline("p-2", "Ingest", '{"steps": [1]}', T0))
            # A schedule holds its pipeline until it is deleted; tools and flows go alone.
            call("create_pipeline", NewPipeline("p-s", "scheduled", "{}", T0))
            call("create_schedule", NewSchedule("sch-o", "hourly", "0 * * * *", "p-s", T0))
            call("delete_pipeline", "p-s")
            call("delete_schedule", "sch-o")
            call("delete_schedule", "sch-o")
            call("delete_pipeline", "p-s")
            call("register_tool", NewTool("t-o", "fetch", "http", "{}", "{}", T0))
            call("delete_tool", "t-o")
            call("create_flow", NewFlow("f-o", "gone", "{}", T0))
            call("delete_flow", "f-o")
            # A schedule renamed (its time stays), then given another expression (its next
            # run follows from the change), a taken name, an expression that does not parse.
            call("update_schedule", "sch-2", T0 + MICRO, "nightly, renamed")
            call("update_schedule", "sch-2", T0 + timedelta(hours=2), None, "*/15 * * * *")
            call("update_schedule", "sch-2", T0 + MICRO, "nightly")
            call("update_schedule", "sch-2", T0 + MICRO, None, "61 * * * *")
            call("set_schedule_enabled", "sch-2", False, T0 + 2 * MICRO)
            # A document described anew: its title alone, then its metadata; bad JSON refused.
            call("update_document", "d-1", T0 + 2 * MICRO, "Guide v2")
            call("update_document", "d-tied", T0 + 2 * MICRO, None, "CC-BY", '{"lang": "en"}')
            call("update_document", "d-tied", T0 + 2 * MICRO, None, None, "{")
            # One of each read by id, and one that is not there (NotFound, not None).
            for operation, found, missing in (("get_run", "r-1", "r-gone"),
                                              ("get_tool", "t-1", "t-gone"),
                                              ("get_schedule", "sch-1", "sch-gone"),
                                              ("get_flow", "f-1", "f-gone")):
                call(operation, found)
                call(operation, missing)
            # A model's download, and the bundled model deleted (twice: NotFound).
            call("set_model_status", "m-1", "available", T0 + MICRO)
            call("set_model_status", "m-1", "ready", T0 + MICRO)
            call("delete_model", "sentence-transformers/all-MiniLM-L6-v2")
            call("delete_model", "sentence-transformers/all-MiniLM-L6-v2")
            # Updates: one field, a taken name (UNIQUE), an empty one (CHECK), a missing id.
            call("update_pipeline", "p-2", T0 + MICRO, None, "rebuilt", None, "active")
            call("update_pipeline", "p-2", T0 + 2 * MICRO, None, None, '{"steps": [2]}')
            call("update_pipeline", "p-2", T0 + MICRO, "ingest")
            call("update_pipeline", "p-2", T0 + MICRO, "")
            call("update_pipeline", "p-gone", T0, "x")
            call("register_tool", NewTool("t-2", "fetch", "http", "{}", "{}", T0))
            call("update_tool", "t-2", T0 + MICRO, None, '{"timeout": 5}')
            call("update_tool", "t-2", T0 + MICRO, "search")
            call("create_flow", NewFlow("f-2", "route", "{}", T0, True, "first"))
            call("update_flow", "f-2", T0 + MICRO, "Answer", None, '{"nodes": [1]}')
            call("update_flow", "f-2", T0 + MICRO, "answer")
            # What creation refuses, an update refuses too.
            call("update_flow", "f-2", T0 + MICRO, None, None, "{")
            call("update_tool", "t-2", T0 + MICRO, None, None, "NaN")
            call("update_pipeline", "p-2", T0 + MICRO, None, None, "[1]")
            call("set_schedule_enabled", "sch-1", False, T0 + MICRO)
            call("set_schedule_enabled", "sch-1", True, T0 + 2 * MICRO)
            call("append_events", "a-1", "Order", 0, [
                NewEvent("e-1", "Created", '{"x": 1, "y": 1}', T0),
                NewEvent("e-2", "Changed", '{"x": null}', T0 + MICRO)])
            call("append_events", "a-1", "Order", 1, [NewEvent("e-3", "Changed", '{}', T0)])
            call("append_events", "a-1", "Invoice", 2, [NewEvent("e-3", "Changed", '{}', T0)])
            self.snapshot("a-1", 1, T0)
            call("append_events", "a-1", "Order", 2, [NewEvent("e-3", "Changed", '{"z": 3}', T0)])
            call("load_aggregate", "a-1")
            call("read_events", "a-1", 3)
            call("read_feed", 0, 2)
            self.both("set_checkpoint", lambda s, side: self.as_model(
                s.set_checkpoint("indexer", self.on_side(self.position(2), side), T0), side))
            self.both("set_checkpoint", lambda s, side: self.as_model(
                s.set_checkpoint("indexer", self.on_side(self.position(1), side), T0), side))
            # ... and forward again: a stored checkpoint moves, not only a first one.
            self.both("set_checkpoint", lambda s, side: self.as_model(
                s.set_checkpoint("indexer", self.on_side(self.position(3), side), T0), side))
            self.both("get_checkpoint", lambda s, side: self.as_model(
                s.get_checkpoint("indexer"), side))
            # A newer snapshot replaces the stored one; an older or the same is refused.
            self.snapshot("a-1", 3, T0)
            self.snapshot("a-1", 2, T0)
            self.snapshot("a-1", 3, T0)
            call("load_aggregate", "a-1")
            call("delete_setting", "Theme")
            call("delete_setting", "Theme")

        def snapshot(self, aggregate_id: str, version: int, at: Any) -> None:
            """A snapshot holding the state the model replays up to ``version``."""
            stream = self.model.read_events(aggregate_id)
            state = json.dumps(replay({}, stream[:max(version, 0)]))
            self.call("save_snapshot", aggregate_id, version, state, at)

        @rule(key=st.sampled_from((*KEYS, "")), value=setting_values, at=few_times,
              schema_version=settings_versions)
        def put_setting(self, key: str, value: Any, at: Any, schema_version: int) -> None:
            self.call("put_setting", key, value, at, schema_version)

        @rule(key=st.sampled_from(KEYS))
        def delete_setting(self, key: str) -> None:
            self.call("delete_setting", key)

        @rule(new=knowledge_bases)
        def create_knowledge_base(self, new: NewKnowledgeBase) -> None:
            self.call("create_knowledge_base", new)

        @rule(kb_id=st.sampled_from(KNOWLEDGE_BASES), at=few_times,
              status=st.none() | st.sampled_from((*KB_STATUSES, "Active")),
              health_score=st.none() | st.sampled_from((0.0, 0.25, 1.0, 1, 1.5, -0.1)))
        def update_knowledge_base(self, kb_id: str, at: Any, status: str | None,
                                  health_score: float | None) -> None:
            self.call("update_knowledge_base", kb_id, at, status, health_score)

        @rule(kb_id=st.sampled_from(KNOWLEDGE_BASES), version=st.none() | versions,
              at=few_times)
        def pin_version(self, kb_id: str, version: int | None, at: Any) -> None:
            self.call("pin_version", kb_id, version, at)

        @rule(kb_id=st.sampled_from(KNOWLEDGE_BASES))
        def delete_knowledge_base(self, kb_id: str) -> None:
            self.call("delete_knowledge_base", kb_id)

        @rule(new=documents)
        def add_document(self, new: NewDocument) -> None:
            self.call("add_document", new)

        @rule(document_id=st.sampled_from(DOCUMENTS), given=st.lists(chunks, max_size=4),
              at=few_times)
        def replace_chunks(self, document_id: str, given: list[NewChunk], at: Any) -> None:
            self.call("replace_chunks", document_id, given, at)

        @rule(document_id=st.sampled_from(DOCUMENTS), at=few_times,
              title=st.none() | st.sampled_from(("Guide v2", "")),
              license_info=st.none() | st.sampled_from(("MIT", "")),
              metadata_json=json_values)
        def update_document(self, document_id: str, at: Any, title: str | None,
                            license_info: str | None, metadata_json: str | None) -> None:
            self.call("update_document", document_id, at, title, license_info, metadata_json)

        @rule(document_id=st.sampled_from(DOCUMENTS))
        def delete_document(self, document_id: str) -> None:
            self.call("delete_document", document_id)

        @rule(new=pipelines)
        def create_pipeline(self, new: NewPipeline) -> None:
            self.call("create_pipeline", new)

        @rule(pipeline_id=st.sampled_from(PIPELINES), at=few_times,
              name=st.none() | st.sampled_from(("ingest", "Ingest", "")),
              description=st.none() | st.sampled_from(("", "weekly")),
              config_json=st.none() | json_objects,
              status=st.none() | st.sampled_from((*PIPELINE_STATUSES, "Draft")))
        def update_pipeline(self, pipeline_id: str, at: Any, name: str | None,
                            description: str | None, config_json: str | None,
                            status: str | None) -> None:
            self.call("update_pipeline", pipeline_id, at, name, description, config_json, status)

        @rule(pipeline_id=st.sampled_from(PIPELINES))
        def delete_pipeline(self, pipeline_id: str) -> None:
            self.call("delete_pipeline", pipeline_id)

        @rule(new=runs)
        def create_run(self, new: NewRun) -> None:
            self.call("create_run", new)

        @rule(run_id=st.sampled_from(RUNS), status=run_statuses, at=few_times,
              error_message=st.none() | st.sampled_from(("timeout", "")),
              metrics_json=st.none() | st.sampled_from(('{"docs": 1}', "{")))
        def transition_run(self, run_id: str, status: str, at: Any, error_message: str | None,
                           metrics_json: str | None) -> None:
            self.call("transition_run", run_id, status, at, error_message, metrics_json)

        @rule(new=tools)
        def register_tool(self, new: NewTool) -> None:
            self.call("register_tool", new)

        @rule(tool_id=st.sampled_from(TOOLS), enabled=st.booleans(), at=few_times)
        def set_tool_enabled(self, tool_id: str, enabled: bool, at: Any) -> None:
            self.call("set_tool_enabled", tool_id, enabled, at)

        @rule(new=schedules)
        def create_schedule(self, new: NewSchedule) -> None:
            self.call("create_schedule", new)

        @rule(schedule_id=st.sampled_from(SCHEDULES), enabled=st.booleans(), at=few_times)
        def set_schedule_enabled(self, schedule_id: str, enabled: bool, at: Any) -> None:
            self.call("set_schedule_enabled", schedule_id, enabled, at)

        @rule(schedule_id=st.sampled_from(SCHEDULES), at=few_times)
        def record_schedule_run(self, schedule_id: str, at: Any) -> None:
            self.call("record_schedule_run", schedule_id, at)

        @rule(at=few_times)
        def due_schedules(self, at: Any) -> None:
            self.call("due_schedules", at)

        @rule(run_id=st.sampled_from(RUNS), tool_id=st.sampled_from(TOOLS),
              schedule_id=st.sampled_from(SCHEDULES), flow_id=st.sampled_from(FLOWS))
        def get_one_of_each(self, run_id: str, tool_id: str, schedule_id: str,
                            flow_id: str) -> None:
            """A missing one is NotFound on both sides, not a None the reads above forgive."""
            self.call("get_run", run_id)
            self.call("get_tool", tool_id)
            self.call("get_schedule", schedule_id)
            self.call("get_flow", flow_id)

        @rule(tool_id=st.sampled_from(TOOLS), at=few_times,
              name=st.none() | st.sampled_from(("search", "Search", "")),
              config_json=json_values, schema_json=json_values)
        def update_tool(self, tool_id: str, at: Any, name: str | None, config_json: str | None,
                        schema_json: str | None) -> None:
            self.call("update_tool", tool_id, at, name, config_json, schema_json)

        @rule(tool_id=st.sampled_from(TOOLS))
        def delete_tool(self, tool_id: str) -> None:
            self.call("delete_tool", tool_id)

        @rule(schedule_id=st.sampled_from(SCHEDULES), at=few_times,
              name=st.none() | st.sampled_from(("nightly", "Nightly", "")),
              cron_expression=st.none() | cron_expressions)
        def update_schedule(self, schedule_id: str, at: Any, name: str | None,
                            cron_expression: str | None) -> None:
            self.call("update_schedule", schedule_id, at, name, cron_expression)

        @rule(schedule_id=st.sampled_from(SCHEDULES))
        def delete_schedule(self, schedule_id: str) -> None:
            self.call("delete_schedule", schedule_id)

        @rule(new=flows)
        def create_flow(self, new: NewFlow) -> None:
            self.call("create_flow", new)

        @rule(flow_id=st.sampled_from(FLOWS), at=few_times,
              name=st.none() | st.sampled_from(("answer", "Answer", "")),
              description=st.none() | st.sampled_from(("", "routes questions")),
              definition_json=json_values)
        def update_flow(self, flow_id: str, at: Any, name: str | None, description: str | None,
                        definition_json: str | None) -> None:
            self.call("update_flow", flow_id, at, name, description, definition_json)

        @rule(flow_id=st.sampled_from(FLOWS))
        def delete_flow(self, flow_id: str) -> None:
            self.call("delete_flow", flow_id)

        @rule(new=models)
        def register_model(self, new: NewModel) -> None:
            self.call("register_model", new)

        @rule(model_id=st.sampled_from(MODELS),
              status=st.sampled_from((*MODEL_STATUSES, "ready")), at=few_times)
        def set_model_status(self, model_id: str, status: str, at: Any) -> None:
            self.call("set_model_status", model_id, status, at)

        @rule(model_id=st.sampled_from(MODELS))
        def delete_model(self, model_id: str) -> None:
            self.call("delete_model", model_id)

        @rule(aggregate_id=aggregate_ids, aggregate_type=aggregate_types,
              expected_version=versions, batch=st.lists(events, min_size=0, max_size=3))
        def append_events(self, aggregate_id: str, aggregate_type: str, expected_version: int,
                          batch: list[NewEvent]) -> None:
            self.call("append_events", aggregate_id, aggregate_type, expected_version, batch)

        @rule(aggregate_id=aggregate_ids, version=versions, at=few_times,
              honest=st.booleans())
        def save_snapshot(self, aggregate_id: str, version: int, at: Any, honest: bool) -> None:
            if honest:
                self.snapshot(aggregate_id, version, at)
            else:
                self.call("save_snapshot", aggregate_id, version, '{"stale": true}', at)

        @rule(aggregate_id=aggregate_ids, from_version=versions)
        def read_events(self, aggregate_id: str, from_version: int) -> None:
            self.call("read_events", aggregate_id, from_version)

        @rule(after=picks, limit=st.sampled_from((1, 2, 1000, 0, 1001)))
        def read_feed(self, after: int, limit: int) -> None:
            position = self.position(after)
            self.both("read_feed", lambda s, side: s.read_feed(self.on_side(position, side),
                                                               limit))

        @rule(processor=st.sampled_from((*PROCESSORS, "")), pick=picks, at=few_times)
        def set_checkpoint(self, processor: str, pick: int, at: Any) -> None:
            position = self.position(pick)
            self.both("set_checkpoint", lambda s, side: self.as_model(
                s.set_checkpoint(processor, self.on_side(position, side), at), side))

        @invariant()
        @after_changes
        def everything_reads_back_the_same(self) -> None:
            self.call("list_settings")
            self.both("get_setting", lambda s, _: [_or_none(partial(s.get_setting, key))
                                                   for key in KEYS])
            self.both("read the knowledge", lambda s, _: _read_knowledge(s))
            self.both("read the work", lambda s, _: _read_work(s))
            self.both("read the event store", lambda s, side: (
                _read_events(s), [self.as_model(s.get_checkpoint(p), side) for p in PROCESSORS]))

    AppMetaMachine.backend = backend
    AppMetaMachine.workdir = workdir
    return AppMetaMachine


def _or_none(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except NotFound:
        return None


def _op(operation: str, *args: Any) -> Callable[[Any, bool], Any]:
    """The call of ``operation`` with ``args``, on the store and on the model alike."""
    return lambda store, _: getattr(store, operation)(*args)


def _read_knowledge(store: Any) -> Any:
    return (store.list_knowledge_bases(None), store.list_knowledge_bases("active"),
            [_or_none(partial(store.list_documents, kb_id)) for kb_id in KNOWLEDGE_BASES],
            [(_or_none(partial(store.get_document, document_id)),
              _or_none(partial(store.document_chunks, document_id)))
             for document_id in DOCUMENTS],
            [_or_none(partial(store.get_knowledge_base, kb_id)) for kb_id in KNOWLEDGE_BASES],
            CHUNKS)


def _read_work(store: Any) -> Any:
    return ([(_or_none(partial(store.get_pipeline, pipeline_id)),
              _or_none(partial(store.list_runs, pipeline_id))) for pipeline_id in PIPELINES],
            store.list_pipelines(), store.list_schedules(),
            [_or_none(partial(store.get_run, r)) for r in RUNS],
            store.list_tools(True), store.list_tools(False), store.list_flows(),
            [_or_none(partial(store.get_tool, t)) for t in TOOLS],
            [_or_none(partial(store.get_schedule, x)) for x in SCHEDULES],
            [_or_none(partial(store.get_flow, f)) for f in FLOWS],
            [store.list_models(kind) for kind in (None, *MODEL_TYPES)],
            [store.due_schedules(T0 + offset) for offset in (
                timedelta(0), timedelta(days=1, hours=9), timedelta(days=400))])


def _read_events(store: Any) -> list[Any]:
    return [[(store.aggregate_version(a), store.read_events(a),
              _or_none(partial(store.load_aggregate, a))) for a in AGGREGATES],
            store.read_feed(0, 1000)]


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    run_machine(build_machine(backend.backend, tmp_path), store_profile)
