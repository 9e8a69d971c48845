"""Storage: bounded files, a full disk, locations that are not a store, damaged files."""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs.session_history import SPEC
from storecheck.conformance.storage_checks import StorageSuite
from storecheck.conformance.suites.session_history.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory

_CHURN = SessionFactory(seed=77)


def _churn(store: Any, index: int, payload: str) -> None:
    """A session whose task is the payload, deleted again."""
    workspace = store.get_or_create_workspace("/storage/churn", T0)
    session = store.create_session(_CHURN.session(workspace.id, instances=1, messages=1,
                                                  id=f"churn-{index}", task=payload))
    store.delete_session(session.id)


class TestStorage(StorageSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
    churn = staticmethod(_churn)
