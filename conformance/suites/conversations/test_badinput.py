"""``badinput``: the spec's error or the value verbatim; nothing stored before changes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, ValidationError
from storecheck.conformance.hostile_arguments import (
    ValidCall,
    check_operation,
    swept_operations,
)
from storecheck.conformance.specs.conversations import (
    SPEC,
    ConversationStore,
    LearningQuery,
    NewJob,
    matches,
)
from storecheck.fixtures.conversations import T0, ConversationFactory
from storecheck.fixtures.values import (
    AWKWARD_STRINGS,
    INJECTION_STRINGS,
    ORDER_PROBES,
    hostile_text,
)

pytestmark = pytest.mark.badinput
MEGABYTE = "\u65e5" * (1024 * 1024 // 3)


def _seeded(store: Any) -> dict[str, Any]:
    factory = ConversationFactory(seed=31)
    store.create_conversation("base", factory.title(), {"k": "v"}, T0)
    store.add_message("base", "user", factory.text(), T0)
    store.create_upload("base", factory.upload(), T0)
    store.create_learning("tips", "baseline sqlite fact", ["t"], 0.5, T0, "base")
    store.enqueue(factory.job(), T0)
    return _everything(store)


def _everything(store: Any) -> dict[str, Any]:
    return {
        "conversation": store.get_conversation("base"),
        "messages": store.list_messages("base"),
        "uploads": store.list_uploads("base"),
        "learnings": store.search_learnings(LearningQuery(), 100),
        "jobs": store.job_counts(),
    }


CHECK_VIOLATIONS = {
    "bad-role": lambda s, f: s.add_message("base", "robot", "x", T0),
    "empty-conversation-id": lambda s, f: s.create_conversation("", "t", {}, T0),
    "empty-category": lambda s, f: s.create_learning("", "content", [], 0.5, T0),
    "empty-content": lambda s, f: s.create_learning("tips", "", [], 0.5, T0),
    "empty-job-type": lambda s, f: s.enqueue(NewJob(""), T0),
    "negative-size": lambda s, f: s.create_upload("base", f.upload(size_bytes=-1), T0),
    "checksum-not-hex": lambda s, f: s.create_upload("base", f.upload(checksum="z" * 64), T0),
    "checksum-short": lambda s, f: s.create_upload("base", f.upload(checksum="ab"), T0),
}


@pytest.mark.parametrize("call", CHECK_VIOLATIONS.values(), ids=CHECK_VIOLATIONS.keys())
@pytest.mark.operation("schema rules")
def test_schema_rules_refuse_bad_values(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "schema rules", lambda: call(store, ConversationFactory()),
                 ConstraintViolation, ConstraintKind.CHECK)
    expect(_everything(store) == before, SPEC, "schema rules", "nothing stored changed")


VALIDATION_ERRORS = {
    "naive-time": lambda s: s.create_conversation("n", "t", {}, datetime(2025, 1, 1)),
    "metadata-not-str": lambda s: s.create_conversation("n", "t", {"k": 1}, T0),
    "nan-confidence": lambda s: s.create_learning("tips", "x", [], float("nan"), T0),
    "confidence-above-1": lambda s: s.create_learning("tips", "x", [], 1.5, T0),
    "tags-as-string": lambda s: s.create_learning("tips", "x", "perf", 0.5, T0),
    "empty-tag": lambda s: s.create_learning("tips", "x", [""], 0.5, T0),
    "payload-not-json": lambda s: s.enqueue(NewJob("t", payload="{oops"), T0),
    "payload-nan": lambda s: s.enqueue(NewJob("t", payload='{"x": NaN}'), T0),
    "zero-attempts": lambda s: s.enqueue(NewJob("t", max_attempts=0), T0),
    "zero-lease": lambda s: s.dequeue("w", T0, 0),
    "infinite-lease": lambda s: s.dequeue("w", T0, float("inf")),
    "bool-priority": lambda s: s.enqueue(NewJob("t", priority=cast(Any, True)), T0),
    "negative-retention": lambda s: s.purge_conversations(-1, T0),
    "surrogate-content": lambda s: s.add_message("base", "user", "\ud800", T0),
    "zero-limit": lambda s: s.list_conversations(0),
}


@pytest.mark.parametrize("call", VALIDATION_ERRORS.values(), ids=VALIDATION_ERRORS.keys())
@pytest.mark.operation("input validation")
def test_invalid_arguments_raise_validation_error(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "input validation", lambda: call(store), ValidationError)
    expect(_everything(store) == before, SPEC, "input validation", "nothing stored changed")


@pytest.mark.operation("add_message")
def test_huge_and_awkward_text_is_stored_verbatim(store: Any) -> None:
    _seeded(store)
    for text in (MEGABYTE, *AWKWARD_STRINGS, *INJECTION_STRINGS):
        message = store.add_message("base", "user", text, T0)
        stored = next(m for m in store.list_messages("base") if m.id == message.id)
        expect(stored.content == text, SPEC, "add_message", "the content back verbatim",
               stored.content[:60])


@pytest.mark.operation("create_learning")
def test_tags_are_a_set_sorted_by_code_point(store: Any) -> None:
    """Not by locale, case folding or UTF-16 code unit (a default sort in JavaScript or
    Java puts an emoji before U+FF21); duplicates collapse, on create and on update."""
    expected = tuple(sorted(set(ORDER_PROBES)))
    created = store.create_learning("order", "tags in order", [*reversed(ORDER_PROBES),
                                                               *ORDER_PROBES[:3]], 0.5, T0)
    for got in (created.tags, store.get_learning(created.id).tags):
        expect(got == expected, SPEC, "create_learning", "the tags distinct, in code point order",
               got)
    half = ORDER_PROBES[::2]
    updated = store.update_learning(created.id, T0, tags=half)
    expect(updated.tags == tuple(sorted(half)), SPEC, "update_learning",
           "the replaced tags in code point order", updated.tags)


LONG_TOKEN_LENGTHS = (500, 501, 2047, 3000, 70_000)
"""Around the limits full-text engines put on one indexed word (PostgreSQL: 2,046 bytes)."""


@pytest.mark.operation("search_learnings")
def test_tokens_of_any_length_are_searched_whole(store: Any) -> None:
    """A token is the whole run, however long: found by any prefix, and only by prefixes."""
    for length in LONG_TOKEN_LENGTHS:
        token = "a" * (length - 1) + "b"
        learning = store.create_learning("long", f"x {token} y", [], 0.5, T0)
        for query, found in ((token, True), (token[:-1], True), (token[:600], True),
                             ("a" * length, False), (token + "c", False), ("é" * length, False)):
            hits = store.search_learnings(LearningQuery(text=query, category="long"), 10)
            got = learning.id in {hit.learning.id for hit in hits}
            expect(got == found, SPEC, "search_learnings",
                   f"the learning with a {length}-character token {'found' if found else 'not found'}"
                   f" by a {len(query)}-character query token", sorted(h.learning.id for h in hits))
        store.delete_learning(learning.id)


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=25)
@given(text=hostile_text(min_size=1), probe=st.sampled_from(INJECTION_STRINGS + AWKWARD_STRINGS))
@pytest.mark.operation("search_learnings")
def test_hostile_text_in_every_field_and_search(
    backend: Any, open_store: Any, tmp_path_factory: pytest.TempPathFactory, text: str, probe: str
) -> None:
    store = open_store(location=backend.backend.new_location(SPEC, tmp_path_factory.mktemp("h")))
    _seeded(store)
    factory = ConversationFactory()
    store.create_conversation(text, text, {text: probe}, T0)
    expect(store.get_conversation(text).metadata == {text: probe}, SPEC, "create_conversation",
           "id, title and metadata verbatim")
    store.add_message(text, "user", probe + text, T0)
    upload = store.create_upload(text, factory.upload(file_name=text, mime_type=probe,
                                                      storage_path=text), T0)
    expect(store.list_uploads(text) == [upload] and upload.file_name == text, SPEC,
           "create_upload", "upload fields verbatim", upload)
    learning = store.create_learning(probe, f"{text} {probe}", [text], 0.5, T0, text)
    got = store.get_learning(learning.id)
    expect((got.category, got.content, got.tags) == (probe, f"{text} {probe}", (text,)), SPEC,
           "create_learning", "learning fields verbatim", got)
    for query in (LearningQuery(text=probe), LearningQuery(text=text), LearningQuery(tags=(text,)),
                  LearningQuery(category=probe)):
        ids = {hit.learning.id for hit in store.search_learnings(query, 100)}
        wanted = learning.id in ids
        rule = (query.text is None or matches(query.text, got.content))
        expect(wanted == rule, SPEC, "search_learnings",
               f"the hostile learning found exactly when the rule says so for {query}", ids)
    job = store.enqueue(NewJob(text, payload=json.dumps({"v": probe, "t": text})), T0)
    expect(store.get_job(job.id).type == text, SPEC, "enqueue", "job type verbatim")
    store.close()


def valid_calls(store: Any) -> tuple[dict[str, ValidCall], Callable[[Any], Any]]:
    """A call of each operation that succeeds, fresh ids from ``n``, every optional argument
    given; and what a refused call must leave unchanged, cheap enough to read per call."""
    factory = ConversationFactory(seed=37)
    _seeded(store)
    store.create_conversation("second", "t", {}, T0)
    cursor = store.list_conversations(1).next_cursor
    learning = store.create_learning("tips", "sqlite wal", ["t"], 0.5, T0, "base")
    later = T0 + timedelta(seconds=1)
    fresh = itertools.count()

    def conversation(n: int) -> str:
        return str(store.create_conversation(f"fresh-{next(fresh)}", "t", {}, T0).id)

    def claimed_job(n: int) -> int:
        store.enqueue(factory.job(), T0)
        job = store.dequeue("w", T0, 30.0)
        return int(job.id)

    def state(store: Any) -> Any:
        live = store.list_conversations(1000).items  # a sweep of purge may remove "base"
        return live, _everything(store) if "base" in {c.id for c in live} else None

    return {
        "create_conversation": lambda n: {"conversation_id": f"c-{n}", "title": "t",
                                          "metadata": {"k": "v"}, "at": T0},
        "get_conversation": lambda n: {"conversation_id": "base"},
        "list_conversations": lambda n: {"limit": 10, "after": cursor},
        "update_conversation": lambda n: {"conversation_id": "base", "at": later,
                                          "title": "t2", "metadata": {"a": "b"}},
        "soft_delete_conversation": lambda n: {"conversation_id": conversation(n), "at": later},
        "restore_conversation": lambda n: {
            "conversation_id": store.soft_delete_conversation(conversation(n), later).id,
            "at": later},
        "delete_conversation": lambda n: {"conversation_id": conversation(n)},
        "add_message": lambda n: {"conversation_id": "base", "role": "user", "content": "c",
                                  "at": later},
        "list_messages": lambda n: {"conversation_id": "base"},
        "count_messages": lambda n: {"conversation_id": "base"},
        "create_learning": lambda n: {"category": "tips", "content": "x", "tags": ["t"],
                                      "confidence": 0.5, "at": T0, "conversation_id": "base"},
        "get_learning": lambda n: {"learning_id": learning.id},
        "update_learning": lambda n: {"learning_id": learning.id, "at": later, "content": "y",
                                      "category": "c", "tags": ["u"], "confidence": 0.7},
        "delete_learning": lambda n: {
            "learning_id": store.create_learning("tips", "x", [], 0.5, T0).id},
        "search_learnings": lambda n: {
            "query": LearningQuery(text="sqlite", category="tips", tags=("t",),
                                   min_confidence=0.1), "limit": 10},
        "enqueue": lambda n: {"job": factory.job(run_after=T0), "at": T0},
        "dequeue": lambda n: {"worker": "w", "now": T0, "lease_seconds": 30.0},
        "complete_job": lambda n: {"job_id": claimed_job(n), "worker": "w", "now": later},
        "fail_job": lambda n: {"job_id": claimed_job(n), "worker": "w", "error": "boom",
                               "now": later},
        "get_job": lambda n: {"job_id": claimed_job(0) if n == 0 else 1},
        "create_upload": lambda n: {"conversation_id": "base", "upload": factory.upload(),
                                    "at": T0},
        "list_uploads": lambda n: {"conversation_id": "base"},
        "delete_upload": lambda n: {
            "upload_id": store.create_upload("base", factory.upload(), T0).id},
        "purge_conversations": lambda n: {"older_than_days": 30, "now": T0},
        "right_to_delete": lambda n: {"conversation_id": conversation(n)},
    }, state


@pytest.mark.parametrize("operation", swept_operations(ConversationStore))
def test_no_raw_exception_from_any_argument(store: Any, operation: str) -> None:
    """Each argument and record field at its extremes and of the wrong kind, one at a time."""
    calls, state = valid_calls(store)
    check_operation(SPEC, store, ConversationStore, operation, calls[operation], state)
