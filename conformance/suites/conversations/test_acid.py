"""``acid``: seed 003's ACID list, one named check each, plus atomic retention."""

from __future__ import annotations

import random
import time
from contextlib import nullcontext
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    all_pages,
    expect,
    expect_error,
    kill_midway,
    read_while,
    run_threads,
)
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.nesting import NestingSuite
from storecheck.conformance.specs.conversations import SPEC, LearningQuery
from storecheck.conformance.suites.conversations.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.conversations.workers import purge_until_killed
from storecheck.fixtures.conversations import T0, ConversationFactory

pytestmark = pytest.mark.acid


@pytest.mark.operation("add_message")
def test_acid_concurrent_writers_do_not_corrupt_data(store: Any, store_profile: Any) -> None:
    store.create_conversation("busy", "busy", {}, T0)
    threads, per_thread = store_profile.threads * 2, store_profile.items * 3
    errors: list[str] = []

    def write(thread: int) -> None:
        for n in range(per_thread):
            try:
                store.add_message("busy", "user", f"t{thread}-{n}", T0 + timedelta(seconds=n))
                store.create_learning("tips", f"learning t{thread} n{n}", ["t"], 0.5, T0, "busy")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    run_threads(write, [(t,) for t in range(threads)])
    expect(not errors, SPEC, "add_message", "no writer to fail", errors[:3])
    messages = store.list_messages("busy")
    expect(len(messages) == threads * per_thread == len({m.id for m in messages}), SPEC,
           "add_message", f"{threads * per_thread} distinct messages", len(messages))
    # One search per thread: each finds at most per_thread hits, under the spec's limit
    # of 1,000 whatever the profile.
    found = {thread: len(store.search_learnings(LearningQuery(text=f"learning t{thread}"), 1000))
             for thread in range(threads)}
    expect(all(count == per_thread for count in found.values()), SPEC, "create_learning",
           f"every learning written and searchable: {per_thread} per thread", found)


@pytest.mark.operation("add_message")
def test_acid_foreign_keys_enforced(store: Any) -> None:
    factory = ConversationFactory()
    for operation, call in (
        ("add_message", lambda: store.add_message("ghost", "user", "x", T0)),
        ("create_upload", lambda: store.create_upload("ghost", factory.upload(), T0)),
        ("create_learning", lambda: store.create_learning("tips", "x", [], 0.5, T0, "ghost")),
    ):
        expect_error(SPEC, operation, call, ConstraintViolation, ConstraintKind.FOREIGN_KEY)


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_acid_transactions_roll_back_on_error(store: Any) -> None:
    with pytest.raises(ConstraintViolation), store.atomic():
        store.create_conversation("tx", "in a transaction", {}, T0)
        store.add_message("tx", "user", "first", T0)
        store.create_learning("tips", "rolled back words", [], 0.5, T0, "tx")
        store.add_message("tx", "robot", "invalid role", T0)
    expect_error(SPEC, "atomic", lambda: store.get_conversation("tx"), NotFound)
    hits = store.search_learnings(LearningQuery(text="rolled back"), 10)
    expect(hits == [], SPEC, "atomic", "the rolled-back learning gone from search too", hits)


@pytest.mark.operation("delete_conversation")
def test_acid_no_orphan_messages_after_conversation_delete(store: Any) -> None:
    factory = ConversationFactory()
    for conversation_id in ("doomed", "kept"):
        store.create_conversation(conversation_id, factory.title(), {}, T0)
        for _ in range(3):
            store.add_message(conversation_id, "user", factory.text(), T0)
        store.create_upload(conversation_id, factory.upload(), T0)
        store.create_learning("tips", f"orphan check {conversation_id}", [], 0.5, T0,
                              conversation_id)
    store.delete_conversation("doomed")
    for read in (store.list_messages, store.list_uploads, store.count_messages):
        expect_error(SPEC, "delete_conversation", partial(read, "doomed"), NotFound)
    found = [hit.learning.conversation_id
             for hit in store.search_learnings(LearningQuery(text="orphan check"), 10)]
    expect(found == ["kept"], SPEC, "delete_conversation",
           "the deleted conversation's learnings gone", found)
    expect(store.count_messages("kept") == 3 and len(store.list_uploads("kept")) == 1, SPEC,
           "delete_conversation", "the other conversation untouched")


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_acid_isolation_reader_never_sees_half_a_transaction(store: Any, store_profile: Any) -> None:
    store.create_conversation("iso", "isolation", {}, T0)
    batch, seen = 5, []

    def write() -> None:
        for round_ in range(store_profile.items):
            with store.atomic():
                for n in range(batch):
                    store.add_message("iso", "user", f"{round_}-{n}", T0)
                    time.sleep(0.0005)

    read_while(lambda: seen.append(store.count_messages("iso")), write)
    torn = sorted({count for count in seen if count % batch})
    expect(not torn, SPEC, "atomic", f"message counts in multiples of {batch} only", torn)


@pytest.mark.operation("purge_conversations")
def test_purge_is_one_transaction(backend: Any, store: Any) -> None:
    """A reader never sees a purge half done.

    The reader looks at two old conversations, A and then B.  With one
    transaction, once A is gone B is gone too; finding A gone and B still
    there means the purge became visible piece by piece, whatever its order.
    """
    old = [f"old-{n:04d}" for n in range(600)]
    with store.atomic() if caps.TRANSACTIONS in backend.capabilities else nullcontext():
        for conversation_id in old:
            store.create_conversation(conversation_id, "old", {}, T0)
            for n in range(3):
                store.add_message(conversation_id, "user", f"m{n}", T0)
    store.create_conversation("new", "new", {}, T0 + timedelta(days=40))
    torn: list[str] = []
    pick = random.Random(3)

    def exists(conversation_id: str) -> bool:
        try:
            store.get_conversation(conversation_id)
        except NotFound:
            return False
        return True

    def read() -> None:
        first, second = pick.sample(old, 2)
        if not torn and not exists(first) and exists(second):
            torn.append(f"{first} already purged while {second} was not")

    purged = read_while(read, lambda: store.purge_conversations(30, T0 + timedelta(days=41)))
    expect(purged == len(old), SPEC, "purge_conversations", f"{len(old)} purged", purged)
    expect(not torn, SPEC, "purge_conversations", "no half-done purge visible to a reader", torn)
    expect(store.count_messages("new") == 0 and store.get_conversation("new").id == "new", SPEC,
           "purge_conversations", "the newer conversation kept")


@pytest.mark.requires(caps.CRASH_DURABLE, caps.MULTI_PROCESS)
@pytest.mark.operation("purge_conversations")
def test_purge_killed_midway_leaves_all_or_nothing(
    backend: Any, fresh_location: str, open_store: Any
) -> None:
    """SIGKILL during a purge: each old conversation is either gone or whole."""
    store = open_store()
    old = [f"old-{n:04d}" for n in range(1500)]
    with store.atomic():
        for conversation_id in old:
            store.create_conversation(conversation_id, "old", {}, T0)
            for n in range(3):
                store.add_message(conversation_id, "user", f"m{n}", T0)
    store.close()
    # Kill mid-purge: at once if part of it shows (a purge in pieces), else 10 ms in
    # (a one-transaction purge of this dataset takes about 30 ms here).
    watcher = open_store()
    kill_midway(SPEC, "purge_conversations", purge_until_killed,
                (backend.backend, fresh_location), within_s=0.01,
                torn=partial(_partly_purged, watcher, old))
    reopened = open_store()
    expect(not reopened.verify_integrity(), SPEC, "purge_conversations", "a sound file after SIGKILL")
    remaining = {c.id for c in _all_conversations(reopened)}
    whole = [c for c in old if c in remaining and reopened.count_messages(c) == 3]
    expect(len(whole) in (0, len(old)) and len(whole) == len(remaining & set(old)), SPEC,
           "purge_conversations", f"the purge of {len(old)} conversations to have happened "
           f"whole or not at all: {len(old)} whole conversations left, or none",
           f"{len(whole)} whole, {len(remaining & set(old)) - len(whole)} torn")


def _partly_purged(store: Any, old: list[str]) -> bool:
    for conversation_id in (old[0], old[-1]):
        try:
            if store.count_messages(conversation_id) != 3:
                return True
        except NotFound:
            return True
    return False


def _all_conversations(store: Any) -> list[Any]:
    return all_pages(lambda cursor: store.list_conversations(1000, cursor))


class TestNesting(NestingSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
