"""``model``: the spec's rules checked directly, on data chosen to sit on their edges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance.checks import (
    all_pages,
    expect,
    expect_error,
    outcome,
    soft_expectations,
)
from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs.conversations import SPEC, LearningQuery, NewJob, matches
from storecheck.fixtures.conversations import T0, ConversationFactory
from storecheck.fixtures.values import JSON_SPELLINGS

pytestmark = pytest.mark.model

LEARNINGS = (
    ("tips", "Use WAL mode with SQLite", ("perf", "sqlite"), 0.9),
    ("tips", "sqlite3 index on created_at", ("sqlite",), 0.5),
    ("bugs", "lease expired: retry the queue job", ("ops",), 0.49),
    ("bugs", "\u00e9t\u00e9 caf\u00e9 notes in the WALrus log", ("perf",), 0.5),
    ("tips", "VACUUM after purge", (), 1.0),
)
QUERIES = ("sqlite", "SQL", "wal", "walrus", "\u00e9t\u00e9", "caf", "index created", "job-queue",
           "expired: retry", "nothing", "s", "'; DROP TABLE learnings; --", "\"quoted\" AND OR *")


def _learnings(store: Any) -> dict[str, int]:
    return {content: store.create_learning(category, content, tags, confidence,
                                           T0 + timedelta(seconds=n)).id
            for n, (category, content, tags, confidence) in enumerate(LEARNINGS)}


def _search_ids(store: Any, query: LearningQuery) -> list[int]:
    hits = store.search_learnings(query, 1000)
    scores = [hit.score for hit in hits]
    expect(scores == sorted(scores, reverse=True), SPEC, "search_learnings",
           "hits in descending score", scores)
    return sorted(hit.learning.id for hit in hits)


@pytest.mark.operation("search_learnings")
def test_text_search_follows_the_token_rule(store: Any) -> None:
    ids = _learnings(store)
    for text in QUERIES:
        wanted = sorted(ids[content] for content in ids if matches(text, content))
        got = _search_ids(store, LearningQuery(text=text))
        expect(got == wanted, SPEC, "search_learnings",
               f"for {text!r} exactly the learnings the token rule matches: {wanted}", got)


@pytest.mark.operation("search_learnings")
def test_search_follows_updates_and_deletes(store: Any) -> None:
    ids = _learnings(store)
    store.update_learning(ids["Use WAL mode with SQLite"], T0, content="Prefer rollback journals")
    store.delete_learning(ids["sqlite3 index on created_at"])
    remaining = {c: i for c, i in ids.items() if c != "sqlite3 index on created_at"}
    remaining["Prefer rollback journals"] = remaining.pop("Use WAL mode with SQLite")
    for text in ("sqlite", "wal", "rollback", "index"):
        wanted = sorted(i for c, i in remaining.items() if matches(text, c))
        got = _search_ids(store, LearningQuery(text=text))
        expect(got == wanted, SPEC, "search_learnings",
               f"for {text!r} after an update and a delete: {wanted}", got)


@pytest.mark.operation("search_learnings")
def test_filters_category_all_tags_and_inclusive_confidence(store: Any) -> None:
    ids = _learnings(store)
    cases = (
        (LearningQuery(min_confidence=0.5), [c for _, c, _, x in LEARNINGS if x >= 0.5]),
        (LearningQuery(category="bugs"), [c for cat, c, _, _ in LEARNINGS if cat == "bugs"]),
        (LearningQuery(tags=("perf", "sqlite")), ["Use WAL mode with SQLite"]),
        (LearningQuery(text="sqlite", min_confidence=0.9), ["Use WAL mode with SQLite"]),
    )
    for query, contents in cases:
        wanted = sorted(ids[c] for c in contents)
        got = _search_ids(store, query)
        expect(got == wanted, SPEC, "search_learnings", f"for {query}: {wanted}", got)
    newest_first = [hit.learning.id for hit in store.search_learnings(LearningQuery(), 2)]
    expect(newest_first == [ids["VACUUM after purge"], ids[LEARNINGS[3][1]]], SPEC,
           "search_learnings", "without text, newest first, at most limit hits", newest_first)


@pytest.mark.operation("list_conversations")
def test_soft_deleted_conversations_are_hidden_and_refuse_children(store: Any) -> None:
    factory = ConversationFactory()
    for n, conversation_id in enumerate(("a", "b", "c", "d")):
        store.create_conversation(conversation_id, factory.title(), {}, T0 + timedelta(minutes=n // 2))
    store.soft_delete_conversation("c", T0)
    listed = [c.id for page_size in (1, 2, 10) for c in _all_conversations(store, page_size)]
    expect(listed == ["d", "b", "a"] * 3, SPEC, "list_conversations",
           "newest first, ties by id desc, the soft-deleted one hidden, on every page size", listed)
    expect(store.get_conversation("c").deleted_at == T0, SPEC, "get_conversation",
           "a soft-deleted conversation still readable with deleted_at set")
    expect_error(SPEC, "add_message", lambda: store.add_message("c", "user", "x", T0), Conflict)
    expect_error(SPEC, "create_upload", lambda: store.create_upload("c", factory.upload(), T0),
                 Conflict)
    store.restore_conversation("c", T0)
    expect([c.id for c in _all_conversations(store, 10)] == ["d", "c", "b", "a"], SPEC,
           "restore_conversation", "the restored conversation listed again")


def _all_conversations(store: Any, page_size: int) -> list[Any]:
    return all_pages(lambda cursor: store.list_conversations(page_size, cursor))


@pytest.mark.operation("list_messages")
def test_messages_in_timestamp_then_insertion_order(store: Any) -> None:
    store.create_conversation("m", "messages", {}, T0)
    plan = [("third", 2), ("first-a", 1), ("first-b", 1), ("last", 3), ("first-c", 1)]
    for content, second in plan:
        store.add_message("m", "user", content, T0 + timedelta(seconds=second))
    got = [m.content for m in store.list_messages("m")]
    expect(got == ["first-a", "first-b", "first-c", "third", "last"], SPEC, "list_messages",
           "timestamp order, ties in insertion order", got)
    expect(store.count_messages("m") == 5, SPEC, "count_messages", "5 messages")


@pytest.mark.operation("dequeue")
def test_dequeue_order_lease_expiry_and_exclusive_finish(store: Any) -> None:
    """Each rule of the queue's life is checked and the check goes on past a broken one
    (the failure lists every rule broken, not the first alone)."""
    low = store.enqueue(NewJob("low", priority=0), T0)
    high = store.enqueue(NewJob("high", priority=5), T0)
    later = store.enqueue(NewJob("later", priority=9, run_after=T0 + timedelta(minutes=5)), T0)
    with soft_expectations() as soft:
        first = store.dequeue("w1", T0, 30)
        soft.expect(first is not None and first.id == high.id and first.attempts == 1, SPEC,
                    "dequeue", "the ready job with the highest priority, attempt 1", first)
        second = store.dequeue("w2", T0, 30)
        soft.expect(second is not None and second.id == low.id, SPEC, "dequeue",
                    "the next ready job; the later one is not ready yet", second)
        soft.expect(store.dequeue("w3", T0 + timedelta(seconds=10), 30) is None, SPEC,
                    "dequeue", "nothing while leases hold and the later job waits")
        redelivered = store.dequeue("w3", T0 + timedelta(seconds=31), 30)
        soft.expect(redelivered is not None and redelivered.id == high.id
                    and redelivered.attempts == 2 and redelivered.worker == "w3", SPEC,
                    "dequeue", "an expired lease re-delivers the job to the next worker",
                    redelivered)
        stale = outcome(lambda: store.complete_job(high.id, "w1", T0))
        soft.expect(isinstance(stale.error, Conflict), SPEC, "complete_job",
                    "Conflict for a worker whose lease expired", stale.describe())
        done = outcome(lambda: store.complete_job(high.id, "w3", T0 + timedelta(seconds=32)))
        soft.expect(done.error is None and done.value.status == "completed", SPEC,
                    "complete_job", "completed by the lease holder", done.describe())
        again = outcome(lambda: store.complete_job(high.id, "w3", T0))
        soft.expect(isinstance(again.error, Conflict), SPEC, "complete_job",
                    "Conflict for a job completed already", again.describe())
        ready = store.dequeue("w1", T0 + timedelta(minutes=5), 30)
        soft.expect(ready is not None and ready.id == later.id, SPEC, "dequeue",
                    "a job becomes ready at its run_after", ready)


@pytest.mark.operation("enqueue")
def test_a_payload_keeps_its_exact_spelling(store: Any) -> None:
    """The spec stores the payload's text: a parse-and-serialise round trip changes it."""
    for spelling in JSON_SPELLINGS:
        job = store.enqueue(NewJob("spelled", payload=spelling), T0)
        for where, seen in (("enqueue", job), ("get_job", store.get_job(job.id))):
            expect(seen.payload == spelling, SPEC, where, "the payload's text as given",
                   {"given": spelling, "returned": seen.payload})


@pytest.mark.operation("dequeue")
def test_a_lease_ends_exactly_lease_seconds_after_now(store: Any) -> None:
    """Fractional leases to the microsecond: no rounding to whole seconds or milliseconds."""
    for n, lease in enumerate((0.5, 1.000001, 59.999999, 0.000001, 30.25)):
        store.enqueue(NewJob("leased", priority=100 - n), T0)
        now = T0 + timedelta(microseconds=n)
        claimed = store.dequeue("w", now, lease)
        wanted = now + timedelta(seconds=lease)
        expect(claimed is not None and claimed.lease_until == wanted, SPEC, "dequeue",
               f"lease_until = now + {lease} s", {"wanted": wanted,
                                                  "returned": claimed and claimed.lease_until})


@pytest.mark.operation("fail_job")
def test_failures_retry_with_backoff_then_dead_letter(store: Any) -> None:
    """Claim, fail, wait out the backoff, three times over; the check goes on past a broken
    rule (an attempt counted at failure instead of at claim still has its retries and its
    dead letter checked), and the failure lists every rule broken."""
    job = store.enqueue(NewJob("flaky", max_attempts=3), T0)
    now = T0
    with soft_expectations() as soft:
        for attempt in (1, 2):
            claimed = store.dequeue("w", now, 30)
            soft.expect(claimed is not None and claimed.attempts == attempt, SPEC, "dequeue",
                        f"attempt {attempt} counted when the job is claimed", claimed)
            failed = store.fail_job(job.id, "w", f"error {attempt}", now)
            delay = timedelta(seconds=2 ** (attempt - 1))
            soft.expect(failed.status == "queued" and failed.run_after == now + delay
                        and failed.last_error == f"error {attempt}", SPEC, "fail_job",
                        f"requeued {delay.total_seconds():g}s later with the error", failed)
            soft.expect(store.dequeue("w", now + delay - timedelta(microseconds=1), 30) is None,
                        SPEC, "dequeue", "no retry before the backoff has passed")
            now = now + delay
        retried = store.dequeue("w", now, 30)
        soft.expect(retried is not None and retried.id == job.id, SPEC, "dequeue",
                    "the job claimed again once its backoff has passed", retried)
        dead = outcome(lambda: store.fail_job(job.id, "w", "final", now))
        soft.expect(dead.error is None and dead.value.status == "dead"
                    and dead.value.attempts == 3, SPEC, "fail_job",
                    "dead-lettered after max_attempts", dead.describe())
        soft.expect(store.job_counts()["dead"] == 1, SPEC, "job_counts", "one dead job",
                    store.job_counts())


@pytest.mark.operation("dequeue")
def test_an_expired_lease_on_the_last_attempt_dead_letters(store: Any) -> None:
    job = store.enqueue(NewJob("once", max_attempts=1), T0)
    store.dequeue("w", T0, 5)
    expect(store.dequeue("w2", T0 + timedelta(seconds=6), 5) is None, SPEC, "dequeue",
           "no re-delivery past max_attempts")
    expect(store.get_job(job.id).status == "dead", SPEC, "dequeue",
           "the job dead-lettered when its last lease expired", store.get_job(job.id))


@pytest.mark.operation("update_conversation")
def test_a_partial_update_changes_only_what_it_names(store: Any) -> None:
    store.create_conversation("partial", "first title", {"a": "1", "b": "2"}, T0)
    titled = store.update_conversation("partial", T0 + timedelta(seconds=1), title="second title")
    expect((titled.title, dict(titled.metadata)) == ("second title", {"a": "1", "b": "2"}), SPEC,
           "update_conversation", "a new title and the metadata kept", titled)
    tagged = store.update_conversation("partial", T0 + timedelta(seconds=2), metadata={"c": " 3 "})
    expect((tagged.title, dict(tagged.metadata)) == ("second title", {"c": " 3 "}), SPEC,
           "update_conversation", "the metadata replaced verbatim and the title kept", tagged)
    expect(store.get_conversation("partial") == tagged, SPEC, "update_conversation",
           "the update read back", store.get_conversation("partial"))
