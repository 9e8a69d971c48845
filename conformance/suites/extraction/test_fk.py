"""``fk``: the state changes' foreign key enforced, and retention leaving no child behind."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import expect, expect_error, expect_vacuum_shrinks
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs.extraction import (
    FOREIGN_KEYS,
    SPEC,
    NewProcessSession,
    NewStateChange,
)
from storecheck.fixtures.extraction import T0, ExtractionFactory
from storecheck.reference_impl.schemas import reference_schema

pytestmark = pytest.mark.fk
CUTOFF = T0 + timedelta(days=1)


def _populate(store: Any, session_id: str, ended: Any) -> None:
    """A session with two more state changes, three events and two code blocks."""
    factory = ExtractionFactory(seed=len(session_id))
    store.create_session(NewProcessSession("codex", session_id, T0))
    store.record_state_change(NewStateChange(session_id, T0 + timedelta(seconds=1), "running"))
    store.save_events([factory.event("codex", session_id) for _ in range(3)])
    for n in range(2):
        store.save_code_block(factory.code_block("codex", session_id,
                                                 content=f"{session_id} block {n}"))
    if ended is not None:
        store.complete_session(session_id, 0, ended)


@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("vacuum")
def test_vacuum_after_a_purge_reduces_the_file_size(store: Any, fresh_location: str) -> None:
    factory = ExtractionFactory(seed=5)
    for n in range(40):
        session_id = f"bulk-{n}"
        store.create_session(NewProcessSession("codex", session_id, T0))
        store.save_events([factory.event("codex", session_id) for _ in range(25)])
        store.complete_session(session_id, 0, T0 + timedelta(hours=1))
    store.purge_sessions(CUTOFF)
    expect_vacuum_shrinks(SPEC, store, fresh_location)


@pytest.mark.operation("record_state_change")
def test_a_state_change_needs_its_session(store: Any) -> None:
    store.create_session(NewProcessSession("codex", "real", T0))
    expect_error(SPEC, "record_state_change",
                 lambda: store.record_state_change(NewStateChange("ghost", T0, "running")),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect_error(SPEC, "state_changes", lambda: store.state_changes("ghost"), NotFound)
    # Same text, other case: a key compared without its case would let it in.
    expect_error(SPEC, "record_state_change",
                 lambda: store.record_state_change(NewStateChange("REAL", T0, "running")),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect([c.state for c in store.state_changes("real")] == ["started"], SPEC,
           "record_state_change", "no change stored by the refused calls")


@pytest.mark.operation("purge_sessions")
def test_purge_takes_every_child_of_every_purged_session_and_nothing_else(store: Any) -> None:
    ended = {"old-a": T0 + timedelta(hours=1), "old-b": CUTOFF - timedelta(microseconds=1),
             "at-cutoff": CUTOFF, "running": None}
    for session_id, at in ended.items():
        _populate(store, session_id, at)
    factory = ExtractionFactory(seed=9)
    # Rows under a session id that has no process session: not the purge's to take.
    store.save_events([factory.event("codex", "unmanaged")])
    store.save_code_block(factory.code_block("codex", "unmanaged", content="unmanaged block"))
    counts = store.purge_sessions(CUTOFF)
    expect((counts.sessions, counts.state_changes, counts.events, counts.code_blocks)
           == (2, 6, 6, 4), SPEC, "purge_sessions",
           "2 sessions, 6 state changes, 6 events, 4 code blocks purged (ended_at < cutoff)",
           counts)
    for session_id in ("old-a", "old-b"):
        expect_error(SPEC, "purge_sessions", partial(store.get_session, session_id), NotFound)
        expect(store.events_by_session(session_id) == [], SPEC, "purge_sessions",
               f"no event of {session_id} left")
    blocks = {block.session_id for block in store.code_blocks("codex", None, 1000)}
    expect(blocks == {"at-cutoff", "running", "unmanaged"}, SPEC, "purge_sessions",
           "the code blocks of the purged sessions gone, every other kept", sorted(blocks))
    for session_id in ("at-cutoff", "running"):
        expect(len(store.state_changes(session_id)) == (3 if session_id == "at-cutoff" else 2)
               and len(store.events_by_session(session_id)) == 3, SPEC, "purge_sessions",
               f"{session_id} kept whole")
    expect(len(store.events_by_session("unmanaged")) == 1, SPEC, "purge_sessions",
           "events of no process session kept")
    again = store.purge_sessions(CUTOFF)
    expect(again == type(again)(0, 0, 0, 0), SPEC, "purge_sessions", "nothing left to purge",
           again)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("purge_sessions")
def test_orphan_scan_from_the_reference_fk_graph_finds_nothing(store: Any) -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, max(store.schema_versions())).values())
    expect(set(graph) == set(FOREIGN_KEYS), SPEC, "schema",
           "the reference DDL's foreign keys to be the spec's", graph)
    for n, at in enumerate((T0 + timedelta(hours=1), None, T0 + timedelta(hours=2))):
        _populate(store, f"s{n}", at)
    store.purge_sessions(CUTOFF)
    for key in graph:
        (count,) = store.query(sqlschema.orphan_scan(key, store.sql_dialect))[0]
        expect(count == 0, SPEC, "purge_sessions",
               f"no {key.child_table} row whose {key.parent_table} is gone", count)
