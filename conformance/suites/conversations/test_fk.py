"""``fk``: cascades, no orphans, retention and right-to-delete leaving no trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import expect, expect_error, expect_vacuum_shrinks
from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs.conversations import FOREIGN_KEYS, SPEC, LearningQuery, tokens
from storecheck.fixtures.conversations import T0, ConversationFactory
from storecheck.reference_impl.schemas import reference_schema

pytestmark = pytest.mark.fk
SECRET = "Zebracorn-Quillwort-Snarfblat"
"""Three words found nowhere else, so each can be looked for on its own: a full-text index
keeps the words of a text separately (and in lower case), not the text."""


def _populate(store: Any, conversation_id: str, marker: str = "") -> None:
    factory = ConversationFactory(seed=len(conversation_id))
    store.create_conversation(conversation_id, f"title {marker}", {"note": marker or "n"}, T0)
    for n in range(3):
        store.add_message(conversation_id, "user", f"message {n} {marker}", T0)
    store.create_upload(conversation_id, factory.upload(file_name=f"file-{marker or 'x'}.txt"), T0)
    store.create_learning("tips", f"learned {marker} about sqlite", ["t"], 0.7, T0, conversation_id)
    store.update_conversation(conversation_id, T0, title=f"renamed {marker}")


@pytest.mark.operation("purge_conversations")
def test_purge_cascades_to_every_child(store: Any) -> None:
    _populate(store, "old")
    store.create_conversation("young", "young", {}, T0.replace(year=2026))
    assert store.purge_conversations(10, T0.replace(year=2026)) == 1
    expect_error(SPEC, "purge_conversations", lambda: store.list_uploads("old"), NotFound)
    hits = store.search_learnings(LearningQuery(text="learned"), 10)
    expect(hits == [], SPEC, "purge_conversations", "the purged learnings gone", hits)
    expect(store.get_conversation("young").id == "young", SPEC, "purge_conversations",
           "conversations inside the retention window kept")


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("delete_conversation")
def test_orphan_scan_from_the_reference_fk_graph_finds_nothing(store: Any) -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, max(store.schema_versions())).values())
    expect(set(graph) == set(FOREIGN_KEYS), SPEC, "schema",
           "the reference DDL's foreign keys to be the spec's", graph)
    for conversation_id in ("a", "b", "c"):
        _populate(store, conversation_id)
    store.delete_conversation("a")
    store.right_to_delete("b")
    store.purge_conversations(0, T0.replace(year=2030))
    for key in graph:
        (count,) = store.query(sqlschema.orphan_scan(key, store.sql_dialect))[0]
        expect(count == 0, SPEC, "delete_conversation",
               f"no {key.child_table} row whose {key.parent_table} is gone", count)


@pytest.mark.requires(caps.CRASH_DURABLE)
@pytest.mark.operation("delete_learning")
def test_indexes_stay_consistent_after_updates_and_deletes(store: Any) -> None:
    _populate(store, "a", "alpha")
    _populate(store, "b", "beta")
    learning = store.search_learnings(LearningQuery(text="alpha"), 10)[0].learning
    store.update_learning(learning.id, T0, content="rewritten gamma")
    store.delete_conversation("b")
    problems = store.verify_integrity()
    expect(not problems, SPEC, "delete_learning", "search index and tables consistent", problems)


def _files_containing(location: str, needle: bytes) -> list[str]:
    directory = Path(location).parent
    return sorted(p.name for p in directory.iterdir()
                  if p.is_file() and needle in p.read_bytes())


@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("right_to_delete")
def test_right_to_delete_leaves_no_trace_in_the_files(store: Any, fresh_location: str) -> None:
    _populate(store, "victim", SECRET)
    _populate(store, "bystander", "public")
    store.right_to_delete("victim")
    expect_error(SPEC, "right_to_delete", lambda: store.get_conversation("victim"), NotFound)
    hits = store.search_learnings(LearningQuery(text="quillwort"), 10)
    expect(hits == [], SPEC, "right_to_delete", "the text gone from search", hits)
    fragments = {SECRET, *SECRET.split("-"), *tokens(SECRET)}
    leaks = {fragment: found for fragment in sorted(fragments)
             if (found := _files_containing(fresh_location, fragment.encode()))}
    expect(not leaks, SPEC, "right_to_delete",
           "the deleted text, and each of its words, in none of the store's files (tables, "
           "search index, audit, WAL)", leaks)
    expect(store.count_messages("bystander") == 3, SPEC, "right_to_delete",
           "other conversations untouched")


@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("vacuum")
def test_vacuum_reduces_the_file_size(store: Any, fresh_location: str) -> None:
    factory = ConversationFactory()
    for n in range(40):
        store.create_conversation(f"bulk-{n}", factory.title(), {}, T0)
        for _ in range(10):
            store.add_message(f"bulk-{n}", "user", factory.text() * 5, T0)
    store.purge_conversations(0, T0.replace(year=2030))
    expect_vacuum_shrinks(SPEC, store, fresh_location)
