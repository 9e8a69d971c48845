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
from storecheck.conformance.checks import expect
from storecheck.conformance.errors import Conflict, ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.races import Race, RaceSuite, Summary
from storecheck.conformance.specs.session_history import SPEC, LegacySession, NewMessage
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory, legacy_document

pytestmark = pytest.mark.concurrency
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


def prepare(store: Any, tag: str, round_: int = 0) -> list[Race]:
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


class TestRaces(RaceSuite):
    spec = SPEC
    prepare = staticmethod(prepare)

    def own_records(self, store: Any, threads: int) -> None:
        factory = SessionFactory(seed=17)
        workspace = store.get_or_create_workspace("/atomic/threads", T0)
        for thread in range(threads):
            store.create_session(factory.session(workspace.id, id=f"own-{thread}", instances=0,
                                                 messages=0))

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        seen = len(store.list_messages(f"own-{thread}"))
        for part in ("a", "b"):
            store.append_message(f"own-{thread}", NewMessage(
                f"own-{thread}-{seen}-{part}", "user", f"round {round_}", T0))

    def read_back(self, store: Any, thread: int) -> list[str]:
        return [m.id for m in store.list_messages(f"own-{thread}")]

    def expected(self, thread: int, rounds: int) -> list[str]:
        return [f"own-{thread}-{2 * k}-{part}" for k in range((rounds + 1) // 2)
                for part in ("a", "b")]
