"""Code run inside spawned worker processes by the extraction checks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from storecheck.conformance.checks import wait_until
from storecheck.conformance.specs.extraction import SPEC, NewProcessSession
from storecheck.fixtures.extraction import T0

CREATING_THREADS = 4
"""Threads creating sessions at once in the killed worker: the store always has creations
in flight, each waiting for the lock between its statements, so a store that commits a
creation in two steps has one between its commits at almost any moment, where one thread
leaves it between calls (on the wire, most of the time) as often as inside one."""


def create_sessions_until_killed(backend: Any, location: str, prefix: str, started: Any) -> None:
    """Create sessions from :data:`CREATING_THREADS` threads, signalling after the first;
    the parent kills this process while they are creating them."""
    store = backend.open(SPEC, location)

    def create(thread: int) -> None:
        for n in range(1_000_000):
            store.create_session(NewProcessSession(
                "codex", f"{prefix}-{thread}-{n:07d}",
                T0 + timedelta(microseconds=n * CREATING_THREADS + thread)))
            started.set()

    creators = [threading.Thread(target=create, args=(thread,), daemon=True)
                for thread in range(CREATING_THREADS)]
    for creator in creators:
        creator.start()
    for creator in creators:
        creator.join()


def purge_until_killed(backend: Any, location: str, started: Any) -> None:
    """Signal, then purge; the parent kills this process while the purge runs."""
    store = backend.open(SPEC, location)
    started.set()
    store.purge_sessions(T0 + timedelta(days=365))
    store.close()


def add_progress(backend: Any, location: str, worker: int, count: int,
                 start_at: float) -> list[str]:
    """``count`` additions of (1, 2, 3) to the shared session's totals."""
    store = backend.open(SPEC, location)
    wait_until(start_at)
    errors = []
    try:
        for _ in range(count):
            try:
                store.record_progress("shared", 1, 2, 3)
            except Exception as exc:  # reported, never swallowed: any error fails the check
                errors.append(f"worker {worker}: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    return errors
