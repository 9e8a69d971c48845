"""``concurrency``: the feed's guarantee to a processor tailing it while writers append.

A processor reads "events after my checkpoint" again and again; it must see every
event exactly once, in position order, however the writers' commits interleave.
A store whose positions are drawn before the append commits (a sequence, a
counter table, an identity column at READ COMMITTED) lets a later position
become visible first, and the processor, already past it, never sees the lower
one that commits after.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    expect,
    fast_switching,
    progress,
    run_threads,
    run_workers,
    start_time,
)
from storecheck.conformance.lock_wait import LockWaitSuite
from storecheck.conformance.specs.app_meta import SPEC, StoredEvent
from storecheck.conformance.suites.app_meta.feed import next_page
from storecheck.conformance.suites.app_meta.test_migration import write_some
from storecheck.conformance.suites.app_meta.workers import (
    append_streams,
    append_streams_in_process,
)
from storecheck.fixtures.app_meta import snapshot_all

pytestmark = pytest.mark.concurrency


class TestLockWait(LockWaitSuite):
    """First in the module: a store whose writers give up at the lock fails here before
    the longer races run."""

    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


PAGE = 500


DRAIN_SECONDS = 60.0
"""Once the writers are done, how long the processor may take to read to the feed's end."""


class Tail:
    """A processor reading the feed after its checkpoint until told to stop, then once
    more to the end; every event it was handed, in the order it was handed them.  A feed
    that does not move past ``after`` ends the reading (``feed.next_page``), and so does
    one still handing out events ``DRAIN_SECONDS`` after the writers stopped."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.seen: list[StoredEvent] = []
        self.stop = threading.Event()
        self.reads = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # judged by the main thread
            self.failure = exc

    def _read(self) -> None:
        after = 0
        drained_by: float | None = None
        while True:
            stopping = self.stop.is_set()
            if stopping and drained_by is None:
                drained_by = time.monotonic() + DRAIN_SECONDS
            page = next_page(self.store, after, PAGE)
            self.reads += 1
            self.seen.extend(page)
            if page:
                after = page[-1].position
            elif stopping:
                return
            expect(drained_by is None or time.monotonic() < drained_by, SPEC, "read_feed",
                   f"the feed to run dry within {DRAIN_SECONDS:g} s of the writers stopping",
                   f"still handing out events after {len(self.seen)} ({self.reads} reads)")

    def judge(self, operation: str, wanted: set[str]) -> None:
        if self.failure is not None:
            raise self.failure
        positions = [event.position for event in self.seen]
        ids = [event.event_id for event in self.seen]
        backwards = [(a, b) for a, b in itertools.pairwise(positions) if b <= a]
        expect(not backwards, SPEC, operation,
               "the tailing processor handed positions in increasing order", backwards[:3])
        twice = len(ids) - len(set(ids))
        missed = sorted(wanted - set(ids))
        expect(not missed and not twice, SPEC, operation,
               f"the tailing processor to see all {len(wanted)} events exactly once (an event "
               "committed after a higher position was read is skipped by a reader past it)",
               f"{len(missed)} missed (e.g. {missed[:3]}), {twice} seen twice, "
               f"{self.reads} reads")


def _tail_while(store: Any, write: Any) -> Tail:
    tail = Tail(store)
    with fast_switching():
        reader = threading.Thread(target=tail.run, name="storecheck-feed-tail")
        reader.start()
        try:
            write()
        finally:
            tail.stop.set()
            reader.join(timeout=DRAIN_SECONDS * 2)
    # Going on while the reader still uses the store would share one connection between
    # two threads at once; a verdict instead.
    expect(not reader.is_alive(), SPEC, "read_feed", "the tailing reader to finish within "
           f"{DRAIN_SECONDS * 2:g} s of the writers stopping", f"{tail.reads} reads so far")
    return tail


def _wanted(writers: int, batches: int, batch: int) -> set[str]:
    return {f"w{w}-{n}" for w in range(writers) for n in range(1, batches * batch + 1)}


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("read_feed")
def test_a_processor_tailing_the_feed_sees_every_event_of_writer_processes_once_in_order(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Four writer processes append small batches to their own streams while the processor
    tails the feed from another connection."""
    store = open_store()
    writers, batches, batch = 4, store_profile.items * 25, 3
    start = start_time()
    errors: list[list[str]] = []
    finished: list[float] = []

    def write() -> None:
        errors.extend(run_workers(append_streams_in_process, [
            (backend.backend, fresh_location, w, batches, batch, start) for w in range(writers)]))
        finished.append(time.time())

    tail = _tail_while(store, write)
    elapsed = finished[0] - start  # the writers start together at ``start``
    flat = [e for batch_errors in errors for e in batch_errors]
    expect(not flat, SPEC, "append_events", "no error to reach a writer", flat[:3])
    tail.judge("read_feed", _wanted(writers, batches, batch))
    appended = writers * batches * batch
    progress(request.config, f"app_meta feed: {appended} events from {writers} writer "
             f"processes in {elapsed:.2f} s ({appended / elapsed:.0f} events/s or more: the time "
             f"includes the worker pool's shutdown) beside a tailing reader ({tail.reads} reads)")


@pytest.mark.operation("read_feed")
def test_a_processor_tailing_the_feed_sees_every_event_of_writer_threads_once_in_order(
    store: Any, store_profile: Any
) -> None:
    """The same with writer threads sharing the processor's store."""
    writers, batches, batch = 4, store_profile.items * 12, 3
    errors: list[str] = []

    def write() -> None:
        run_threads(lambda w: errors.extend(append_streams(store, w, batches, batch)),
                    [(w,) for w in range(writers)])

    tail = _tail_while(store, write)
    expect(not errors, SPEC, "append_events", "no error to reach a writer", errors[:3])
    tail.judge("read_feed", _wanted(writers, batches, batch))
    versions = [store.aggregate_version(f"stream-{w}") for w in range(writers)]
    expect(versions == [batches * batch] * writers, SPEC, "aggregate_version",
           f"every stream at version {batches * batch}", versions)

