"""Nested ``atomic()`` blocks, checked alike for every spec: an inner block is a savepoint.

The contract (:class:`~storecheck.conformance.backend.Transactional`) says an
exception leaving an inner block undoes that block only, and the seeds of telemetry
and app_meta ask for savepoints by name.  A store whose nested block is no savepoint
fails one of two ways: the inner block's rollback takes the outer block's writes with
it, or nothing is rolled back until the outermost block ends (and then everything is).
Each check compares what the spec reads back (``snapshot``) inside and after the blocks,
on one store, so generated keys a rollback consumes (a PostgreSQL sequence) do not
matter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import SpecData, expect, run_threads
from storecheck.conformance.isolation import retrying_busy

HOLD_S = 0.1
"""How long the first thread's outer block stays open once the others are about to open
theirs: far longer than a call into the store takes to reach its lock."""
JOIN_TIMEOUT_S = 30.0


class _Abort(Exception):
    """Raised inside a block to roll it back."""


class NestingSuite(SpecData):
    """Every spec's nested-block checks; a spec's ``test_acid`` subclasses it as
    ``TestNesting`` with the spec's ``write`` and ``snapshot``."""

    @pytest.mark.acid
    @pytest.mark.requires(caps.TRANSACTIONS)
    @pytest.mark.operation("atomic")
    def test_a_nested_block_that_raises_rolls_back_alone(self, store: Any) -> None:
        """Outer block: a write; an inner block: a write, then an exception; the outer
        block: another write, and it commits.  After the inner block the outer block reads
        its own write and nothing of the inner one; after the commit the store reads what
        the outer block read last."""
        with store.atomic():
            self.write(store, 1)
            outer = self.snapshot(store)
            try:
                with store.atomic():
                    self.write(store, 2)
                    expect(self.snapshot(store) != outer, self.spec, "atomic",
                           "the inner block to read its own write")
                    raise _Abort
            except _Abort:
                pass
            expect(self.snapshot(store) == outer, self.spec, "atomic",
                   "the outer block, after its inner block raised, to read its own write "
                   "and nothing of the inner block's")
            self.write(store, 3)
            last = self.snapshot(store)
        expect(self.snapshot(store) == last, self.spec, "atomic",
               "the outer block committed whole once it ended: its two writes, not the "
               "rolled-back inner block's")

    @pytest.mark.acid
    @pytest.mark.requires(caps.TRANSACTIONS)
    @pytest.mark.operation("atomic")
    def test_nested_blocks_in_several_threads_each_roll_back_alone(self, store: Any) -> None:
        """The first check's blocks in three threads, each with writes of its own, the
        second and third opening theirs while the first's outer block is open (it waits,
        after its first write, until they are about to): every thread's inner block, and
        only that, is rolled back, as its outer block reads it.  A store keeping one
        nesting depth or one connection for all threads takes one thread's block for the
        inner block of another's.  A block that gets Busy is run again, as the contract
        lets a store ask."""
        found: dict[int, list[str]] = {}
        opening = threading.Semaphore(0)
        joiners = 2

        held: list[bool] = []

        def first_block_open() -> None:
            if held:  # a block run again after Busy: the others have opened theirs
                return
            held.append(True)
            for _ in range(joiners):
                opening.acquire(timeout=JOIN_TIMEOUT_S)
            time.sleep(HOLD_S)

        def nest(thread: int) -> None:
            if thread:
                opening.release()
            hold = first_block_open if thread == 0 else None
            found[thread] = retrying_busy(partial(self._nest_once, store, 10 * (thread + 1), hold))

        run_threads(nest, [(thread,) for thread in range(1 + joiners)])
        wrong = {f"thread {thread}": problems for thread, problems in found.items() if problems}
        expect(not wrong, self.spec, "atomic",
               "each thread's outer block to read its own writes and nothing of its own "
               "rolled-back inner block", wrong)

    def _nest_once(self, store: Any, seed: int, hold: Callable[[], None] | None) -> list[str]:
        problems = []
        with store.atomic():
            self.write(store, seed + 1)
            if hold is not None:
                hold()
            outer = self.snapshot(store)
            try:
                with store.atomic():
                    self.write(store, seed + 2)
                    if self.snapshot(store) == outer:
                        problems.append("the inner block did not read its own write")
                    raise _Abort
            except _Abort:
                pass
            if self.snapshot(store) != outer:
                problems.append("after its inner block raised, the outer block did not read "
                                "what it read before the inner block began")
        return problems

    @pytest.mark.acid
    @pytest.mark.requires(caps.TRANSACTIONS)
    @pytest.mark.operation("atomic")
    def test_an_outer_block_that_raises_takes_its_finished_inner_blocks(self, store: Any) -> None:
        """Two inner blocks, one inside the other, each ended normally, then the outer block
        raises: nothing of any of them is stored (an inner block that committed on its own
        would survive)."""
        self.write(store, 1)
        before = self.snapshot(store)
        try:
            with store.atomic():
                self.write(store, 2)
                with store.atomic():
                    self.write(store, 3)
                    with store.atomic():
                        self.write(store, 4)
                raise _Abort
        except _Abort:
            pass
        expect(self.snapshot(store) == before, self.spec, "atomic",
               "nothing of an outer block that raised, its finished inner blocks included")
