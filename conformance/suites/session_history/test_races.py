"""``concurrency``: every conditional state change raced against itself.

Each race starts the same call from many threads sharing one store, and from
worker processes with a store each: exactly one caller wins, every other gets
the spec's error, and nothing is done twice.  ``atomic()`` blocks that read
then write are run from threads sharing one store: each thread's blocks must
stay its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect
from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.races import (
    Race,
    Summary,
    every_thread_reads_its_own_writes,
    race_in_processes,
    race_in_threads,
)
from storecheck.conformance.specs.session_history import SPEC, LegacySession, NewMessage
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory, legacy_document

pytestmark = pytest.mark.concurrency
ROUNDS = 5
"""Each race is run this many times on fresh records: one round can miss the window."""
LATER = T0 + timedelta(hours=1)


@dataclass(frozen=True)
class ImportOnce(Race):
    """Every racer's import succeeds; together they import each session exactly once."""

    expected: int = 0

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        imported = sum(o[2].imported for o in outcomes if o[0] == "ok")
        expect(all(o[0] == "ok" for o in outcomes) and imported == self.expected, spec,
               self.operation, f"every one of {len(outcomes)} {racers} importing one document to "
               f"succeed, {self.expected} sessions imported in all",
               [(o[0], o[2]) for o in outcomes])


def prepare(store: Any, tag: str) -> list[Race]:
    """Records for one race each, all in ``store``; ``tag`` keeps two preparations apart."""
    factory = SessionFactory(seed=zlib.crc32(tag.encode()))
    workspace = store.get_or_create_workspace(f"/race/{tag}", T0)
    doomed_workspace = store.get_or_create_workspace(f"/race/{tag}/doomed", T0)
    store.create_session(factory.session(doomed_workspace.id, instances=1, messages=1))

    def session(**overrides: Any) -> str:
        new = factory.session(workspace.id, instances=1, messages=1, **overrides)
        return str(store.create_session(new).id)

    running, paused, doomed, parent = session(), session(status="paused"), session(), session()
    unborn = factory.session(workspace.id, id=f"unborn-{tag}")
    message = NewMessage(f"once-{tag}", "user", "said once", T0)
    document = legacy_document([
        LegacySession(f"/legacy/{tag}", factory.session(0, id=f"legacy-{tag}-{n}"), LATER)
        for n in range(2)])
    return [
        Race("complete_session", (running, "completed", LATER), Conflict,
             why="finish the running session"),
        Race("complete_session", (paused, "failed", LATER), Conflict,
             why="finish the paused session"),
        Race("delete_session", (doomed,), NotFound, why="delete the session"),
        Race("delete_workspace", (doomed_workspace.id,), NotFound, why="delete the workspace"),
        Race("create_session", (unborn,), ConstraintViolation, ConstraintKind.UNIQUE,
             why="create the session"),
        Race("append_message", (parent, message), ConstraintViolation, ConstraintKind.UNIQUE,
             why="append the message"),
        Race("add_instance", (parent, factory.instance(7)), ConstraintViolation,
             ConstraintKind.UNIQUE, why="add instance 7"),
        ImportOnce("import_legacy", (document, f"/backups/{tag}.json", LATER), Conflict,
                   expected=2),
    ]


@pytest.mark.operation("conditional changes")
def test_each_conditional_change_has_one_winner_among_threads(store: Any,
                                                              store_profile: Any) -> None:
    cases = [case for round_ in range(ROUNDS) for case in prepare(store, f"threads-{round_}")]
    race_in_threads(store, SPEC, cases, store_profile.threads * 4)


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("conditional changes")
def test_each_conditional_change_has_one_winner_among_processes(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    cases = [case for round_ in range(ROUNDS) for case in prepare(store, f"processes-{round_}")]
    race_in_processes(backend.backend, SPEC, fresh_location, cases, store_profile.processes)


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_atomic_blocks_of_threads_sharing_one_store_stay_their_own(
    store: Any, store_profile: Any
) -> None:
    """Each thread reads its session's message count and appends two messages named after
    it, in its own ``atomic()`` blocks; the odd blocks raise and must leave nothing."""
    threads, rounds = store_profile.threads * 2, 6
    factory = SessionFactory(seed=17)
    workspace = store.get_or_create_workspace("/atomic/threads", T0)
    for thread in range(threads):
        store.create_session(factory.session(workspace.id, id=f"own-{thread}", instances=0,
                                             messages=0))

    def write_round(s: Any, thread: int, round_: int) -> None:
        seen = len(s.list_messages(f"own-{thread}"))
        for part in ("a", "b"):
            s.append_message(f"own-{thread}", NewMessage(
                f"own-{thread}-{seen}-{part}", "user", f"round {round_}", T0))

    def read_back(s: Any, thread: int) -> list[str]:
        return [m.id for m in s.list_messages(f"own-{thread}")]

    def expected(thread: int, rounds: int) -> list[str]:
        return [f"own-{thread}-{2 * k}-{part}" for k in range((rounds + 1) // 2)
                for part in ("a", "b")]

    problems = every_thread_reads_its_own_writes(store, rounds, threads, write_round, read_back,
                                                 expected)
    expect(not problems, SPEC, "atomic", "every thread's committed blocks kept and its rolled "
           "back blocks gone, whatever the other threads did", problems[:3])
