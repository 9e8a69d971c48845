"""``migration``: every schema version up and down, data kept, steps applied once."""

from __future__ import annotations

from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.migration_checks import MigrationSuite
from storecheck.conformance.specs.session_history import SPEC, SessionQuery
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]


def snapshot_all(store: Any) -> dict[str, Any]:
    """Everything readable through the spec, for before/after comparisons."""
    sessions = store.search_sessions(SessionQuery(), 1000).items
    return {
        "sessions": sessions,
        "children": {s.id: (store.list_instances(s.id), store.list_messages(s.id),
                            store.session_summary(s.id)) for s in sessions},
        "metadata": store.migration_metadata().migration_status,
    }


def write_some(store: Any, seed: int) -> None:
    factory = SessionFactory(seed=seed)
    workspace = store.get_or_create_workspace(factory.workspace_path(), T0)
    for _ in range(3):
        store.create_session(factory.session(workspace.id, instances=2, messages=3))


class TestMigration(MigrationSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
