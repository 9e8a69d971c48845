"""``acid``: all-or-nothing writes, rollback, savepoints, isolation, crash durability."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    all_pages,
    expect,
    expect_error,
    read_while,
    sigkill,
    start_killable,
)
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.nesting import NestingSuite
from storecheck.conformance.specs.session_history import (
    SPEC,
    LegacySession,
    NewMessage,
    SessionQuery,
)
from storecheck.conformance.suites.session_history.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.session_history.workers import T0, write_until_killed
from storecheck.fixtures.session_history import SessionFactory, legacy_document

pytestmark = pytest.mark.acid


def _workspace(store: Any, factory: SessionFactory) -> Any:
    return store.get_or_create_workspace(factory.workspace_path(), T0)


@pytest.mark.operation("create_session")
def test_create_fails_as_a_whole_when_the_fifth_instance_is_invalid(store: Any) -> None:
    factory = SessionFactory()
    workspace = _workspace(store, factory)
    new = factory.session(workspace.id, instances=8, messages=3)
    broken = list(new.instances)
    broken[4] = replace(broken[4], instance_id=-1)
    expect_error(SPEC, "create_session",
                 lambda: store.create_session(replace(new, instances=tuple(broken))),
                 ConstraintViolation, ConstraintKind.CHECK)
    expect_error(SPEC, "create_session", lambda: store.get_session(new.id), NotFound)
    page = store.search_sessions(_all(), 10)
    expect(page.items == (), SPEC, "create_session", "no session left by the failed create",
           page.items)
    store.create_session(new)  # the same id is still free
    expect(len(store.list_instances(new.id)) == 8, SPEC, "create_session",
           "8 instances after a clean retry")


@pytest.mark.operation("create_session")
def test_create_fails_as_a_whole_when_the_last_message_is_invalid(store: Any) -> None:
    factory = SessionFactory()
    workspace = _workspace(store, factory)
    new = factory.session(workspace.id, instances=3, messages=4)
    messages = list(new.messages)
    messages[-1] = replace(messages[-1], role="robot")
    expect_error(SPEC, "create_session",
                 lambda: store.create_session(replace(new, messages=tuple(messages))),
                 ConstraintViolation, ConstraintKind.CHECK)
    expect_error(SPEC, "list_instances", lambda: store.list_instances(new.id), NotFound)


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_error_inside_atomic_rolls_back_every_operation(store: Any) -> None:
    factory = SessionFactory()
    workspace = _workspace(store, factory)
    kept = store.create_session(factory.session(workspace.id))
    new = factory.session(workspace.id)
    with pytest.raises(ConstraintViolation), store.atomic():
        store.create_session(new)
        store.append_message(kept.id, factory.message())
        store.record_instance_stats(kept.id, 5, 5, 5)
        store.append_message(kept.id, factory.message(role="nobody"))
    expect_error(SPEC, "atomic", lambda: store.get_session(new.id), NotFound)
    expect(len(store.list_messages(kept.id)) == 2, SPEC, "atomic",
           "the rolled-back block's messages to be gone (2 left)", store.list_messages(kept.id))
    expect(store.get_session(kept.id).total_files_changed is None, SPEC, "atomic",
           "the rolled-back stats to be gone", store.get_session(kept.id))


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_nested_savepoint_rolls_back_alone(store: Any) -> None:
    factory = SessionFactory()
    workspace = _workspace(store, factory)
    session = store.create_session(factory.session(workspace.id, messages=0))
    with store.atomic():
        store.append_message(session.id, factory.message(id="outer-1"))
        try:
            with store.atomic():
                store.append_message(session.id, factory.message(id="inner-1"))
                raise _Abort
        except _Abort:
            pass
        store.append_message(session.id, factory.message(id="outer-2"))
    ids = [m.id for m in store.list_messages(session.id)]
    expect(ids == ["outer-1", "outer-2"], SPEC, "atomic",
           "the outer block's two messages and none of the inner block's", ids)


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_reader_never_sees_half_a_transaction(store: Any, store_profile: Any) -> None:
    factory = SessionFactory()
    workspace = _workspace(store, factory)
    session = store.create_session(factory.session(workspace.id, messages=0))
    batch = 5
    seen: list[int] = []

    def write() -> None:
        for round_ in range(store_profile.items):
            with store.atomic():
                for n in range(batch):
                    store.append_message(session.id, NewMessage(
                        f"r{round_}-{n}", "user", "x", T0 + timedelta(seconds=round_)))
                    time.sleep(0.0005)

    read_while(lambda: seen.append(len(store.list_messages(session.id))), write)
    torn = sorted({count for count in seen if count % batch})
    expect(not torn, SPEC, "atomic", f"message counts in multiples of {batch} only", torn)


@pytest.mark.requires(caps.CRASH_DURABLE, caps.MULTI_PROCESS)
@pytest.mark.operation("create_session")
def test_sigkill_mid_transaction_leaves_no_partial_session(
    backend: Any, fresh_location: str, open_store: Any
) -> None:
    instances = 400
    open_store().close()  # create the schema before the writer starts
    writer = start_killable(write_until_killed, (backend.backend, fresh_location, instances))
    store = open_store()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(store.search_sessions(_all(), 5).items) < 3:
        time.sleep(0.02)
    # Kill mid-create: at once if a half-written session is visible (a non-atomic
    # create), otherwise a few milliseconds into the next transaction.
    kill_at = time.monotonic() + 0.013
    while not _half_written(store, instances) and time.monotonic() < kill_at:
        pass
    sigkill(writer)
    store.close()
    reopened = open_store()
    problems = reopened.verify_integrity()
    expect(not problems, SPEC, "create_session", "a sound file after SIGKILL", problems)
    sessions = _every_session(reopened)
    expect(len(sessions) >= 3, SPEC, "create_session", "the committed sessions to survive",
           len(sessions))
    for session in sessions:
        count = len(reopened.list_instances(session.id))
        expect(count == instances, SPEC, "create_session",
               f"each surviving session to have all {instances} instances", (session.id, count))
        summary = reopened.session_summary(session.id)
        expect(summary.message_count == 3, SPEC, "create_session",
               "each surviving session to have all 3 messages", summary)


def _half_written(store: Any, instances: int) -> bool:
    newest = store.search_sessions(_all(), 1).items
    return bool(newest) and len(store.list_instances(newest[0].id)) < instances


def _all() -> SessionQuery:
    return SessionQuery()


def _every_session(store: Any) -> list[Any]:
    return all_pages(lambda cursor: store.search_sessions(_all(), 100, cursor))


class _Abort(Exception):
    pass


@pytest.mark.operation("import_legacy")
def test_legacy_import_with_one_invalid_record_imports_nothing(store: Any) -> None:
    """The document parses, but the last message of its last session breaks a CHECK: the
    whole import fails, leaves no session, workspace or metadata change, and once fixed
    imports each session once."""
    factory = SessionFactory(seed=12)
    entries = [LegacySession(f"/legacy/atomic-{n}", factory.session(0, id=f"atomic-{n}"),
                             T0 + timedelta(minutes=n)) for n in range(3)]
    last = entries[-1].session
    broken = replace(last, messages=(*last.messages, NewMessage("bad-role", "robot", "x", T0)))
    document = legacy_document([*entries[:-1], replace(entries[-1], session=broken)])
    before = store.migration_metadata()
    imported_at = T0 + timedelta(days=1)
    expect_error(SPEC, "import_legacy", lambda: store.import_legacy(document, "/b.json", imported_at),
                 ConstraintViolation, ConstraintKind.CHECK)
    for entry in entries:
        expect_error(SPEC, "import_legacy", partial(store.get_session, entry.session.id), NotFound)
        probe_at = T0 + timedelta(days=2)
        workspace = store.get_or_create_workspace(entry.workspace_path, probe_at)
        expect(workspace.created_at == probe_at, SPEC, "import_legacy",
               f"no workspace {entry.workspace_path!r} left by the failed import", workspace)
    expect(store.migration_metadata() == before, SPEC, "import_legacy",
           "the migration metadata as it was before the failed import", store.migration_metadata())
    fixed = legacy_document(entries)
    first = store.import_legacy(fixed, "/b.json", imported_at)
    again = store.import_legacy(fixed, "/b.json", imported_at)
    expect((first.imported, first.skipped, again.imported, again.skipped) == (3, 0, 0, 3), SPEC,
           "import_legacy", "3 imported once fixed, then 3 skipped", (first, again))


class TestNesting(NestingSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
