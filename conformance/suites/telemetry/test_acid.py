"""``acid``: a vector batch and a prediction batch are all or nothing, a day batch of
aggregates is one change, deleting and pruning are one transaction each (even under
SIGKILL), ``atomic()`` rolls back every table, and reads never wait for a writer."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from typing import Any, Final

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    REFUSED_AT,
    REFUSED_BATCH,
    expect,
    expect_error,
    kill_midway,
    read_while,
    reads_beside_a_held_write,
    run_threads,
)
from storecheck.conformance.errors import (
    ConstraintKind,
    ConstraintViolation,
    NotFound,
    ValidationError,
)
from storecheck.conformance.nesting import NestingSuite
from storecheck.conformance.specs.telemetry import (
    SPEC,
    NewABTest,
    RunCursor,
    SampleCursor,
    TrainingMetrics,
)
from storecheck.conformance.suites.telemetry.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.telemetry.workers import prune_until_killed
from storecheck.fixtures.telemetry import DIMENSION, T0, TelemetryFactory, populate_session

pytestmark = pytest.mark.acid
BATCH = 100
QUERIES_A_DAY = 20
RECOMPUTATIONS = 10


def _queries(store: Any, factory: TelemetryFactory, session_id: str, count: int) -> list[str]:
    store.create_session(factory.session(id=session_id))
    return [store.record_query(factory.query(session_id)).id for _ in range(count)]


@pytest.mark.operation("batch_insert_feature_vectors")
@pytest.mark.parametrize("fault", ["missing query (FOREIGN_KEY)", "NaN component (Validation)",
                                   "other dimension (Validation)", "empty feature set (CHECK)"])
def test_a_vector_batch_with_one_bad_vector_stores_none(store: Any, fault: str) -> None:
    """Vector 557 of 600 breaks a rule: the batch raises the spec's error and stores nothing,
    neither the 556 before it (a first chunk of 500 included) nor the 43 after it; what was
    stored before stays."""
    factory = TelemetryFactory()
    (kept,) = _queries(store, factory, "before", 1)
    earlier = store.batch_insert_feature_vectors([factory.vector(kept, DIMENSION)])
    targets = _queries(store, factory, "batch", 10)
    batch = [factory.vector(targets[n % 10], DIMENSION) for n in range(REFUSED_BATCH)]
    batch[REFUSED_AT - 1] = _faulty(batch[REFUSED_AT - 1], fault)
    error, kind = ((ValidationError, None) if "Validation" in fault
                   else (ConstraintViolation, ConstraintKind[fault.split("(")[1][:-1]]))
    expect_error(SPEC, "batch_insert_feature_vectors",
                 lambda: store.batch_insert_feature_vectors(batch), error, kind)
    left = {query_id: len(store.feature_vectors_for_query(query_id)) for query_id in targets}
    expect(not any(left.values()), SPEC, "batch_insert_feature_vectors",
           f"none of the batch stored when vector {REFUSED_AT} of {REFUSED_BATCH} is refused", left)
    expect(store.feature_vectors_for_query(kept) == earlier, SPEC,
           "batch_insert_feature_vectors", "the earlier vector untouched")
    found = store.find_similar_queries(earlier[0].embedding, 10)
    expect([hit.query_id for hit in found] == [kept], SPEC, "find_similar_queries",
           "only the earlier vector to be searched", found)


def _faulty(vector: Any, fault: str) -> Any:
    if fault.startswith("missing"):
        return replace(vector, query_id="no-such-query")
    if fault.startswith("NaN"):
        return replace(vector, embedding=(float("nan"), *vector.embedding[1:]))
    if fault.startswith("other"):
        return replace(vector, embedding=vector.embedding[:-1])
    return replace(vector, feature_set="")


PREDICTION_FAULTS: Final = {
    "missing run (FOREIGN_KEY)": lambda p: replace(p, run_id="no-such-run"),
    "confidence above one (CHECK)": lambda p: replace(p, confidence=1.5),
    "id used earlier in the batch (UNIQUE)": lambda p: replace(p, id="batch-p-1"),
    "NaN confidence (Validation)": lambda p: replace(p, confidence=float("nan")),
}


@pytest.mark.operation("batch_insert_predictions")
@pytest.mark.parametrize("fault", list(PREDICTION_FAULTS))
def test_a_prediction_batch_with_one_bad_prediction_stores_none(store: Any, fault: str) -> None:
    """Prediction 557 of 600 breaks a rule: the batch raises the spec's error and stores
    nothing, neither the 556 before it (a first chunk of 500 included) nor the 43 after it;
    a prediction stored before stays."""
    factory = TelemetryFactory()
    for run_id in ("before", "batch"):
        store.insert_training_run(factory.run(id=run_id))
    earlier = store.batch_insert_predictions([factory.prediction("before")])
    batch = [replace(factory.prediction("batch"), id=f"batch-p-{n + 1}")
             for n in range(REFUSED_BATCH)]
    batch[REFUSED_AT - 1] = PREDICTION_FAULTS[fault](batch[REFUSED_AT - 1])
    error, kind = ((ValidationError, None) if "Validation" in fault
                   else (ConstraintViolation, ConstraintKind[fault.split("(")[1][:-1]]))
    expect_error(SPEC, "batch_insert_predictions",
                 lambda: store.batch_insert_predictions(batch), error, kind)
    left = store.predictions_for_run("batch")
    expect(left == [], SPEC, "batch_insert_predictions",
           f"none of the batch stored when prediction {REFUSED_AT} of {REFUSED_BATCH} is "
           "refused", len(left))
    expect(store.predictions_for_run("before") == earlier, SPEC, "batch_insert_predictions",
           "the earlier prediction untouched")


@pytest.mark.operation("batch_insert_predictions")
def test_a_prediction_batch_is_stored_whole_and_returned_in_its_order(store: Any) -> None:
    """A hundred predictions, ids in no sorted order and every tenth at the same instant:
    returned as given, each as :meth:`insert_prediction` returns it (no ground truth yet),
    and read back whole."""
    factory = TelemetryFactory()
    store.insert_training_run(factory.run(id="run"))
    batch = [replace(factory.prediction("run"), id=f"p-{(n * 37) % BATCH:03d}",
                     predicted_at=T0 + timedelta(seconds=n // 10)) for n in range(BATCH)]
    stored = store.batch_insert_predictions(batch)
    expect([p.id for p in stored] == [p.id for p in batch], SPEC, "batch_insert_predictions",
           "the stored predictions in the batch's order", [p.id for p in stored[:5]])
    expect(all((p.run_id, p.predicted_value, p.confidence, p.predicted_at, p.actual_value)
               == (new.run_id, new.predicted_value, new.confidence, new.predicted_at, None)
               for p, new in zip(stored, batch, strict=True)), SPEC,
           "batch_insert_predictions", "each prediction as given, with no actual value")
    read = store.predictions_for_run("run")
    expect(sorted(read, key=lambda p: p.id) == sorted(stored, key=lambda p: p.id), SPEC,
           "predictions_for_run", "the batch read back whole", len(read))


@pytest.mark.operation("batch_insert_feature_vectors")
def test_a_vector_batch_is_stored_whole_in_its_order(store: Any) -> None:
    factory = TelemetryFactory()
    (query_id,) = _queries(store, factory, "s", 1)
    batch = [factory.vector(query_id, DIMENSION) for _ in range(BATCH)]
    stored = store.batch_insert_feature_vectors(batch)
    ids = [vector.id for vector in stored]
    expect(ids == sorted(ids) and len(set(ids)) == BATCH, SPEC, "batch_insert_feature_vectors",
           "ids increasing in the batch's order", ids[:5])
    read = store.feature_vectors_for_query(query_id)
    expect(read == stored, SPEC, "feature_vectors_for_query",
           "the batch read back whole, in its order", len(read))


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("batch_insert_feature_vectors")
def test_a_reader_never_sees_part_of_a_vector_batch(store: Any, store_profile: Any) -> None:
    factory = TelemetryFactory()
    (query_id,) = _queries(store, factory, "watched", 1)
    batches = [[factory.vector(query_id, DIMENSION) for _ in range(BATCH)]
               for _ in range(store_profile.items)]
    seen: list[int] = []

    def write() -> None:
        for batch in batches:
            store.batch_insert_feature_vectors(batch)

    read_while(lambda: seen.append(len(store.feature_vectors_for_query(query_id))), write)
    torn = sorted({count for count in seen if count % BATCH})
    expect(not torn, SPEC, "batch_insert_feature_vectors",
           f"vector counts in multiples of {BATCH} only", torn[:5])


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("batch_update_aggregates")
def test_a_reader_sees_a_day_batch_of_aggregates_whole(store: Any) -> None:
    """Thirty days of twenty queries are aggregated; then, ten times, each day gets one
    more query and the thirty days are aggregated again while a reader polls them: the
    reader sees every day's old row or every day's new one, never some of each."""
    factory = TelemetryFactory()
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(30)]
    store.create_session(factory.session(id="days"))

    def one_query_a_day() -> None:
        for day in days:
            at = factory.now().replace(year=day.year, month=day.month, day=day.day)
            store.record_query(factory.query("days", timestamp=at))

    with store.atomic():
        for _ in range(QUERIES_A_DAY):
            one_query_a_day()
    store.batch_update_aggregates(days)
    mixed: list[list[int]] = []

    def read() -> None:
        counts = [row.metrics.query_count for row in store.daily_aggregates(days[0], days[-1])]
        if len(set(counts)) != 1 and not mixed:
            mixed.append(counts)

    for _ in range(RECOMPUTATIONS):
        one_query_a_day()
        read_while(read, lambda: store.batch_update_aggregates(days))
    final = {row.metrics.query_count for row in store.daily_aggregates(days[0], days[-1])}
    wanted = QUERIES_A_DAY + RECOMPUTATIONS
    expect(final == {wanted}, SPEC, "batch_update_aggregates",
           f"every day recomputed with {wanted} queries", final)
    expect(not mixed, SPEC, "batch_update_aggregates",
           "the thirty days' rows replaced together, never some old and some new", mixed)


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_atomic_rolls_back_every_table(store: Any) -> None:
    factory = TelemetryFactory()
    (kept,) = _queries(store, factory, "kept", 1)
    run = store.insert_training_run(factory.run(id="run"))
    store.create_ab_test(NewABTest("ab", "colour", ("a", "b"), T0))
    with pytest.raises(ConstraintViolation), store.atomic():
        query_ids = _queries(store, factory, "tx", 2)
        store.record_feedback(factory.feedback("tx", query_ids[0]))
        store.record_trace(factory.trace("tx", query_ids[1]))
        store.batch_insert_feature_vectors([factory.vector(kept, DIMENSION)])
        store.insert_prediction(factory.prediction("run"))
        store.record_ab_result("ab", "a", True)
        store.update_training_run_results("run", TrainingMetrics(
            "completed", T0 + timedelta(hours=1), 0.5, 0.1, 0.5, 10))
        store.end_session("kept", T0 + timedelta(hours=1))
        store.batch_update_aggregates([T0.date()])
        store.record_query(factory.query("no-such-session"))
    expect_error(SPEC, "atomic", lambda: store.get_session("tx"), NotFound)
    expect(store.feature_vectors_for_query(kept) == [], SPEC, "atomic",
           "the rolled-back vector gone")
    expect(store.get_session("kept").ended_at is None
           and store.get_training_run("run") == run
           and store.predictions_for_run("run") == []
           and store.ab_test_results("ab").variants[0].trials == 0
           and store.daily_aggregates(T0.date(), T0.date()) == [], SPEC, "atomic",
           "session, run, predictions, A/B counts and aggregates as before the block")
    expect(store.find_similar_queries(factory.embedding(DIMENSION), 5) == [], SPEC,
           "find_similar_queries", "no rolled-back vector found by a search")


def _old_sessions(store: Any, backend: Any, count: int, prefix: str = "",
                  factory: TelemetryFactory | None = None) -> list[str]:
    """``count`` sessions ended in the first minute, each with two queries, a feedback, a
    trace and two vectors; one running session and one ended later beside them."""
    factory = factory or TelemetryFactory()
    old = [f"{prefix}old-{n:04d}" for n in range(count)]
    with store.atomic() if caps.TRANSACTIONS in backend.capabilities else nullcontext():
        for session_id in old:
            populate_session(store, factory, session_id, T0 + timedelta(minutes=1))
        populate_session(store, factory, f"{prefix}running")
        populate_session(store, factory, f"{prefix}late", T0 + timedelta(days=400))
    return old


def _held(store: Any, session_id: str) -> tuple[bool, int, int]:
    """Whether the session exists, its queries, and the vectors of its queries."""
    try:
        queries = store.session_activity(session_id).queries
    except NotFound:
        return False, 0, 0
    return True, len(queries), sum(len(store.feature_vectors_for_query(q.id)) for q in queries)


PRUNE_ROUNDS: Final = 3


@pytest.mark.operation("prune_old_data")
def test_prune_is_one_transaction(backend: Any, store: Any) -> None:
    """A reader never sees a prune half done: the session still there with its children
    gone (children committed apart), or one old session gone and the other not.

    A prune of 300 sessions takes a few milliseconds, so a store that commits in steps
    shows them to a polling reader only most of the time; the check prunes up to
    ``PRUNE_ROUNDS`` times, on fresh sessions, and fails at the first torn state seen."""
    factory = TelemetryFactory()
    for round_ in range(PRUNE_ROUNDS):
        _prune_watched(store, backend, _old_sessions(store, backend, 300, f"r{round_}-", factory))


def _prune_watched(store: Any, backend: Any, old: list[str]) -> None:
    first_queries = {session_id: [q.id for q in store.session_activity(session_id).queries]
                     for session_id in old}
    torn: list[str] = []
    pick = random.Random(3)

    def read() -> None:
        first, second = pick.sample(old, 2)
        vectors_before = len(store.feature_vectors_for_query(first_queries[first][0]))
        there = _held(store, first)[0]
        vectors_after = len(store.feature_vectors_for_query(first_queries[first][0]))
        if torn:
            return
        if vectors_before == 0 and there:
            torn.append(f"{first}: its vectors gone while the session was still there")
        elif not there and vectors_after:
            torn.append(f"{first}: the session gone while its vectors were not")
        elif not there and _held(store, second)[0]:
            torn.append(f"{first} already pruned while {second} was not")

    deleted = read_while(read, lambda: store.prune_old_data(T0 + timedelta(days=1)))
    expect(deleted == type(deleted)(300, 600, 300, 300, 600), SPEC, "prune_old_data",
           "300 sessions, 600 queries, 300 feedback, 300 traces, 600 vectors pruned", deleted)
    expect(not torn, SPEC, "prune_old_data", "no half-done prune visible to a reader", torn)


@pytest.mark.requires(caps.CRASH_DURABLE, caps.MULTI_PROCESS)
@pytest.mark.operation("prune_old_data")
def test_prune_killed_midway_leaves_all_or_nothing(
    backend: Any, fresh_location: str, open_store: Any
) -> None:
    """SIGKILL during a prune: each old session is either gone with all it held or whole."""
    store = open_store()
    old = _old_sessions(store, backend, 600)
    store.close()
    watcher = open_store()
    kill_midway(SPEC, "prune_old_data", prune_until_killed, (backend.backend, fresh_location),
                within_s=0.01, torn=partial(_partly_pruned, watcher, old))
    reopened = open_store()
    expect(not reopened.verify_integrity(), SPEC, "prune_old_data", "a sound store after SIGKILL")
    held = [_held(reopened, session_id) for session_id in old]
    whole, gone = held.count((True, 2, 2)), held.count((False, 0, 0))
    expect(whole + gone == len(old) and whole in (0, len(old)), SPEC, "prune_old_data",
           f"the prune of {len(old)} sessions to have happened whole or not at all",
           f"{whole} whole, {gone} gone, {len(old) - whole - gone} torn")
    expect(_held(reopened, "running") == (True, 2, 2), SPEC, "prune_old_data",
           "the running session kept whole")


def _partly_pruned(store: Any, old: list[str]) -> bool:
    return any(_held(store, session_id) != (True, 2, 2) for session_id in (old[0], old[-1]))


@pytest.mark.operation("record_ab_result")
def test_concurrent_writers_do_not_corrupt_data(store: Any, store_profile: Any) -> None:
    """Threads recording queries, feedback and vectors and adding A/B results at once."""
    threads, rounds = store_profile.threads * 2, store_profile.items * 2
    store.create_session(TelemetryFactory().session(id="busy"))
    store.create_ab_test(NewABTest("busy-test", "colour", ("a", "b"), T0))
    errors: list[str] = []
    lock = threading.Lock()

    def write(thread: int) -> None:
        factory = TelemetryFactory(seed=thread)
        for n in range(rounds):
            try:
                query = store.record_query(factory.query("busy", id=f"t{thread}-q{n}"))
                store.record_feedback(factory.feedback("busy", query.id, id=f"t{thread}-f{n}"))
                store.batch_insert_feature_vectors([factory.vector(query.id, DIMENSION)] * 2)
                store.record_ab_result("busy-test", "ab"[n % 2], thread % 2 == 0)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    run_threads(write, [(t,) for t in range(threads)])
    expect(not errors, SPEC, "record_query", "no writer to fail", errors[:3])
    total = threads * rounds
    activity = store.session_activity("busy")
    expect(len(activity.queries) == len(activity.feedback) == total, SPEC, "session_activity",
           f"{total} queries and {total} feedback", (len(activity.queries), len(activity.feedback)))
    vectors = sum(len(store.feature_vectors_for_query(q.id)) for q in activity.queries)
    expect(vectors == 2 * total, SPEC, "batch_insert_feature_vectors", f"{2 * total} vectors",
           vectors)
    first, second = store.ab_test_results("busy-test").variants
    expect(first.trials + second.trials == total
           and first.successes + second.successes == total // 2, SPEC, "record_ab_result",
           f"{total} results, {total // 2} successes", (first, second))


READS: dict[str, Callable[[Any], Any]] = {
    "get_session": lambda s: s.get_session("read"),
    "session_activity": lambda s: s.session_activity("read"),
    "aggregated_metrics": lambda s: s.aggregated_metrics(T0, T0 + timedelta(days=1)),
    "daily_aggregates": lambda s: s.daily_aggregates(T0.date(), T0.date()),
    "export_anonymized": lambda s: s.export_anonymized(T0, T0 + timedelta(days=1)),
    "get_training_run": lambda s: s.get_training_run("read-run"),
    "list_training_runs": lambda s: s.list_training_runs(None, 10),
    "training_runs_page": lambda s: s.training_runs_page(None, 10, RunCursor(T0, "read-run")),
    "feature_vectors_for_query": lambda s: s.feature_vectors_for_query("read-q"),
    "find_similar_queries": lambda s: s.find_similar_queries((1.0,) * DIMENSION, 5),
    "predictions_for_run": lambda s: s.predictions_for_run("read-run"),
    "calculate_model_accuracy": lambda s: s.calculate_model_accuracy("read-run"),
    "ab_test_results": lambda s: s.ab_test_results("read-test"),
    "export_training_data": lambda s: s.export_training_data(T0, T0 + timedelta(days=1), "csv"),
    "get_labeled_samples": lambda s: s.get_labeled_samples(10),
    "labeled_samples_page": lambda s: s.labeled_samples_page(10, SampleCursor(T0, "read-q")),
    "get_model_performance": lambda s: s.get_model_performance("v1"),
    "compare_models": lambda s: s.compare_models("v1", "v1"),
}


@pytest.mark.requires(caps.TRANSACTIONS, caps.MULTI_PROCESS)
@pytest.mark.operation("reads")
def test_reads_never_wait_for_a_writer(open_store: Any) -> None:
    """While another connection holds a write transaction open, every read answers at once
    with the committed data: a read that takes the write lock queues behind every writer."""
    reader, writer = open_store(), open_store()
    factory = TelemetryFactory()
    reader.create_session(factory.session(id="read", started_at=T0))
    reader.record_query(factory.query("read", id="read-q"))
    reader.record_feedback(factory.feedback("read", "read-q", feedback_type="thumbs_up"))
    reader.batch_insert_feature_vectors([factory.vector("read-q", DIMENSION)])
    reader.insert_training_run(factory.run(id="read-run"))
    reader.insert_prediction(factory.prediction("read-run"))
    reader.create_ab_test(NewABTest("read-test", "colour", ("a", "b"), T0))
    reader.batch_update_aggregates([T0.date()])
    reads_beside_a_held_write(SPEC, reader, writer, READS, lambda w: (
        w.record_query(factory.query("read")), w.record_ab_result("read-test", "a", True)))


class TestNesting(NestingSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
