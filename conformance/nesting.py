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

from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import SpecData, expect


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
