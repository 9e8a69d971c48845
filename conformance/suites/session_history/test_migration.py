"""``migration``: every schema version up and down, data kept, steps applied once."""

from __future__ import annotations

from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.migration_checks import MigrationChecks
from storecheck.conformance.specs.session_history import SPEC, SessionQuery
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory

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


CHECKS = MigrationChecks(SPEC, snapshot=_snapshot, write=_write_some)


@pytest.mark.operation("migrate")
def test_empty_to_latest_to_empty_to_latest(open_store: Any) -> None:
    CHECKS.empty_to_latest_to_empty_to_latest(open_store)


@pytest.mark.operation("migrate")
def test_data_written_at_each_version_survives_up_and_down(open_store: Any) -> None:
    CHECKS.data_survives_up_and_down(open_store)


@pytest.mark.operation("migrate")
def test_rerunning_migrations_is_a_no_op(open_store: Any) -> None:
    CHECKS.rerun_is_a_no_op(open_store)


@pytest.mark.requires(caps.FAULT_INJECTION)
@pytest.mark.operation("migrate")
def test_a_migration_failing_midway_leaves_the_previous_version(
    backend: Any, open_store: Any
) -> None:
    CHECKS.failing_step_leaves_previous_version(backend, open_store)


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("migrate")
def test_two_processes_migrating_at_once_apply_each_step_once(
    backend: Any, fresh_location: str, open_store: Any
) -> None:
    CHECKS.two_processes_apply_each_step_once(backend, fresh_location, open_store)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("migrate")
def test_schema_at_each_version_matches_the_reference(open_store: Any) -> None:
    CHECKS.schema_matches_reference(open_store)
