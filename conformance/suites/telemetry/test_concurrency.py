"""``concurrency``: worker processes adding A/B results to one test, results recorded
while the test is finalized, and first vectors of two dimensions racing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    SpinStart,
    expect,
    fast_switching,
    run_threads,
    run_workers,
    start_time,
)
from storecheck.conformance.errors import Conflict, ValidationError
from storecheck.conformance.lock_wait import LockWaitSuite
from storecheck.conformance.specs.telemetry import SPEC, NewABTest
from storecheck.conformance.suites.telemetry.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.telemetry.workers import record_results
from storecheck.fixtures.telemetry import T0, TelemetryFactory

pytestmark = pytest.mark.concurrency


class TestLockWait(LockWaitSuite):
    """First in the module: a store whose writers give up at the lock fails here before
    the longer races run."""

    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


ROUNDS = 150


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("record_ab_result")
def test_worker_processes_lose_no_result(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    store.create_ab_test(NewABTest("shared", "colour", ("a", "b"), T0))
    per_worker = store_profile.items * 10
    start = start_time()
    errors = run_workers(record_results, [(backend.backend, fresh_location, w, per_worker, start)
                                          for w in range(store_profile.processes)])
    flat = [e for batch in errors for e in batch]
    expect(not flat, SPEC, "record_ab_result", "no error to reach a writer", flat[:3])
    calls = store_profile.processes * per_worker
    wins = store_profile.processes * len(range(0, per_worker, 3))
    first, second = store.ab_test_results("shared").variants
    expect((first.trials, first.successes, second.trials) == (calls, wins, 0), SPEC,
           "record_ab_result", f"{calls} results with {wins} successes, all for 'a'",
           (first, second))


@pytest.mark.operation("record_ab_result")
def test_no_result_counts_after_the_test_is_finalized(store: Any, store_profile: Any) -> None:
    """Threads record results while one finalizes the test: the counts read as soon as the
    finalization returns are the final counts, every result after it is a Conflict, and
    every result that succeeded is counted.  Five rounds, a new test each."""
    problems = [problem for round_ in range(5)
                for problem in _results_while_finalizing(store, f"closing-{round_}",
                                                         store_profile.threads * 2)]
    expect(not problems, SPEC, "record_ab_result", "the counts frozen by the finalization, "
           "every successful result counted", problems[:3])


def _results_while_finalizing(store: Any, test_id: str, threads: int) -> list[str]:
    store.create_ab_test(NewABTest(test_id, "colour", ("a", "b"), T0))
    recorded = [0] * threads
    at_finalize: list[Any] = []
    finalized = threading.Event()
    recording = threading.Event()
    problems: list[str] = []

    def record(thread: int) -> None:
        if thread == 0:
            store.record_ab_result(test_id, "a", True)
            # Finalize only once every recorder is in its loop: released together, the
            # finalizer alone could finish before the others got the interpreter, and a
            # result whose finalized-check and count are apart would never be caught.
            recording.wait(timeout=30)
            store.finalize_ab_test(test_id, "a", 0.9, T0)
            at_finalize.append(store.ab_test_results(test_id).variants)
            finalized.set()
            return
        for _ in range(400):
            # Read before the call: a call that starts after the finalization returned
            # must be refused (one that started before may have committed first).
            after_finalization = finalized.is_set()
            try:
                store.record_ab_result(test_id, "ab"[thread % 2], True)
            except Conflict:
                return
            recorded[thread] += 1
            if all(count >= 2 for count in recorded[1:]):
                recording.set()
            if after_finalization:
                problems.append(f"{test_id}: a result recorded after the finalization returned")
                return

    run_threads(record, [(t,) for t in range(threads)])
    final = store.ab_test_results(test_id).variants
    counted = sum(variant.trials for variant in final)
    if at_finalize[0] != final or counted != sum(recorded) + 1:
        problems.append(f"{test_id}: {sum(recorded) + 1} results succeeded; at finalization "
                        f"{at_finalize[0]}, at the end {final}")
    return problems


@pytest.mark.operation("insert_feature_vector")
def test_first_vectors_of_two_dimensions_racing_store_one_dimension(
    store: Any, store_profile: Any
) -> None:
    """The first vector fixes the store's dimension.  Racers insert first vectors of
    dimension 3 and 4 at once: the store ends up with one dimension, the racers of the
    other get ValidationError.  Each round on an emptied store; the same threads race
    every round (a thread's connection is kept, so new threads would pile them up)."""
    threads = store_profile.threads * 4
    factory = TelemetryFactory()
    rounds: list[list[Any]] = []
    for round_ in range(ROUNDS):
        store.create_session(factory.session(id=f"dims-{round_}"))
        rounds.append([factory.vector(store.record_query(factory.query(f"dims-{round_}")).id,
                                      3 + thread % 2) for thread in range(threads)])
    outcomes: list[list[tuple[int, str]]] = [[] for _ in range(ROUNDS)]
    problems: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    start = SpinStart(threads)

    def race(thread: int) -> None:
        for round_, vectors in enumerate(rounds):
            start.wait(round_)
            try:
                store.insert_feature_vector(vectors[thread])
                result = "ok"
            except ValidationError:
                result = "refused"
            with lock:
                outcomes[round_].append((len(vectors[thread].embedding), result))
            if barrier.wait() == 0:
                problems.extend(_judge_dimensions(store, round_, vectors, outcomes[round_]))
                store.delete_session(f"dims-{round_}")
            barrier.wait()

    with fast_switching():
        run_threads(race, [(t,) for t in range(threads)])
    expect(not problems, SPEC, "insert_feature_vector",
           "one dimension per store, the racers of the other refused", problems[:3])


def _judge_dimensions(store: Any, round_: int, vectors: list[Any],
                      outcomes: list[tuple[int, str]]) -> list[str]:
    stored = {len(vector.embedding) for new in vectors
              for vector in store.feature_vectors_for_query(new.query_id)}
    won = {dimension for dimension, result in outcomes if result == "ok"}
    lost = {dimension for dimension, result in outcomes if result == "refused"}
    if len(stored) != 1 or won != stored or lost & won:
        return [f"round {round_}: stored dimensions {sorted(stored)}, accepted {sorted(won)}, "
                f"refused {sorted(lost)}"]
    return []

