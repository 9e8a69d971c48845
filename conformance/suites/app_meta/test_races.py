"""``concurrency``: every conditional change raced against itself.

Appending at one expected version, moving a run out of ``pending``, saving a
snapshot at one version and creating a knowledge base under a taken id each
have exactly one winner; every other racer gets the spec's error and writes
nothing.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation
from storecheck.conformance.races import Race, RaceSuite
from storecheck.conformance.specs.app_meta import (
    SPEC,
    NewEvent,
    NewKnowledgeBase,
    NewPipeline,
    NewRun,
)
from storecheck.fixtures.app_meta import T0

pytestmark = pytest.mark.concurrency
LATER = T0 + timedelta(seconds=5)
_calls = itertools.count()


@dataclass(frozen=True)
class AppendAtVersion(Race):
    """Every racer appends two events of its own (fresh event ids) at the same expected
    version: one stream grows by two, every other racer gets Conflict."""

    def call(self, store: Any) -> Any:
        aggregate_id, expected = self.args
        own = f"{os.getpid()}-{threading.get_ident()}-{next(_calls)}"
        return store.append_events(aggregate_id, "Raced", expected, [
            NewEvent(f"{own}-{n}", "Raced", f'{{"racer": "{own}"}}', T0) for n in range(2)])


def prepare(store: Any, tag: str, round_: int = 0) -> list[Race]:
    store.create_pipeline(NewPipeline(f"p-{tag}", f"pipeline {tag}", "{}", T0))
    store.create_run(NewRun(f"r-{tag}", f"p-{tag}"))
    store.append_events(f"a-{tag}", "Raced", 0, [NewEvent(f"first-{tag}", "Created", "{}", T0)])
    return [
        AppendAtVersion("append_events", (f"a-{tag}", 1), Conflict,
                        why="append at version 1"),
        AppendAtVersion("append_events", (f"new-{tag}", 0), Conflict,
                        why="start the stream"),
        Race("transition_run", (f"r-{tag}", "running", LATER), Conflict,
             why="start the run"),
        Race("save_snapshot", (f"a-{tag}", 1, '{"n": 1}', LATER), Conflict,
             why="save the snapshot at version 1"),
        Race("create_knowledge_base", (NewKnowledgeBase(f"kb-{tag}", f"kb {tag}", "mini", T0),),
             ConstraintViolation, ConstraintKind.UNIQUE, why="create the knowledge base"),
    ]


class TestRaces(RaceSuite):
    spec = SPEC
    prepare = staticmethod(prepare)

    def own_records(self, store: Any, threads: int) -> None:
        for thread in range(threads):
            store.create_pipeline(NewPipeline(f"own-{thread}", f"own {thread}", "{}", T0))

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        """A run of the thread's pipeline and two events naming how many it saw: the
        application's tables and the event store in one block."""
        seen = store.aggregate_version(f"own-{thread}")
        store.create_run(NewRun(f"own-{thread}-{round_}", f"own-{thread}"))
        store.append_events(f"own-{thread}", "Own", seen, [
            NewEvent(f"own-{thread}-{round_}-{part}", "Wrote", f'{{"seen": {seen}}}', T0)
            for part in ("a", "b")])

    def read_back(self, store: Any, thread: int) -> Any:
        return ([run.id for run in store.list_runs(f"own-{thread}")],
                [e.event_id for e in store.read_events(f"own-{thread}")])

    def expected(self, thread: int, rounds: int) -> Any:
        kept = range(0, rounds, 2)
        return (sorted(f"own-{thread}-{r}" for r in kept),
                [f"own-{thread}-{r}-{part}" for r in kept for part in ("a", "b")])
