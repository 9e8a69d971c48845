"""``concurrency``: worker processes draining the queue, writers sharing a conversation."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import nullcontext
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect, run_threads, run_workers, start_time
from storecheck.conformance.lock_wait import LockWaitSuite
from storecheck.conformance.specs.conversations import SPEC, NewJob
from storecheck.conformance.suites.conversations.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.conversations.workers import add_messages, drain
from storecheck.fixtures.conversations import T0

pytestmark = pytest.mark.concurrency


class TestLockWait(LockWaitSuite):
    """First in the module: a store whose writers give up at the lock fails here before
    the longer races run."""

    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


JOBS = 2_000


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("dequeue")
def test_workers_drain_the_queue_each_job_exactly_once(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    with store.atomic() if caps.TRANSACTIONS in backend.capabilities else nullcontext():
        for n in range(JOBS):
            store.enqueue(NewJob("work", payload=f'{{"n": {n}}}', priority=n % 4), T0)
    start = start_time()
    results = run_workers(drain, [(backend.backend, fresh_location, worker, store_profile.threads,
                                   start, JOBS) for worker in range(4)])
    elapsed = time.time() - start
    errors = [e for result in results for e in result["errors"]]
    expect(not errors, SPEC, "dequeue", "no error to reach a worker", errors[:3])
    done = Counter(job for result in results for job in result["done"])
    twice = [job for job, times in done.items() if times > 1]
    expect(not twice, SPEC, "dequeue", "no job delivered to two workers", twice[:5])
    expect(len(done) == JOBS, SPEC, "dequeue", f"all {JOBS} jobs completed", len(done))
    counts = store.job_counts()
    expect(counts["completed"] == JOBS and counts["queued"] == counts["running"] == 0, SPEC,
           "job_counts", f"{JOBS} completed and nothing left", counts)
    print(f"\nqueue drain: {JOBS} jobs, 4 processes x {store_profile.threads} threads, "
          f"{elapsed:.2f} s, {JOBS / elapsed:.0f} jobs/s")


@pytest.mark.operation("dequeue")
def test_threads_sharing_one_store_claim_each_job_once(store: Any, store_profile: Any) -> None:
    jobs = store_profile.items * 40
    for n in range(jobs):
        store.enqueue(NewJob("work", priority=n % 3), T0)
    claimed: list[int] = []
    errors: list[str] = []

    def work(name: str) -> None:
        try:
            # Bounded: a queue that never runs dry is a verdict, not a hang.
            for _ in range(jobs + 1):
                if (job := store.dequeue(name, T0, 3600)) is None:
                    return
                claimed.append(job.id)
                store.complete_job(job.id, name, T0)
            errors.append(f"{name}: dequeue handed out more than the {jobs} jobs enqueued")
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    run_threads(work, [(f"t{n}",) for n in range(store_profile.threads * 3)])
    expect(not errors, SPEC, "dequeue", "no error to reach a worker thread", errors[:3])
    twice = [job for job, times in Counter(claimed).items() if times > 1]
    expect(not twice and len(claimed) == jobs, SPEC, "dequeue",
           f"each of {jobs} jobs claimed exactly once", (len(claimed), twice[:5]))


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("add_message")
def test_concurrent_writers_lose_no_message(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    store.create_conversation("shared", "shared", {}, T0)
    per_worker = store_profile.items * 4
    start = start_time()
    errors = run_workers(add_messages, [(backend.backend, fresh_location, w, per_worker, start)
                                        for w in range(store_profile.processes)])
    flat = [e for batch in errors for e in batch]
    expect(not flat, SPEC, "add_message", "no error to reach a writer", flat[:3])
    total = store_profile.processes * per_worker
    expect(store.count_messages("shared") == total, SPEC, "add_message",
           f"{total} messages", store.count_messages("shared"))
    ids = [m.id for m in store.list_messages("shared")]
    expect(len(set(ids)) == total, SPEC, "add_message", "distinct message ids", len(set(ids)))

