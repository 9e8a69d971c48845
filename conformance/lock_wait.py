"""A writer that finds the store's lock taken waits for it, up to a deadline: checked alike
for every spec (capability ``lock_wait``).

The seeds ask for a busy timeout with a jittered retry, so that concurrent writers queue
instead of failing, and for a bound on the wait, so that a writer stuck behind a lock that
is never released gets an error instead of hanging.  SQLite's busy timeout alone gives up
after one wait; the retry loop around it is what lets a writer outlast a long transaction,
and its deadline is what ends the wait.  Each check sets both through
:meth:`~storecheck.conformance.backend.LockWaitTunable.set_lock_wait`, holds the lock from
one thread with an open ``atomic()`` block, and starts writers from others only once the
lock is held (events, not sleeps, order them), so a store that gives up at its first
timeout, or never, fails every run.

Not checked: the jitter.  Two writers that retry at the same instants still both get in
eventually; a store without jitter is slower under contention, not wrong, and no outcome a
caller sees tells the two apart.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import Outcome, SpecData, expect, outcome, run_threads
from storecheck.conformance.errors import Busy

BUSY_TIMEOUT_S = 0.025
"""The engine's own wait per attempt, set for both checks: short, so that a hold passes
many of them."""
HOLD_S = 0.3
"""How long the first check's holder keeps the lock once the waiters are about to write:
twelve busy timeouts, and far inside :data:`GENEROUS_DEADLINE_S`."""
GENEROUS_DEADLINE_S = 60.0
SHORT_DEADLINE_S = 0.25
"""The second check's deadline, which its holder outlasts."""
VERDICT_SLACK_S = 10.0
"""How long past its deadline a waiter may take to give up (a loaded machine's scheduling),
after which the check releases the lock and fails: a store that waits forever is a hang."""
BLOCK_SEED, WAITER_SEED, LATER_SEED = 1, 2, 3
"""The seeds of the holder's and the waiters' writes (the first check's second holder
writes seed 4)."""


class LockWaitSuite(SpecData):
    """Every spec's lock-wait checks; a spec's ``test_concurrency`` subclasses it as
    ``TestLockWait`` with the spec's ``write`` and ``snapshot``."""

    @pytest.mark.concurrency
    @pytest.mark.requires(caps.TRANSACTIONS, caps.LOCK_WAIT)
    @pytest.mark.operation("atomic")
    def test_writers_wait_out_a_lock_held_past_their_busy_timeout(self, store: Any) -> None:
        """One thread holds a write block open for twelve busy timeouts after another thread
        is about to write: with single operations, then (behind a second hold) in an
        ``atomic()`` block.  Each waits for the lock and succeeds, and its writes are
        stored.  One writer per hold: two writers released together would race each other
        as well (a read-then-append of one stream may rightly lose with Conflict)."""
        store.set_lock_wait(BUSY_TIMEOUT_S, GENEROUS_DEADLINE_S)
        failed: dict[str, str] = {}
        for name, in_block, seed, holder_seed in (("single writes", False, WAITER_SEED, 1),
                                                  ("an atomic() block", True, LATER_SEED, 4)):
            inside, result = self._behind_a_hold(store, in_block, seed, holder_seed)
            if result.error is not None:
                failed[name] = result.describe()
            else:
                expect(self.snapshot(store) != inside, self.spec, "atomic",
                       f"the writes of the waiting {name} stored once the lock was released")
        expect(not failed, self.spec, "atomic",
               f"writers that met a lock held {HOLD_S} s ({HOLD_S / BUSY_TIMEOUT_S:.0f} busy "
               f"timeouts of {BUSY_TIMEOUT_S} s, deadline {GENEROUS_DEADLINE_S} s) to wait "
               "for it and succeed", failed)

    def _behind_a_hold(self, store: Any, in_block: bool, seed: int,
                       holder_seed: int) -> tuple[Any, Outcome]:
        """What a holder's block read before it committed, and the outcome of a write made
        from another thread once the holder has the lock, :data:`HOLD_S` before it lets go."""
        held, waiting = threading.Event(), threading.Event()
        inside: list[Any] = []
        outcomes: list[Outcome] = []

        def hold() -> None:
            with store.atomic():
                self.write(store, holder_seed)
                inside.append(self.snapshot(store))
                held.set()
                waiting.wait(timeout=VERDICT_SLACK_S)
                time.sleep(HOLD_S)

        def wait() -> None:
            held.wait(timeout=VERDICT_SLACK_S)
            waiting.set()
            outcomes.append(outcome(partial(self._write, store, in_block, seed)))

        run_threads(lambda role: hold() if role == "holder" else wait(),
                    [("holder",), ("waiter",)])
        return inside[0], outcomes[0]

    @pytest.mark.concurrency
    @pytest.mark.requires(caps.TRANSACTIONS, caps.LOCK_WAIT)
    @pytest.mark.operation("atomic")
    def test_a_writer_past_its_deadline_gets_busy_and_stores_nothing(self, store: Any) -> None:
        """One thread holds a write block open until another thread's ``atomic()`` block,
        started once the lock is held, has ended: that block raises Busy no sooner than its
        deadline (and not long after), nothing of it is stored, and the store takes the
        same write once the lock is free."""
        store.set_lock_wait(BUSY_TIMEOUT_S, SHORT_DEADLINE_S)
        held, waiter_done = threading.Event(), threading.Event()
        inside: list[Any] = []
        released_early: list[bool] = []
        waited: list[tuple[float, Outcome]] = []

        def hold() -> None:
            with store.atomic():
                self.write(store, BLOCK_SEED)
                inside.append(self.snapshot(store))
                held.set()
                released_early.append(
                    not waiter_done.wait(timeout=SHORT_DEADLINE_S + VERDICT_SLACK_S))

        def wait() -> None:
            held.wait(timeout=VERDICT_SLACK_S)
            started = time.monotonic()
            result = outcome(partial(self._write, store, True, WAITER_SEED))
            waited.append((time.monotonic() - started, result))
            waiter_done.set()

        run_threads(lambda role: hold() if role == "holder" else wait(),
                    [("holder",), ("waiter",)])
        (seconds, result), = waited
        expect(not released_early[0], self.spec, "atomic",
               f"a writer with a lock deadline of {SHORT_DEADLINE_S} s to give up within "
               f"{VERDICT_SLACK_S} s of it", f"still waiting after "
               f"{SHORT_DEADLINE_S + VERDICT_SLACK_S} s; once the lock was released it "
               f"{result.describe()}")
        expect(isinstance(result.error, Busy), self.spec, "atomic",
               f"Busy for a block whose lock stayed held past its {SHORT_DEADLINE_S} s "
               "deadline", f"{result.describe()} after {seconds:.2f} s")
        expect(seconds >= SHORT_DEADLINE_S, self.spec, "atomic",
               f"a writer to keep trying for its whole {SHORT_DEADLINE_S} s deadline "
               f"({SHORT_DEADLINE_S / BUSY_TIMEOUT_S:.0f} busy timeouts) before Busy",
               f"Busy after {seconds:.3f} s")
        expect(self.snapshot(store) == inside[0], self.spec, "atomic",
               "nothing stored of a block that got Busy: the store reads what the holder's "
               "block read before it committed")
        again = outcome(partial(self._write, store, True, WAITER_SEED))
        expect(again.error is None, self.spec, "atomic",
               "the same block to succeed once the lock is free", again.describe())

    def _write(self, store: Any, in_block: bool, seed: int) -> None:
        if not in_block:
            self.write(store, seed)
            return
        with store.atomic():
            self.write(store, seed)
