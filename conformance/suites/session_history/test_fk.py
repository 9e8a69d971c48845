"""``fk``: every foreign key of the spec, by operations and by an orphan scan."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import expect, expect_error, run_threads
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs.session_history import FOREIGN_KEYS, SPEC, SessionQuery
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory
from storecheck.reference_impl.schemas import reference_schema

pytestmark = pytest.mark.fk

MISSING = 424_242


@pytest.mark.operation("create_session")
def test_session_with_missing_workspace_is_refused(store: Any) -> None:
    new = SessionFactory().session(MISSING)
    expect_error(SPEC, "create_session", lambda: store.create_session(new),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect_error(SPEC, "get_session", lambda: store.get_session(new.id), NotFound)


@pytest.mark.operation("append_message")
def test_missing_parent_is_refused_from_every_thread(store: Any) -> None:
    """Foreign keys hold on every connection a store opens, not just its first."""
    failures: list[str] = []

    def attempt() -> None:
        try:
            expect_error(SPEC, "append_message",
                         lambda: store.append_message("no-such-session", SessionFactory().message()),
                         ConstraintViolation, ConstraintKind.FOREIGN_KEY)
        except AssertionError as exc:
            failures.append(str(exc))

    run_threads(attempt, [() for _ in range(3)])
    expect(not failures, SPEC, "append_message", "a foreign-key refusal on every thread",
           failures[:1])


@pytest.mark.operation("add_instance")
def test_instance_with_missing_session_is_refused(store: Any) -> None:
    instance = SessionFactory().instance(0)
    expect_error(SPEC, "add_instance", lambda: store.add_instance("no-such-session", instance),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)


@pytest.mark.operation("append_message")
def test_message_with_missing_session_is_refused(store: Any) -> None:
    message = SessionFactory().message()
    expect_error(SPEC, "append_message", lambda: store.append_message("no-such-session", message),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)


def _populate(store: Any, factory: SessionFactory, path: str, sessions: int = 3) -> tuple[Any, list[str]]:
    workspace = store.get_or_create_workspace(path, T0)
    ids = [store.create_session(factory.session(workspace.id, instances=3, messages=4)).id
           for _ in range(sessions)]
    return workspace, ids


@pytest.mark.operation("delete_workspace")
def test_deleting_a_workspace_cascades_to_everything_under_it(store: Any) -> None:
    factory = SessionFactory()
    doomed, doomed_ids = _populate(store, factory, "/fk/doomed")
    kept, kept_ids = _populate(store, factory, "/fk/kept")
    store.delete_workspace(doomed.id)
    expect_error(SPEC, "get_workspace", lambda: store.get_workspace(doomed.id), NotFound)
    for session_id in doomed_ids:
        for read in (store.get_session, store.list_messages, store.list_instances):
            expect_error(SPEC, "delete_workspace", partial(read, session_id), NotFound)
    left = store.search_sessions(SessionQuery(), 100).items
    expect(sorted(s.id for s in left) == sorted(kept_ids), SPEC, "delete_workspace",
           "only the other workspace's sessions to remain", [s.id for s in left])
    for session_id in kept_ids:
        summary = store.session_summary(session_id)
        expect((summary.instance_count, summary.message_count) == (3, 4), SPEC,
               "delete_workspace", "the other workspace's children untouched", summary)
    # Message ids are global: a cascaded message's id must be free again.
    again = store.create_session(factory.session(kept.id, instances=1, messages=0))
    store.append_message(again.id, factory.message(id="reuse-after-cascade"))


@pytest.mark.operation("delete_session")
def test_deleting_a_session_cascades_to_its_children(store: Any) -> None:
    factory = SessionFactory()
    workspace, ids = _populate(store, factory, "/fk/session")
    doomed = store.list_messages(ids[0])
    store.delete_session(ids[0])
    for message in doomed:
        other = store.append_message(ids[1], factory.message(id=message.id))
        expect(other.id == message.id, SPEC, "delete_session",
               "a deleted session's message ids to be gone with it", message.id)
    expect_error(SPEC, "delete_session", lambda: store.session_summary(ids[0]), NotFound)
    expect(store.get_workspace(workspace.id).path == "/fk/session", SPEC, "delete_session",
           "the parent workspace to stay")


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("delete_workspace")
def test_orphan_scan_from_the_reference_fk_graph_finds_nothing(store: Any) -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, max(store.schema_versions())).values())
    expect(set(graph) == set(FOREIGN_KEYS), SPEC, "schema",
           "the reference DDL's foreign keys to be the spec's", graph)
    factory = SessionFactory()
    first, first_ids = _populate(store, factory, "/fk/scan-a")
    _populate(store, factory, "/fk/scan-b")
    store.delete_session(first_ids[0])
    store.delete_workspace(first.id)
    for key in graph:
        scan = sqlschema.orphan_scan(key, store.sql_dialect)
        (count,) = store.query(scan)[0]
        expect(count == 0, SPEC, "delete_workspace",
               f"no {key.child_table} row whose {key.parent_table} is gone", count)
