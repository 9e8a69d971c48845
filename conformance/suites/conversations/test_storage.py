"""Storage: bounded files, a full disk, locations that are not a store, damaged files."""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs.conversations import SPEC
from storecheck.conformance.storage_checks import StorageSuite
from storecheck.conformance.suites.conversations.test_migration import snapshot_all, write_some
from storecheck.fixtures.conversations import T0


def _churn(store: Any, index: int, payload: str) -> None:
    """A conversation holding the payload as a message, deleted again with all it owns."""
    conversation_id = f"churn-{index}"
    store.create_conversation(conversation_id, "churn", {}, T0)
    store.add_message(conversation_id, "user", payload, T0)
    store.delete_conversation(conversation_id)


class TestStorage(StorageSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
    churn = staticmethod(_churn)
