"""Code run inside spawned worker processes by the conversations checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storecheck.conformance.checks import run_threads, wait_until
from storecheck.conformance.specs.conversations import SPEC
from storecheck.fixtures.conversations import T0


def drain(backend: Any, location: str, worker: int, threads: int,
          start_at: float, jobs: int) -> dict[str, Any]:
    """Threads dequeuing and completing jobs until the queue is empty, or until one thread
    has been handed more than the ``jobs`` enqueued (a queue that never runs dry)."""
    store = backend.open(SPEC, location)
    wait_until(start_at)
    done: list[int] = []
    errors: list[str] = []
    now = T0 + timedelta(seconds=1)

    def run(thread: int) -> None:
        name = f"p{worker}-t{thread}"
        try:
            for _ in range(jobs):
                job = store.dequeue(name, now, 3600)
                if job is None:
                    return
                store.complete_job(job.id, name, now)
                done.append(job.id)
            if store.dequeue(name, now, 3600) is not None:
                errors.append(f"{name}: dequeue handed out more than the {jobs} jobs enqueued")
        except Exception as exc:  # reported, never swallowed: any error fails the check
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    run_threads(run, [(t,) for t in range(threads)])
    store.close()
    return {"done": done, "errors": errors}


def add_messages(backend: Any, location: str, worker: int, count: int,
                 start_at: float) -> list[str]:
    store = backend.open(SPEC, location)
    wait_until(start_at)
    errors = []
    try:
        for n in range(count):
            try:
                store.add_message("shared", "user", f"w{worker}-{n}", T0 + timedelta(seconds=n))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    return errors


def purge_until_killed(backend: Any, location: str, started: Any) -> None:
    """Signal, then purge; the parent kills this process while the purge runs."""
    store = backend.open(SPEC, location)
    started.set()
    store.purge_conversations(30, T0 + timedelta(days=60))
    store.close()
