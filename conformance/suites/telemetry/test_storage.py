"""Storage: bounded files, a full disk, locations that are not a store, damaged files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storecheck.conformance.specs.telemetry import SPEC
from storecheck.conformance.storage_checks import StorageSuite
from storecheck.conformance.suites.telemetry.test_migration import snapshot_all, write_some
from storecheck.fixtures.telemetry import T0, TelemetryFactory


def _churn(store: Any, index: int, payload: str) -> None:
    """A session holding the payload as a query's error category, ended and pruned with
    all it owns."""
    session_id = f"churn-{index}"
    factory = TelemetryFactory(seed=index)
    store.create_session(factory.session(id=session_id, started_at=T0))
    store.record_query(factory.query(session_id, error_category=f"{index}:{payload}"))
    store.end_session(session_id, T0)
    store.prune_old_data(T0 + timedelta(microseconds=1))


class TestStorage(StorageSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
    churn = staticmethod(_churn)
