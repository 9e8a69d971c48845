"""Storage: bounded files, a full disk, locations that are not a store, damaged files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storecheck.conformance.specs.extraction import SPEC, NewCodeBlock, NewProcessSession
from storecheck.conformance.storage_checks import StorageSuite
from storecheck.conformance.suites.extraction.test_migration import snapshot_all, write_some
from storecheck.fixtures.extraction import T0


def _churn(store: Any, index: int, payload: str) -> None:
    """A session holding the payload as a code block, ended and purged with all it owns."""
    session_id = f"churn-{index}"
    store.create_session(NewProcessSession("churn", session_id, T0))
    store.save_code_block(NewCodeBlock("churn", session_id, T0, f"{index}:{payload}"))
    store.complete_session(session_id, 0, T0)
    store.purge_sessions(T0 + timedelta(microseconds=1))


class TestStorage(StorageSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
    churn = staticmethod(_churn)
