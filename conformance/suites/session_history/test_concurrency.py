"""``concurrency``: processes and threads writing one workspace at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import all_pages, expect, run_threads, run_workers, start_time
from storecheck.conformance.lock_wait import LockWaitSuite
from storecheck.conformance.specs.session_history import SPEC, SessionQuery
from storecheck.conformance.suites.session_history.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.session_history.workers import T0, hammer
from storecheck.fixtures.session_history import SessionFactory

pytestmark = pytest.mark.concurrency


class TestLockWait(LockWaitSuite):
    """First in the module: a store whose writers give up at the lock fails here before
    the longer races run."""

    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


def _count_sessions(store: Any, workspace_id: int) -> list[str]:
    query = SessionQuery(workspace_id=workspace_id)
    return [s.id for s in all_pages(lambda cursor: store.search_sessions(query, 500, cursor))]


def _shared_session(store: Any) -> str:
    workspace = store.get_or_create_workspace("/shared/workspace", T0)
    return str(store.create_session(SessionFactory(seed=99).session(workspace.id)).id)


def _check_totals(store: Any, shared: str, writers: int, items: int, errors: list[str]) -> None:
    expect(not errors, SPEC, "create_session",
           "no error (busy, locked or otherwise) to reach a caller", errors[:3])
    workspace = store.get_or_create_workspace("/shared/workspace", T0)
    ids = _count_sessions(store, workspace.id)
    expected_sessions = writers * items + 1
    expect(len(ids) == expected_sessions == len(set(ids)), SPEC, "create_session",
           f"{expected_sessions} distinct sessions in the shared workspace", len(ids))
    for session_id in ids:
        if session_id != shared:
            summary = store.session_summary(session_id)
            expect((summary.instance_count, summary.message_count) == (2, 2), SPEC,
                   "append_message", "2 instances and 2 messages per session", summary)
    totals = store.get_session(shared)
    calls = writers * items
    got = (totals.total_files_changed, totals.total_lines_added, totals.total_lines_deleted)
    expect(got == (calls, 2 * calls, 3 * calls), SPEC, "record_instance_stats",
           f"totals {(calls, 2 * calls, 3 * calls)} after {calls} concurrent additions", got)


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("create_session")
def test_processes_and_threads_lose_nothing(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    shared = _shared_session(store)
    workers = store_profile.processes
    start = start_time()
    results = run_workers(hammer, [
        (backend.backend, fresh_location, worker, store_profile.threads, store_profile.items,
         shared, start) for worker in range(workers)])
    errors = [e for result in results for e in result["errors"]]
    _check_totals(store, shared, workers * store_profile.threads, store_profile.items, errors)


@pytest.mark.operation("record_instance_stats")
def test_threads_sharing_one_store_lose_nothing(
    backend: Any, store: Any, store_profile: Any
) -> None:
    shared = _shared_session(store)
    threads = store_profile.threads * 2
    errors: list[str] = []

    def run(thread: int) -> None:
        for _ in range(store_profile.items * 10):
            try:
                store.record_instance_stats(shared, 1, 2, 3)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    run_threads(run, [(t,) for t in range(threads)])
    expect(not errors, SPEC, "record_instance_stats", "no error to reach a caller", errors[:3])
    calls = threads * store_profile.items * 10
    totals = store.get_session(shared)
    got = (totals.total_files_changed, totals.total_lines_added, totals.total_lines_deleted)
    expect(got == (calls, 2 * calls, 3 * calls), SPEC, "record_instance_stats",
           f"totals {(calls, 2 * calls, 3 * calls)} after {calls} additions from {threads} threads",
           got)


@pytest.mark.operation("get_or_create_workspace")
def test_concurrent_get_or_create_returns_one_workspace(store: Any, store_profile: Any) -> None:
    threads, rounds = store_profile.threads * 4, 10
    found: dict[str, set[int]] = {f"/race/{n}": set() for n in range(rounds)}
    errors: list[str] = []
    # Each round's callers are released together once every thread holds its own
    # connection, so connection set-up does not spread them out and hide the race.
    start_round = threading.Barrier(threads)

    def run(thread: int) -> None:
        try:
            store.get_or_create_workspace(f"/warm/{thread}", T0)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        for path in found:
            try:
                start_round.wait(timeout=60)
            except threading.BrokenBarrierError:
                errors.append("a racing thread never reached the start of its round")
                return
            try:
                found[path].add(store.get_or_create_workspace(path, T0).id)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    run_threads(run, [(t,) for t in range(threads)])
    split = {path: sorted(ids) for path, ids in found.items() if len(ids) != 1}
    expect(not errors and not split, SPEC, "get_or_create_workspace",
           f"every caller of {rounds} rounds of {threads} racing threads to get the same "
           "workspace and no error", (split, errors[:2]))

