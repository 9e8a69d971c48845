"""``concurrency``: every conditional change raced against itself, and the additions and
deduplication that must hold when racers arrive together.

Completing a session and creating one under a taken id have one winner; saving
the same content from every racer stores it once and hands every racer the same
block; adding progress from every racer loses no addition.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance.checks import expect
from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation
from storecheck.conformance.races import Race, RaceSuite, Summary
from storecheck.conformance.specs.extraction import SPEC, NewProcessSession
from storecheck.fixtures.extraction import T0, ExtractionFactory

pytestmark = pytest.mark.concurrency
LATER = T0 + timedelta(seconds=5)


@dataclass(frozen=True)
class OneStoredBlock(Race):
    """Every racer's save succeeds and returns the same stored block; one created it."""

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        saved = [o[2] for o in outcomes if o[0] == "ok"]
        ids = {s.block.id for s in saved}
        created = sum(1 for s in saved if s.created)
        expect(len(saved) == len(outcomes) and len(ids) == 1 and created == 1, spec,
               self.operation, f"all {len(outcomes)} {racers} to get the one stored block, "
               "exactly one of them as its creator",
               f"{len(saved)} succeeded, block ids {sorted(ids)}, {created} created; "
               f"errors {sorted({o[0] for o in outcomes if o[0] != 'ok'})}")


@dataclass(frozen=True)
class EveryAdditionCounted(Race):
    """Every racer adds (1, 2, 3); each gets back the totals after its own addition."""

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        lines = sorted(o[2].total_lines_processed for o in outcomes if o[0] == "ok")
        wanted = list(range(1, len(outcomes) + 1))
        expect(lines == wanted, spec, self.operation,
               f"the {len(outcomes)} {racers}' additions each counted once: running totals "
               f"{wanted}", lines or sorted(o[0] for o in outcomes))


def prepare(store: Any, tag: str, round_: int = 0) -> list[Race]:
    factory = ExtractionFactory(seed=zlib.crc32(tag.encode()))
    for name in ("completed", "counted"):
        store.create_session(NewProcessSession("codex", f"{name}-{tag}", T0))
    block = factory.code_block("codex", f"completed-{tag}", content=f"raced block {tag}")
    return [
        Race("complete_session", (f"completed-{tag}", 0, LATER), Conflict,
             why="complete the session"),
        Race("create_session", (NewProcessSession("codex", f"unborn-{tag}", T0),),
             ConstraintViolation, ConstraintKind.UNIQUE, why="create the session"),
        OneStoredBlock("save_code_block", (block,), Conflict),
        EveryAdditionCounted("record_progress", (f"counted-{tag}", 1, 2, 3), Conflict),
    ]


class TestRaces(RaceSuite):
    spec = SPEC
    prepare = staticmethod(prepare)

    def own_records(self, store: Any, threads: int) -> None:
        for thread in range(threads):
            store.create_session(NewProcessSession("codex", f"own-{thread}", T0))

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        factory = ExtractionFactory(seed=thread)
        seen = len(store.events_by_session(f"own-{thread}"))
        for part in ("a", "b"):
            store.save_event(factory.event("codex", f"own-{thread}", timestamp=T0,
                                           matched_value=f"{seen}-{part}"))

    def read_back(self, store: Any, thread: int) -> list[str]:
        return [e.matched_value for e in store.events_by_session(f"own-{thread}")]

    def expected(self, thread: int, rounds: int) -> list[str]:
        return [f"{2 * k}-{part}" for k in range((rounds + 1) // 2) for part in ("a", "b")]
