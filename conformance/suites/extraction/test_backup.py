"""Backup and restore of the extraction store (the seed's "database backup/restore"), for
stores declaring ``backup_restore``: the checks every spec with backups shares
(:class:`~storecheck.conformance.backup_checks.BackupSuite`), on sessions with their state
changes, events and code blocks, and the full-text search over the restored events."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.backup_checks import BackupSuite
from storecheck.conformance.checks import all_pages, expect
from storecheck.conformance.specs.extraction import (
    SPEC,
    EventFilter,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
)
from storecheck.conformance.specs.text_search import tokens
from storecheck.conformance.suites.extraction.test_migration import snapshot_all, write_some
from storecheck.fixtures.extraction import AGENTS, T0, ExtractionFactory

pytestmark = pytest.mark.requires(caps.BACKUP_RESTORE)
BLOCK_AGENT = "backup-writer"


def snapshot_searched(store: Any) -> dict[str, Any]:
    """Everything the spec reads back, and what a search finds by each word the events
    hold: the full-text index is the store's to rebuild with the rows it restores."""
    events = all_pages(partial(store.query_events, EventFilter(), 1000))
    words = sorted({word for event in events
                    for word in tokens(f"{event.matched_value or ''} {event.original_line or ''}")})
    return {**snapshot_all(store),
            "searched": {word: [e.id for e in store.search_events(word, EventFilter(), 1000)]
                         for word in words[:40]}}


def change(store: Any) -> None:
    """New sessions, events and blocks; an existing session's totals added to, a running
    one completed, and every completed session purged with its rows."""
    running = store.active_sessions()
    write_some(store, 2)
    store.record_progress(running[0].session_id, 5, 1, 1)
    store.complete_session(running[-1].session_id, 0, T0)
    store.purge_sessions(T0.replace(year=T0.year + 50))


def go_on(store: Any, before: Any) -> None:
    """Ids follow the restored ones, and a session id only the undone writes held is free."""
    factory = ExtractionFactory(seed=2)
    sessions = before["sessions"]
    session = store.create_session(factory.session(AGENTS[0]))
    expect(session.id > max((s.id for s in sessions), default=0), SPEC, "create_session",
           "an id after every restored session's", session)
    last_event = max((e.id for es in before["events"].values() for e in es), default=0)
    event = store.save_event(factory.event(session.agent_name, session.session_id))
    expect(event.id > last_event, SPEC, "save_event", f"an id after {last_event}", event)
    found = store.search_events(event.matched_value or "", EventFilter(), 1000)
    expect(event in found, SPEC, "search_events", "the event saved after the restore", found)


def block(store: Any, label: str) -> None:
    """A session (with its started state change) and three events of it."""
    store.create_session(NewProcessSession(BLOCK_AGENT, label, T0))
    store.save_events([NewExtractionEvent(BLOCK_AGENT, label, T0, "error", "panic",
                                          f"{label} part {n}") for n in range(3)])


def blocks(store: Any) -> tuple[set[str], list[str]]:
    sessions = {s.session_id for s in store.sessions_by_agent(BLOCK_AGENT, 1000)}
    counts: dict[str, int] = {}
    for event in all_pages(partial(store.query_events, EventFilter(agent_name=BLOCK_AGENT), 1000)):
        counts[event.session_id] = counts.get(event.session_id, 0) + 1
    torn = sorted(sessions ^ set(counts)) + sorted(s for s, n in counts.items() if n != 3)
    return sessions & set(counts) - set(torn), torn


def plant(store: Any, marker: str) -> None:
    """A code block holding ``marker``: its digest is the SHA-256 of its content."""
    store.save_code_block(NewCodeBlock(AGENTS[0], "planted", T0, f"print('{marker}')\n"))


class TestBackup(BackupSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_searched)
    write = staticmethod(write_some)
    change = staticmethod(change)
    go_on = staticmethod(go_on)
    block = staticmethod(block)
    blocks = staticmethod(blocks)
    plant = staticmethod(plant)
