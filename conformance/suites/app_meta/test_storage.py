"""Storage: bounded files, a full disk, locations that are not a store, damaged files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storecheck.conformance.specs.app_meta import (
    FILES,
    SPEC,
    NewChunk,
    NewDocument,
    NewKnowledgeBase,
)
from storecheck.conformance.storage_checks import StorageSuite
from storecheck.conformance.suites.app_meta.test_migration import write_some
from storecheck.fixtures.app_meta import T0, snapshot_all


def _churn(store: Any, index: int, payload: str) -> None:
    """A knowledge base holding the payload as a chunk, deleted with all it owns."""
    kb_id, document_id = f"churn-kb-{index}", f"churn-d-{index}"
    store.create_knowledge_base(NewKnowledgeBase(kb_id, kb_id, "mini", T0))
    store.add_document(NewDocument(document_id, kb_id, "churn", "/churn", "ab" * 32,
                                   len(payload), T0))
    store.replace_chunks(document_id, [NewChunk(f"churn-c-{index}", f"{index}:{payload}")],
                         T0 + timedelta(microseconds=1))
    store.delete_knowledge_base(kb_id)


class TestStorage(StorageSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
    churn = staticmethod(_churn)
    files = FILES
