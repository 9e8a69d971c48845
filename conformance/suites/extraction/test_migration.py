"""``migration``: 001 the seed's tables and indexes, 002 the time-ordered indexes in place of
the unread ones, 003 and 004 one index each, 005 the full-text index over the events stored
before it, up and down."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import all_pages, expect
from storecheck.conformance.migration_checks import MigrationSuite
from storecheck.conformance.specs.extraction import SPEC, EventFilter
from storecheck.conformance.specs.text_search import tokens
from storecheck.fixtures.extraction import AGENTS, T0, ExtractionFactory

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]


def snapshot_all(store: Any) -> dict[str, Any]:
    """Everything the spec can read back: rows of every table, in every order it lists."""
    sessions = [s for agent in AGENTS for s in store.sessions_by_agent(agent, 1000)]
    return {
        "sessions": sessions,
        "active": store.active_sessions(),
        "history": {s.session_id: (store.state_changes(s.session_id),
                                   store.events_by_session(s.session_id)) for s in sessions},
        "events": {agent: store.events_by_agent(agent, 1000) for agent in AGENTS},
        "every agent's events": all_pages(partial(store.query_events, EventFilter(), 2)),
        "blocks": {agent: store.code_blocks(agent, None, 1000) for agent in AGENTS},
        "stats": [store.agent_stats(agent) for agent in AGENTS],
    }


def write_some(store: Any, seed: int) -> None:
    factory = ExtractionFactory(seed=seed)
    for n in range(3):
        session = store.create_session(factory.session(AGENTS[n % 2]))
        store.save_events([factory.event(session.agent_name, session.session_id)
                           for _ in range(3)])
        store.save_code_block(factory.code_block(session.agent_name, session.session_id))
        store.record_progress(session.session_id, 10, 3, 0)
        if n:
            store.complete_session(session.session_id, n - 1, factory.now())


class TestMigration(MigrationSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


ONE_INDEX_STEPS = {4: "idx_events_time", 3: "idx_events_agent_risk_time"}
"""The migrations that add one index each (every agent's events by time; an agent's events
by risk level), newest first."""


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("migrate")
def test_migrations_down_remove_their_indexes_and_keep_every_row(open_store: Any) -> None:
    store = open_store()
    write_some(store, 9)
    before = snapshot_all(store)
    for version, index in ONE_INDEX_STEPS.items():
        expect(index in store.schema_ddl(), SPEC, "migrate", f"{index} at version {version}",
               sorted(store.schema_ddl()))
        store.migrate(version - 1)
        expect(index not in store.schema_ddl(), SPEC, "migrate",
               f"no {index} at version {version - 1}")
        expect(snapshot_all(store) == before, SPEC, "migrate",
               f"every row kept by {version:03d} down")
    added = {name for name in store.schema_ddl() if name.startswith(("idx_events_", "idx_blocks_",
                                                                     "idx_sessions_"))}
    expect(len(added) == 9, SPEC, "migrate", "the nine indexes of 002 at version 2",
           sorted(added))
    unused = {"idx_agent_session", "idx_type_pattern", "idx_timestamp", "idx_risk_level"}
    expect(not unused & set(store.schema_ddl()), SPEC, "migrate",
           "the seed's four unread indexes dropped at version 2")
    store.migrate(1)
    left = added & set(store.schema_ddl())
    expect(not left, SPEC, "migrate", "none of 002's indexes at version 1", sorted(left))
    expect(unused <= set(store.schema_ddl()), SPEC, "migrate",
           "the seed's four indexes back at version 1", sorted(unused - set(store.schema_ddl())))
    expect(snapshot_all(store) == before, SPEC, "migrate", "every row kept by 002 down")
    store.save_events([ExtractionFactory(seed=4).event("codex", "after-down")])
    store.purge_sessions(T0 + timedelta(days=1))


@pytest.mark.operation("migrate")
def test_the_text_index_finds_the_events_stored_before_it(open_store: Any) -> None:
    """Version 5 adds the full-text index: an upgraded store finds its older events too,
    and after going down and up again, the events written in between."""
    store = open_store(schema_version=4)
    write_some(store, 11)
    store.migrate(5)
    store.migrate(4)
    write_some(store, 12)
    store.migrate(5)
    events = store.query_events(EventFilter(), 1000).items
    for event in events:
        words = tokens(event.matched_value or "") + tokens(event.original_line or "")
        if not words:
            continue
        found = store.search_events(" ".join(words), EventFilter(event.agent_name), 1000)
        expect(event in found, SPEC, "search_events",
               f"event {event.id}, stored at version 4, found by its own words after 005 up",
               [e.id for e in found])
