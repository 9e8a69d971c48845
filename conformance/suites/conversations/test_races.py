"""``concurrency``: every conditional state change raced against itself.

Each race starts the same call from many threads sharing one store, and from
worker processes with a store each: exactly one caller wins, every other gets
the spec's error.  Claiming the last ready job hands it to exactly one worker.
``atomic()`` blocks that read then write are run from threads sharing one
store: each thread's blocks must stay its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance.checks import expect
from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.races import Race, RaceSuite, Summary
from storecheck.conformance.specs.conversations import SPEC, NewJob
from storecheck.fixtures.conversations import T0, ConversationFactory

pytestmark = pytest.mark.concurrency
LATER = T0 + timedelta(seconds=5)


@dataclass(frozen=True)
class OneClaim(Race):
    """Every racer's dequeue succeeds; exactly one of them gets the one ready job."""

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        jobs = [o[2] for o in outcomes if o[0] == "ok" and o[2] is not None]
        expect(all(o[0] == "ok" for o in outcomes) and len(jobs) == 1, spec, self.operation,
               f"exactly one of {len(outcomes)} {racers} to claim the one ready job, the others "
               "to get None", [(o[0], o[2]) for o in outcomes])


def prepare(store: Any, tag: str, round_: int = 0) -> list[Race]:
    """Records for one race each, all in ``store``; ``tag`` keeps two preparations apart."""
    factory = ConversationFactory(seed=zlib.crc32(tag.encode()))
    for name in ("doomed", "erased", "parent"):
        store.create_conversation(f"{name}-{tag}", name, {}, T0)
    upload = store.create_upload(f"parent-{tag}", factory.upload(), T0)
    learning = store.create_learning("tips", "raced learning", ["x"], 0.5, T0)

    def leased_job(worker: str) -> int:
        # Each job outranks every earlier one, so the dequeue right after claims it; one
        # attempt only, so a failed job goes dead instead of coming back in a later round.
        store.enqueue(NewJob("race", priority=10 + len(leased), max_attempts=1), T0)
        job = store.dequeue(worker, T0, 3600.0)
        assert job is not None
        leased.append(job.id)
        return int(job.id)

    leased: list[int] = []
    completed, failed, mixed = leased_job("w1"), leased_job("w2"), leased_job("w3")
    # Ready only from this round's instant on, so each round's claim race has one job.
    claim_at = LATER + timedelta(seconds=round_)
    store.enqueue(NewJob("last", priority=100, run_after=claim_at), T0)
    return [
        Race("complete_job", (completed, "w1", LATER), Conflict, why="complete the leased job"),
        Race("fail_job", (failed, "w2", "boom", LATER), Conflict, why="fail the leased job"),
        Race("complete_job", (mixed, "w3", LATER), Conflict, why="complete the leased job"),
        Race("create_conversation", (f"unborn-{tag}", "t", {}, T0), ConstraintViolation,
             ConstraintKind.UNIQUE, why="create the conversation"),
        Race("delete_conversation", (f"doomed-{tag}",), NotFound, why="delete the conversation"),
        Race("right_to_delete", (f"erased-{tag}",), NotFound, why="erase the conversation"),
        Race("delete_upload", (upload.id,), NotFound, why="delete the upload"),
        Race("delete_learning", (learning.id,), NotFound, why="delete the learning"),
        OneClaim("dequeue", ("claimer", claim_at, 60.0), Conflict),
    ]


class TestRaces(RaceSuite):
    spec = SPEC
    prepare = staticmethod(prepare)

    def own_records(self, store: Any, threads: int) -> None:
        for thread in range(threads):
            store.create_conversation(f"own-{thread}", "own", {}, T0)

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        seen = store.count_messages(f"own-{thread}")
        for part in ("a", "b"):
            store.add_message(f"own-{thread}", "user", f"{seen}-{part}", T0)

    def read_back(self, store: Any, thread: int) -> list[str]:
        return [m.content for m in store.list_messages(f"own-{thread}")]

    def expected(self, thread: int, rounds: int) -> list[str]:
        return [f"{2 * k}-{part}" for k in range((rounds + 1) // 2) for part in ("a", "b")]
