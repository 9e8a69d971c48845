"""``migration``: 001 tables, 002 indexes, 003 audit tables, each up and down."""

from __future__ import annotations

from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import all_pages, expect
from storecheck.conformance.migration_checks import MigrationSuite
from storecheck.conformance.specs.conversations import SPEC, LearningQuery, NewJob
from storecheck.fixtures.conversations import T0, ConversationFactory

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]


def snapshot_all(store: Any) -> dict[str, Any]:
    conversations = all_pages(lambda cursor: store.list_conversations(100, cursor))
    return {
        "conversations": conversations,
        "children": {c.id: (store.list_messages(c.id), store.list_uploads(c.id))
                     for c in conversations},
        "learnings": store.search_learnings(LearningQuery(), 1000),
        "search": sorted(h.learning.id for h in store.search_learnings(LearningQuery(text="a"), 1000)),
        "jobs": store.job_counts(),
    }


def write_some(store: Any, seed: int) -> None:
    factory = ConversationFactory(seed=seed)
    for _ in range(3):
        conversation_id = factory.conversation_id()
        store.create_conversation(conversation_id, factory.title(), {"seed": str(seed)}, T0)
        store.add_message(conversation_id, "user", factory.text(), T0)
        store.create_upload(conversation_id, factory.upload(), T0)
        store.create_learning("tips", factory.learning_text(), ["t"], 0.5, T0, conversation_id)
        store.update_conversation(conversation_id, T0, title=factory.title())
    store.enqueue(factory.job(), T0)


class TestMigration(MigrationSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("migrate")
def test_migration_003_down_removes_the_audit_tables_and_keeps_the_rest(open_store: Any) -> None:
    store = open_store()
    write_some(store, 9)
    audited = store.query("SELECT count(*) FROM audit_log")[0][0]
    expect(audited >= 3, SPEC, "migrate", "updates written to the audit log at version 3", audited)
    before = snapshot_all(store)
    store.migrate(2)
    objects = {name for name in store.schema_ddl() if name.startswith(("audit", "idx_audit"))}
    expect(not objects, SPEC, "migrate", "no audit table, index or trigger at version 2",
           sorted(objects))
    expect(snapshot_all(store) == before, SPEC, "migrate", "every other row kept by 003 down")
    store.enqueue(NewJob("after-down"), T0)
    store.update_conversation(before["conversations"][0].id, T0, title="still writable")
