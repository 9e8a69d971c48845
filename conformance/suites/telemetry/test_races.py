"""``concurrency``: every conditional change raced against itself, and the A/B counts that
must add up when racers arrive together.

Ending a session, completing a run, finalizing a test and creating a session, query or
test under a taken id have one winner; recording a result from every racer loses none.
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
from storecheck.conformance.specs.telemetry import SPEC, NewABTest, TrainingMetrics
from storecheck.fixtures.telemetry import T0, TelemetryFactory

pytestmark = pytest.mark.concurrency
LATER = T0 + timedelta(seconds=5)


@dataclass(frozen=True)
class EveryResultCounted(Race):
    """Every racer records a success; each gets back the counts after its own result."""

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        trials = sorted(o[2].trials for o in outcomes if o[0] == "ok")
        successes = sorted(o[2].successes for o in outcomes if o[0] == "ok")
        wanted = list(range(1, len(outcomes) + 1))
        expect(trials == successes == wanted, spec, self.operation,
               f"the {len(outcomes)} {racers}' results each counted once: counts {wanted}",
               trials or sorted(o[0] for o in outcomes))


def prepare(store: Any, tag: str, round_: int = 0) -> list[Race]:
    factory = TelemetryFactory(seed=zlib.crc32(tag.encode()))
    store.create_session(factory.session(id=f"ended-{tag}", started_at=T0))
    store.insert_training_run(factory.run(id=f"run-{tag}", started_at=T0))
    for name in ("final", "counted"):
        store.create_ab_test(NewABTest(f"{name}-{tag}", "colour", ("a", "b"), T0))
    return [
        Race("end_session", (f"ended-{tag}", LATER), Conflict, why="end the session"),
        Race("update_training_run_results", (f"run-{tag}", TrainingMetrics(
            "completed", LATER, 0.9, 0.1, 0.8, 100)), Conflict, why="complete the run"),
        Race("finalize_ab_test", (f"final-{tag}", "b", 0.95, LATER), Conflict,
             why="finalize the test"),
        Race("create_session", (factory.session(id=f"unborn-{tag}"),), ConstraintViolation,
             ConstraintKind.UNIQUE, why="create the session"),
        Race("record_query", (factory.query(f"ended-{tag}", id=f"q-{tag}"),),
             ConstraintViolation, ConstraintKind.UNIQUE, why="record the query"),
        Race("create_ab_test", (NewABTest(f"new-{tag}", "size", ("x", "y"), T0),),
             ConstraintViolation, ConstraintKind.UNIQUE, why="create the test"),
        EveryResultCounted("record_ab_result", (f"counted-{tag}", "b", True), Conflict),
    ]


class TestRaces(RaceSuite):
    spec = SPEC
    prepare = staticmethod(prepare)

    def own_records(self, store: Any, threads: int) -> None:
        factory = TelemetryFactory()
        for thread in range(threads):
            store.create_session(factory.session(id=f"own-{thread}"))

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        factory = TelemetryFactory(seed=thread)
        seen = len(store.session_activity(f"own-{thread}").queries)
        for part in ("a", "b"):
            store.record_query(factory.query(f"own-{thread}", id=f"own-{thread}-{seen:04d}-{part}",
                                             timestamp=T0))

    def read_back(self, store: Any, thread: int) -> list[str]:
        return [q.id for q in store.session_activity(f"own-{thread}").queries]

    def expected(self, thread: int, rounds: int) -> list[str]:
        return [f"own-{thread}-{2 * k:04d}-{part}" for k in range((rounds + 1) // 2)
                for part in ("a", "b")]
