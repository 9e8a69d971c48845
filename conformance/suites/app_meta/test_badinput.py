"""``badinput``: the spec's error or the value verbatim; nothing stored changes on refusal.

This store's own hostile input: setting values of every type at their edges,
cron expressions that do not parse or never fire, run moves the state machine
forbids, JSON that does not parse, events tampered with on disk (reported, never
returned), and every argument of every operation at its extremes.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import (
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    StorageCause,
    StorageFailed,
    StoreError,
    ValidationError,
)
from storecheck.conformance.hostile_arguments import ValidCall, check_operation, swept_operations
from storecheck.conformance.specs.app_meta import (
    SPEC,
    AppMetaStore,
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
)
from storecheck.conformance.specs.app_meta_maintenance import BACKUP_INTERVAL, AppMetaMaintenance
from storecheck.fixtures.app_meta import T0, small_world, snapshot_all

pytestmark = pytest.mark.badinput
LATER = T0 + timedelta(hours=1)


BY_SCHEMA = (ConstraintViolation, ConstraintKind.CHECK)
REFUSED: dict[str, tuple[Callable[[Any], Any], type[StoreError], ConstraintKind | None]] = {
    "cron-six-fields": (lambda s: s.create_schedule(NewSchedule(
        "s-x", "x", "0 0 3 * * *", "bad-p-1", T0)), ValidationError, None),
    "cron-never-fires": (lambda s: s.create_schedule(NewSchedule(
        "s-x", "x", "0 0 31 2 *", "bad-p-1", T0)), ValidationError, None),
    "cron-names": (lambda s: s.create_schedule(NewSchedule(
        "s-x", "x", "0 9 * * MON", "bad-p-1", T0)), ValidationError, None),
    "cron-step-zero": (lambda s: s.create_schedule(NewSchedule(
        "s-x", "x", "*/0 * * * *", "bad-p-1", T0)), ValidationError, None),
    "naive-setting-time": (lambda s: s.put_setting("k", 1, datetime(2026, 3, 1)),
                           ValidationError, None),
    "setting-as-list": (lambda s: s.put_setting("k", cast(Any, [1]), T0), ValidationError, None),
    "setting-nan": (lambda s: s.put_setting("k", float("nan"), T0), ValidationError, None),
    "setting-version-down": (lambda s: s.put_setting("bad.chunks", 1, LATER), Conflict, None),
    "health-above-one": (lambda s: s.update_knowledge_base(
        "bad-kb-1", LATER, health_score=1.5), *BY_SCHEMA),
    "overlap-as-large-as-size": (lambda s: s.create_knowledge_base(NewKnowledgeBase(
        "kb-x", "x", "mini", T0, chunk_size=100, chunk_overlap=100)), *BY_SCHEMA),
    "pipeline-config-not-json": (lambda s: s.create_pipeline(NewPipeline(
        "p-x", "x", "{steps", T0)), ValidationError, None),
    "run-failed-without-message": (lambda s: s.transition_run(
        "bad-r-2", "failed", LATER), *BY_SCHEMA),
    "run-completed-with-message": (lambda s: s.transition_run(
        "bad-r-2", "completed", LATER, error_message="oops"), *BY_SCHEMA),
    "run-back-to-pending": (lambda s: s.transition_run("bad-r-2", "pending", LATER),
                            Conflict, None),
    "run-ended-moves-again": (lambda s: s.transition_run("bad-r-3", "running", LATER),
                              Conflict, None),
    "tool-schema-not-json": (lambda s: s.register_tool(NewTool(
        "t-x", "x", "http", "{}", "{", T0)), ValidationError, None),
    "flow-definition-nan": (lambda s: s.create_flow(NewFlow(
        "f-x", "x", '{"a": NaN}', T0)), ValidationError, None),
    "model-negative-size": (lambda s: s.register_model(NewModel(
        "m-x", "x", "embedding", "huggingface", "{}", "available", T0, 384, -1)), *BY_SCHEMA),
    "event-data-not-json": (lambda s: s.append_events("bad-kb-1", "KnowledgeBase", 2, [
        NewEvent("e-x", "Grew", "{", T0)]), ValidationError, None),
    "event-other-aggregate-type": (lambda s: s.append_events("bad-kb-1", "Pipeline", 2, [
        NewEvent("e-x", "Grew", "{}", T0)]), Conflict, None),
    "event-batch-empty": (lambda s: s.append_events("bad-kb-1", "KnowledgeBase", 2, []),
                          ValidationError, None),
    "expected-version-ahead": (lambda s: s.append_events("bad-kb-1", "KnowledgeBase", 5, [
        NewEvent("e-x", "Grew", "{}", T0)]), Conflict, None),
    "snapshot-beyond-version": (lambda s: s.save_snapshot("bad-kb-1", 3, "{}", LATER),
                                Conflict, None),
    "snapshot-not-newer": (lambda s: s.save_snapshot("bad-kb-1", 1, "{}", LATER),
                           Conflict, None),
    "checkpoint-back": (lambda s: s.set_checkpoint("bad-proc", 0, LATER), Conflict, None),
    "feed-limit-zero": (lambda s: s.read_feed(0, 0), ValidationError, None),
    "feed-limit-above-1000": (lambda s: s.read_feed(0, 1001), ValidationError, None),
    "feed-after-negative": (lambda s: s.read_feed(-1, 10), ValidationError, None),
    "version-as-text": (lambda s: s.read_events("bad-kb-1", cast(Any, "1")),
                        ValidationError, None),
}
"""Each call breaks one rule: the error it must raise, and nothing stored changes."""


@pytest.mark.parametrize("call", REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.operation("input validation")
def test_each_broken_rule_is_refused_and_changes_nothing(store: Any, call: Any) -> None:
    small_world(store, "bad")
    store.set_checkpoint("bad-proc", 1, T0)
    before = snapshot_all(store)
    refuse, error, kind = call
    expect_error(SPEC, "input validation", lambda: refuse(store), error, kind)
    expect(snapshot_all(store) == before, SPEC, "input validation", "nothing stored changed")


EDGE_SETTINGS = (True, False, 0, 1, -(2**63), 2**63 - 1, 0.1, -0.0, 1e308, 5e-324, 1.0, "",
                 "1", "true", "null", "\u0000", "\ud7ff\ue000\U0010ffff", "x" * 100_000)


@pytest.mark.operation("put_setting")
def test_setting_values_of_every_type_read_back_as_written(store: Any) -> None:
    for n, value in enumerate(EDGE_SETTINGS):
        store.put_setting(f"edge-{n}", value, T0)
    for n, value in enumerate(EDGE_SETTINGS):
        got = store.get_setting(f"edge-{n}").value
        expect(type(got) is type(value) and got == value and str(got) == str(value), SPEC,
               "get_setting", f"{value!r:.40} back with its type", repr(got)[:40])


def _tamper(location: str) -> int:
    """Change one stored event's data behind the store's back; how many files held one."""
    changed = 0
    for path in (Path(location), Path(f"{location}.events")):
        if not path.exists():
            continue
        with closing(sqlite3.connect(path)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            if "events" in tables:
                changed += conn.execute("UPDATE events SET event_data = '{\"size\": 4}' "
                                        "WHERE event_id = 'bad-e-2'").rowcount
                conn.commit()
    return changed


@pytest.mark.requires(caps.FILE_STORAGE, caps.SQL_INTROSPECTION)
@pytest.mark.operation("read_events")
def test_a_tampered_event_is_reported_never_returned(open_store: Any,
                                                    fresh_location: str) -> None:
    """Event ``bad-e-2``'s data is changed in the file (the schema is the reference's, as the
    migration checks prove): every read that meets it raises StorageFailed(CORRUPT) naming
    it, and reads that do not meet it go on."""
    store = open_store()
    small_world(store, "bad")
    store.append_events("clean", "Stream", 0, [NewEvent("clean-1", "Created", "{}", T0)])
    store.close()
    expect(_tamper(fresh_location) == 1, SPEC, "read_events", "the event to tamper with")
    store = open_store()
    reads: list[tuple[str, Callable[[], Any]]] = [
        ("read_events", partial(store.read_events, "bad-kb-1")),
        ("load_aggregate", partial(store.load_aggregate, "bad-kb-1")),
        ("read_feed", partial(store.read_feed, 0, 1000))]
    for operation, read in reads:
        try:
            got = read()
        except StorageFailed as exc:
            expect(exc.cause is StorageCause.CORRUPT and "bad-e-2" in str(exc), SPEC, operation,
                   "StorageFailed(CORRUPT) naming the tampered event", exc)
            continue
        raise AssertionError(f"[{SPEC}] {operation}: expected StorageFailed(CORRUPT) for a "
                             f"tampered event; got {got!r:.300}")
    expect(store.read_events("bad-kb-1", 3) == [] and len(store.read_events("clean")) == 1,
           SPEC, "read_events", "reads that do not meet the tampered event go on")


def valid_calls(store: Any) -> tuple[dict[str, ValidCall], Callable[[Any], Any]]:
    """A call of each operation that succeeds, fresh ids from ``n``, every optional argument
    given; and what a refused call must leave unchanged."""
    small_world(store, "v")
    fresh = itertools.count(1)

    def run(n: int) -> str:
        run_id = f"v-run-{next(fresh)}"
        store.create_run(NewRun(run_id, "v-p-1", "v-kb-1"))
        return run_id

    def model(n: int) -> str:
        model_id = f"v-m-s-{next(fresh)}"
        store.register_model(NewModel(model_id, "m", "embedding", "huggingface", "{}",
                                      "downloading", T0))
        return model_id

    def stream(n: int) -> tuple[str, int]:
        aggregate = f"v-stream-{next(fresh)}"
        store.append_events(aggregate, "Stream", 0, [NewEvent(f"{aggregate}-1", "A", "{}", T0),
                                                      NewEvent(f"{aggregate}-2", "B", "{}", T0)])
        return aggregate, 2

    def append(n: int) -> dict[str, Any]:
        aggregate, version = stream(n)
        return {"aggregate_id": aggregate, "aggregate_type": "Stream",
                "expected_version": version,
                "events": [NewEvent(f"{aggregate}-new", "C", '{"n": 1}', T0, '{"m": 1}',
                                    "trace", "user")]}

    def snapshot(n: int) -> dict[str, Any]:
        aggregate, version = stream(n)
        return {"aggregate_id": aggregate, "version": version, "state_json": "{}", "at": T0}

    return {
        "put_setting": lambda n: {"key": f"v.key.{n}", "value": n, "at": T0,
                                  "schema_version": 1},
        "get_setting": lambda n: {"key": "v.theme"},
        "delete_setting": lambda n: {"key": f"v.gone.{n}"} if store.put_setting(
            f"v.gone.{n}", 1, T0) else {},
        "create_knowledge_base": lambda n: {"new": NewKnowledgeBase(
            f"v-kb-new-{n}", f"v new {n}", "mini", T0, 1, "active", 256, 32, "d", "{}")},
        "get_knowledge_base": lambda n: {"kb_id": "v-kb-1"},
        "list_knowledge_bases": lambda n: {"status": "active"},
        "update_knowledge_base": lambda n: {"kb_id": "v-kb-1", "at": LATER, "status": "active",
                                            "health_score": 0.5},
        "pin_version": lambda n: {"kb_id": "v-kb-2", "version": 2, "at": LATER},
        "delete_knowledge_base": lambda n: {"kb_id": store.create_knowledge_base(
            NewKnowledgeBase(f"v-kb-gone-{n}", f"gone {n}", "mini", T0)).id},
        "add_document": lambda n: {"new": NewDocument(
            f"v-d-new-{n}", "v-kb-1", "t", "/t", "ab" * 32, 10, T0, "MIT", "{}")},
        "get_document": lambda n: {"document_id": "v-d-1"},
        "list_documents": lambda n: {"kb_id": "v-kb-1"},
        "update_document": lambda n: {"document_id": "v-d-1", "at": LATER,
                                      "title": f"t {n}", "license_info": "MIT",
                                      "metadata_json": '{"n": 1}'},
        "replace_chunks": lambda n: {"document_id": "v-d-1", "chunks": [
            NewChunk(f"v-c-new-{n}", "text", 1, "{}")], "at": LATER},
        "document_chunks": lambda n: {"document_id": "v-d-1"},
        "delete_document": lambda n: {"document_id": store.add_document(NewDocument(
            f"v-d-gone-{n}", "v-kb-1", "t", "/t", "ab" * 32, 1, T0)).id},
        "create_pipeline": lambda n: {"new": NewPipeline(f"v-p-new-{n}", f"new {n}", "{}", T0,
                                                         "active", "d")},
        "get_pipeline": lambda n: {"pipeline_id": "v-p-1"},
        "update_pipeline": lambda n: {"pipeline_id": "v-p-1", "at": LATER,
                                      "name": f"v renamed {n}", "description": "d",
                                      "config_json": '{"n": 1}', "status": "active"},
        "delete_pipeline": lambda n: {"pipeline_id": store.create_pipeline(NewPipeline(
            f"v-p-gone-{n}", f"gone {n}", "{}", T0)).id},
        "create_run": lambda n: {"new": NewRun(f"v-r-new-{n}", "v-p-1", "v-kb-1")},
        "transition_run": lambda n: {"run_id": run(n), "status": "running", "at": LATER,
                                     "error_message": None, "metrics_json": "{}"},
        "list_runs": lambda n: {"pipeline_id": "v-p-1"},
        "get_run": lambda n: {"run_id": "v-r-1"},
        "register_tool": lambda n: {"new": NewTool(f"v-t-new-{n}", f"tool {n}", "http", "{}",
                                                   "{}", T0, False)},
        "set_tool_enabled": lambda n: {"tool_id": "v-t-1", "enabled": bool(n % 2), "at": LATER},
        "list_tools": lambda n: {"enabled_only": True},
        "get_tool": lambda n: {"tool_id": "v-t-1"},
        "update_tool": lambda n: {"tool_id": "v-t-1", "at": LATER, "name": f"v tool {n}",
                                  "config_json": "{}", "schema_json": '{"type": "object"}'},
        "delete_tool": lambda n: {"tool_id": store.register_tool(NewTool(
            f"v-t-gone-{n}", f"gone tool {n}", "http", "{}", "{}", T0)).id},
        "create_schedule": lambda n: {"new": NewSchedule(f"v-s-new-{n}", f"sched {n}",
                                                         "*/5 * * * *", "v-p-1", T0, False)},
        "set_schedule_enabled": lambda n: {"schedule_id": "v-s-1", "enabled": bool(n % 2),
                                           "at": LATER},
        "record_schedule_run": lambda n: {"schedule_id": "v-s-1", "at": LATER},
        "due_schedules": lambda n: {"at": LATER},
        "get_schedule": lambda n: {"schedule_id": "v-s-1"},
        "update_schedule": lambda n: {"schedule_id": "v-s-1", "at": LATER,
                                      "name": f"v sched {n}", "cron_expression": "0 * * * *"},
        "delete_schedule": lambda n: {"schedule_id": store.create_schedule(NewSchedule(
            f"v-s-gone-{n}", f"gone sched {n}", "*/5 * * * *", "v-p-1", T0)).id},
        "create_flow": lambda n: {"new": NewFlow(f"v-f-new-{n}", f"flow {n}", "{}", T0, True,
                                                 "d")},
        "get_flow": lambda n: {"flow_id": "v-f-1"},
        "update_flow": lambda n: {"flow_id": "v-f-1", "at": LATER, "name": f"v flow {n}",
                                  "description": "d", "definition_json": "{}"},
        "delete_flow": lambda n: {"flow_id": store.create_flow(NewFlow(
            f"v-f-gone-{n}", f"gone flow {n}", "{}", T0)).id},
        "register_model": lambda n: {"new": NewModel(f"v-m-{n}", "m", "embedding",
                                                     "huggingface", "{}", "available", T0,
                                                     384, 90)},
        "list_models": lambda n: {"model_type": "embedding"},
        "set_model_status": lambda n: {"model_id": model(n), "status": "available",
                                       "at": LATER},
        "delete_model": lambda n: {"model_id": model(n)},
        "append_events": append,
        "read_events": lambda n: {"aggregate_id": "v-kb-1", "from_version": 1},
        "aggregate_version": lambda n: {"aggregate_id": "v-kb-1"},
        "save_snapshot": snapshot,
        "load_aggregate": lambda n: {"aggregate_id": "v-kb-1"},
        "read_feed": lambda n: {"after_position": 0, "limit": 10},
        "set_checkpoint": lambda n: {"processor": f"v-proc-{n}", "position": 1, "at": T0},
        "get_checkpoint": lambda n: {"processor": "v-proc"},
    }, snapshot_all


@pytest.mark.parametrize("operation", swept_operations(AppMetaStore))
def test_no_raw_exception_from_any_argument(store: Any, operation: str) -> None:
    """Each argument and record field at its extremes and of the wrong kind, one at a time."""
    calls, state = valid_calls(store)
    check_operation(SPEC, store, AppMetaStore, operation, calls[operation], state)


@pytest.mark.requires(caps.BACKUP_RESTORE)
@pytest.mark.operation("backup_due")
def test_no_raw_exception_from_any_backup_due_argument(store: Any) -> None:
    """The sweep over scheduling (backup and restore are swept by the checks every spec with
    backups shares): due again after a backup at the last instant, without overflow."""
    check_operation(SPEC, store, AppMetaMaintenance, "backup_due",
                    lambda n: {"at": LATER, "interval": BACKUP_INTERVAL}, snapshot_all)
    store.backup(datetime.max.replace(tzinfo=UTC))
    expect(store.backup_due(LATER, BACKUP_INTERVAL) is False, SPEC, "backup_due",
           "no backup due before the newest one (at the last instant)")
