"""``badinput``: each bad value gets the spec's error or is stored verbatim; nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.checks import expect, expect_error, outcome
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, ValidationError
from storecheck.conformance.hostile_arguments import (
    ValidCall,
    check_operation,
    swept_operations,
)
from storecheck.conformance.specs.session_history import (
    SPEC,
    InstanceUpdate,
    LegacySession,
    NewSession,
    SessionHistoryStore,
    SessionQuery,
    SessionUpdate,
)
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory, legacy_document
from storecheck.fixtures.values import (
    AWKWARD_STRINGS,
    INJECTION_STRINGS,
    ORDER_PROBES,
    hostile_text,
)

pytestmark = pytest.mark.badinput

MEGABYTE = "\u00e9" * (1024 * 1024 // 2)


def _seeded(store: Any) -> tuple[Any, Any, dict[str, Any]]:
    factory = SessionFactory(seed=11)
    workspace = store.get_or_create_workspace("/bad/input", T0)
    session = store.create_session(factory.session(workspace.id, instances=2, messages=2))
    return factory, session, _everything(store)


def _everything(store: Any) -> dict[str, Any]:
    sessions = store.search_sessions(SessionQuery(), 1000).items
    return {s.id: (s, store.list_instances(s.id), store.list_messages(s.id)) for s in sessions}


def _unchanged(store: Any, before: dict[str, Any], operation: str) -> None:
    expect(_everything(store) == before, SPEC, operation,
           "everything stored before the bad input to be unchanged")


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "tournament"), ("type", "Competition"), ("status", "done"), ("status", ""),
     ("task", ""), ("id", "")],
)
@pytest.mark.operation("create_session")
def test_schema_rules_refuse_bad_session_values(store: Any, field: str, value: str) -> None:
    factory, session, before = _seeded(store)
    new = replace(factory.session(session.workspace_id), **{field: value})
    expect_error(SPEC, "create_session", lambda: store.create_session(new),
                 ConstraintViolation, ConstraintKind.CHECK)
    _unchanged(store, before, "create_session")


@pytest.mark.parametrize(("field", "value"), [("role", "robot"), ("content", ""), ("id", "")])
@pytest.mark.operation("append_message")
def test_schema_rules_refuse_bad_messages(store: Any, field: str, value: str) -> None:
    factory, session, before = _seeded(store)
    message = replace(factory.message(), **{field: value})
    expect_error(SPEC, "append_message", lambda: store.append_message(session.id, message),
                 ConstraintViolation, ConstraintKind.CHECK)
    _unchanged(store, before, "append_message")


@pytest.mark.operation("update_session")
def test_bad_status_update_is_refused_and_changes_nothing(store: Any) -> None:
    _, session, before = _seeded(store)
    update = SessionUpdate(updated_at=T0, status="archived", task="new task")
    expect_error(SPEC, "update_session", lambda: store.update_session(session.id, update),
                 ConstraintViolation, ConstraintKind.CHECK)
    _unchanged(store, before, "update_session")


@pytest.mark.operation("record_instance_stats")
def test_stats_that_would_overflow_a_64_bit_total_are_refused_whole(store: Any) -> None:
    """Totals imported at the edge of 64 bits: adding stats past it is a ValidationError
    that changes none of the three totals (a driver's overflow error is not)."""
    session = SessionFactory().session(workspace_id=0)
    edge = 2**63 - 1 - 10
    store.import_legacy(legacy_document([LegacySession(
        workspace_path="/w/edge", session=session, updated_at=T0, completed_at=None,
        totals=(None, 5, edge, None), winner_id=None)]), "/backup.json", T0)
    before = store.get_session(session.id)
    expect_error(SPEC, "record_instance_stats",
                 lambda: store.record_instance_stats(session.id, 1, 11, 1), ValidationError)
    expect(store.get_session(session.id) == before, SPEC, "record_instance_stats",
           "no total changed by the refused stats", store.get_session(session.id))
    after = store.record_instance_stats(session.id, 1, 10, 1)
    expect((after.total_files_changed, after.total_lines_added, after.total_lines_deleted)
           == (6, 2**63 - 1, 1), SPEC, "record_instance_stats",
           "stats reaching exactly 2**63 - 1 added", after)


@pytest.mark.parametrize(
    "call",
    [
        lambda s, sid: s.get_or_create_workspace("/x", datetime(2025, 1, 1)),
        lambda s, sid: s.get_or_create_workspace(b"/bytes", datetime(2025, 1, 1)),
        lambda s, sid: s.get_or_create_workspace("/surrogate\ud800", datetime(2025, 1, 1)),
        lambda s, sid: s.record_instance_stats(sid, -1, 0, 0),
        lambda s, sid: s.record_instance_stats(sid, 2**63, 0, 0),
        lambda s, sid: s.complete_session(sid, "running", datetime(2025, 1, 1, tzinfo=None)),
        lambda s, sid: s.search_sessions(SessionQuery(status="done"), 10),
        lambda s, sid: s.search_sessions(SessionQuery(), 0),
        lambda s, sid: s.update_instance(sid, 0, InstanceUpdate(files_changed=cast(Any, float("nan")))),
        lambda s, sid: s.import_legacy("{not json", "/b", T0),
        lambda s, sid: s.import_legacy('{"workspaces": [{"path": 1}]}', "/b", T0),
    ],
    ids=["naive-time", "bytes-path", "lone-surrogate", "negative-stat", "int-overflow",
         "bad-completion", "bad-filter", "zero-limit", "nan-count", "not-json", "bad-legacy"],
)
@pytest.mark.operation("input validation")
def test_invalid_arguments_raise_validation_error(store: Any, call: Any) -> None:
    _, session, before = _seeded(store)
    expect_error(SPEC, "input validation", lambda: call(store, session.id), ValidationError)
    _unchanged(store, before, "input validation")


@pytest.mark.operation("append_message")
def test_megabyte_content_and_awkward_text_are_stored_verbatim(store: Any) -> None:
    factory, session, _ = _seeded(store)
    for n, text in enumerate((MEGABYTE, *AWKWARD_STRINGS, *INJECTION_STRINGS)):
        store.append_message(session.id, factory.message(id=f"odd-{n}", content=text))
        stored = next(m for m in store.list_messages(session.id) if m.id == f"odd-{n}")
        expect(stored.content == text, SPEC, "append_message", "the content back verbatim",
               stored.content[:80])


@pytest.mark.operation("create_session")
def test_runtime_mix_is_a_set_sorted_by_code_point(store: Any) -> None:
    """Not by locale, case folding or UTF-16 code unit (a default sort in JavaScript or
    Java puts an emoji before U+FF21); duplicates collapse, on create and on update."""
    factory, session, _ = _seeded(store)
    expected = tuple(sorted(set(ORDER_PROBES)))
    given_mix = (*reversed(ORDER_PROBES), *ORDER_PROBES[:3])
    created = store.create_session(factory.session(session.workspace_id, runtime_mix=given_mix))
    for got in (created.runtime_mix, store.get_session(created.id).runtime_mix):
        expect(got == expected, SPEC, "create_session", "the runtime mix distinct, in code point "
               "order", got)
    half = ORDER_PROBES[::2]
    updated = store.update_session(created.id, SessionUpdate(updated_at=T0, runtime_mix=half))
    expect(updated.runtime_mix == tuple(sorted(half)), SPEC, "update_session",
           "the replaced runtime mix in code point order", updated.runtime_mix)
    page = store.search_sessions(SessionQuery(text=created.task), 10).items
    expect([s.runtime_mix for s in page if s.id == created.id] == [tuple(sorted(half))], SPEC,
           "search_sessions", "each session's runtime mix in code point order", page)


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=25)
@given(text=hostile_text(min_size=1), probe=st.sampled_from(INJECTION_STRINGS + AWKWARD_STRINGS))
@pytest.mark.operation("search_sessions")
def test_every_text_field_and_filter_takes_hostile_strings(
    backend: Any, open_store: Any, tmp_path_factory: pytest.TempPathFactory, text: str, probe: str
) -> None:
    workdir = tmp_path_factory.mktemp("hostile")
    store = open_store(location=backend.backend.new_location(SPEC, workdir))
    factory, session, _ = _seeded(store)
    workspace = store.get_or_create_workspace(text, T0)
    new = factory.session(workspace.id, id=text, task=f"{probe}{text}", model=text,
                          runtime_mix=(text, probe))
    new = replace(new, instances=(replace(new.instances[0], worktree_path=text, branch=probe,
                                          agent_name=text, status=probe, output=text),),
                  messages=(replace(new.messages[0], id=probe, content=text),))
    created = outcome(lambda: store.create_session(new))
    expect(created.error is None, SPEC, "create_session", "hostile text to be stored",
           created.describe())
    got = store.get_session(text)
    expect((got.task, got.model, got.runtime_mix) == (new.task, text, tuple(sorted({text, probe}))),
           SPEC, "create_session", "task, model and runtime mix back verbatim", got)
    instance = store.list_instances(text)[0]
    expect((instance.worktree_path, instance.branch, instance.output) == (text, probe, text),
           SPEC, "list_instances", "instance text back verbatim", instance)
    expect(store.list_messages(text)[0].content == text, SPEC, "list_messages",
           "message content back verbatim")
    hits = store.search_sessions(SessionQuery(text=probe), 100).items
    expect([s.id for s in hits] == [text], SPEC, "search_sessions",
           f"exactly the session whose task contains {probe!r}", [s.id for s in hits])
    expect(store.get_session(session.id) == session, SPEC, "search_sessions",
           "the earlier session unchanged")
    store.close()



def valid_calls(store: Any) -> tuple[dict[str, ValidCall], Callable[[Any], Any]]:
    """A call of each operation that succeeds, fresh ids from ``n``, every optional field
    set; and what a refused call must leave unchanged (every session, the children of the
    session the calls write to, the migration metadata), cheap enough to read per call."""
    factory = SessionFactory(seed=23)
    workspace = store.get_or_create_workspace("/sweep", T0)
    session = store.create_session(factory.session(workspace.id, instances=2, messages=1))
    store.create_session(factory.session(workspace.id, instances=0, messages=0))
    cursor = store.search_sessions(SessionQuery(), 1).next_cursor
    update = SessionUpdate(updated_at=T0, task="t", status="paused", model="m",
                           timeout_seconds=60, preserve_worktrees=True, winner_id=1,
                           total_duration=5, runtime_mix=("local",),
                           instance_statuses=((0, "running"),))
    instance_update = InstanceUpdate(status="done", output="o", end_time=T0, files_changed=1,
                                     lines_added=2, lines_deleted=3)
    query = SessionQuery(workspace_id=workspace.id, status="running", type="debate",
                         created_from=T0, created_to=T0, text="t")
    document = legacy_document([LegacySession("/legacy", factory.session(0), T0)])

    def fresh_session(n: int) -> str:
        return str(store.create_session(factory.session(workspace.id, instances=0,
                                                        messages=0)).id)

    def full_session(n: int) -> NewSession:
        instance = replace(factory.instance(0), output="o", start_time=T0, end_time=T0,
                           files_changed=1, lines_added=1, lines_deleted=1, model="m",
                           runtime_label="r")
        return replace(factory.session(workspace.id, instances=0, messages=1),
                       instances=(instance,), model="m", timeout_seconds=5,
                       preserve_worktrees=False)

    def state(store: Any) -> Any:
        return (store.search_sessions(SessionQuery(), 1000).items,
                store.list_instances(session.id), store.list_messages(session.id),
                store.migration_metadata())

    return {
        "get_or_create_workspace": lambda n: {"path": f"/sweep/{n}", "at": T0},
        "get_workspace": lambda n: {"workspace_id": workspace.id},
        "touch_workspace": lambda n: {"workspace_id": workspace.id, "at": T0},
        "delete_workspace": lambda n: {
            "workspace_id": store.get_or_create_workspace(f"/gone/{n}", T0).id},
        "create_session": lambda n: {"new": full_session(n)},
        "get_session": lambda n: {"session_id": session.id},
        "update_session": lambda n: {"session_id": session.id, "update": update},
        "complete_session": lambda n: {"session_id": fresh_session(n), "status": "failed",
                                       "at": T0},
        "record_instance_stats": lambda n: {"session_id": session.id, "files_changed": 1,
                                            "lines_added": 2, "lines_deleted": 3},
        "delete_session": lambda n: {"session_id": fresh_session(n)},
        "search_sessions": lambda n: {"query": query, "limit": 10, "after": cursor},
        "add_instance": lambda n: {"session_id": session.id,
                                   "new": replace(factory.instance(100 + n), output="o",
                                                  start_time=T0, files_changed=1, model="m")},
        "update_instance": lambda n: {"session_id": session.id, "instance_id": 0,
                                      "update": instance_update},
        "list_instances": lambda n: {"session_id": session.id},
        "append_message": lambda n: {"session_id": session.id,
                                     "new": factory.message(instance_id=0)},
        "list_messages": lambda n: {"session_id": session.id},
        "session_summary": lambda n: {"session_id": session.id},
        "import_legacy": lambda n: {"document": document, "backup_path": "/b", "at": T0},
    }, state


@pytest.mark.parametrize("operation", swept_operations(SessionHistoryStore))
def test_no_raw_exception_from_any_argument(store: Any, operation: str) -> None:
    """Each argument and record field at its extremes and of the wrong kind, one at a time."""
    calls, state = valid_calls(store)
    check_operation(SPEC, store, SessionHistoryStore, operation, calls[operation], state)
