"""``migration``: every schema version up and down, data kept, steps applied once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance import sqlschema
from storecheck.conformance.checks import expect, run_workers
from storecheck.conformance.specs.session_history import SPEC, SessionQuery
from storecheck.conformance.suites.session_history.workers import T0, migrate_concurrently
from storecheck.fixtures.session_history import SessionFactory
from storecheck.reference_impl.schemas import reference_schema

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]


def _snapshot(store: Any) -> dict[str, Any]:
    """Everything readable through the spec, for before/after comparisons."""
    sessions = store.search_sessions(SessionQuery(), 1000).items
    return {
        "sessions": sessions,
        "children": {s.id: (store.list_instances(s.id), store.list_messages(s.id),
                            store.session_summary(s.id)) for s in sessions},
        "metadata": store.migration_metadata().migration_status,
    }


def _write_some(store: Any, seed: int) -> None:
    factory = SessionFactory(seed=seed)
    workspace = store.get_or_create_workspace(factory.workspace_path(), T0)
    for _ in range(3):
        store.create_session(factory.session(workspace.id, instances=2, messages=3))


@pytest.mark.operation("migrate")
def test_empty_to_latest_to_empty_to_latest(open_store: Any) -> None:
    store = open_store(schema_version=0)
    versions = list(store.schema_versions())
    expect(store.schema_version() == 0, SPEC, "migrate", "version 0 on an empty location",
           store.schema_version())
    for _ in range(2):
        store.migrate(versions[-1])
        expect(store.schema_version() == versions[-1], SPEC, "migrate",
               f"version {versions[-1]} after migrating up", store.schema_version())
        _write_some(store, seed=1)
        store.migrate(0)
        expect(store.schema_version() == 0, SPEC, "migrate", "version 0 after migrating down",
               store.schema_version())


@pytest.mark.operation("migrate")
def test_data_written_at_each_version_survives_up_and_down(open_store: Any) -> None:
    store = open_store(schema_version=0)
    versions = list(store.schema_versions())
    for index, version in enumerate(versions[:-1]):
        store.migrate(version)
        _write_some(store, seed=version)
        before = _snapshot(store)
        store.migrate(versions[index + 1])
        expect(_snapshot(store) == before, SPEC, "migrate",
               f"data written at version {version} unchanged after going up to "
               f"{versions[index + 1]}")
        store.migrate(version)
        expect(_snapshot(store) == before, SPEC, "migrate",
               f"data written at version {version} unchanged after going back down")


@pytest.mark.operation("migrate")
def test_rerunning_migrations_is_a_no_op(open_store: Any) -> None:
    store = open_store()
    _write_some(store, seed=3)
    before = (_snapshot(store), [(m.version, m.name) for m in store.migration_history()])
    store.migrate(max(store.schema_versions()))
    store.close()
    again = open_store()
    after = (_snapshot(again), [(m.version, m.name) for m in again.migration_history()])
    expect(after == before, SPEC, "migrate", "re-running migrations to change nothing")


@pytest.mark.requires(caps.FAULT_INJECTION)
@pytest.mark.operation("migrate")
def test_a_migration_failing_midway_leaves_the_previous_version(
    backend: Any, open_store: Any
) -> None:
    store = open_store(schema_version=0)
    versions = list(store.schema_versions())
    for previous, step in zip([0, *versions[:-1]], versions, strict=True):
        store.migrate(previous)
        if previous:
            _write_some(store, seed=previous)
        before = _snapshot(store) if previous else None
        with pytest.raises(Exception):  # noqa: B017 - the backend's own failure type
            store.migrate(step, fail_after_statements=1)
        expect(store.schema_version() == previous, SPEC, "migrate",
               f"version {previous} after step {step} failed", store.schema_version())
        if previous:
            expect(_snapshot(store) == before, SPEC, "migrate",
                   f"data at version {previous} intact after step {step} failed")
        if caps.SQL_INTROSPECTION in backend.capabilities:
            drift = sqlschema.schema_drift(reference_schema(SPEC, previous), store.schema_ddl(),
                                           store.sql_dialect)
            expect(not drift, SPEC, "migrate",
                   f"the version {previous} schema after step {step} failed", drift)
        store.migrate(step)
        expect(store.schema_version() == step, SPEC, "migrate",
               f"step {step} to apply cleanly after the failed attempt")


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("migrate")
def test_two_processes_migrating_at_once_apply_each_step_once(
    backend: Any, fresh_location: str, open_store: Any
) -> None:
    open_store(schema_version=0).close()
    start = time.time() + 1.5
    results = run_workers(migrate_concurrently,
                          [(backend.backend, fresh_location, start) for _ in range(2)])
    expect(results == ["ok", "ok"], SPEC, "migrate", "both processes to succeed", results)
    store = open_store()
    history = [m.version for m in store.migration_history()]
    expect(history == list(store.schema_versions()), SPEC, "migrate",
           "each version applied exactly once", history)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("migrate")
def test_schema_at_each_version_matches_the_reference(open_store: Any) -> None:
    store = open_store(schema_version=0)
    versions = list(store.schema_versions())
    for version in [*versions, *reversed(versions[:-1]), 0]:
        store.migrate(version)
        drift = sqlschema.schema_drift(reference_schema(SPEC, version), store.schema_ddl(),
                                       store.sql_dialect)
        expect(not drift, SPEC, "migrate", f"the reference schema at version {version}", drift)
