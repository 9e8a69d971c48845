"""Racing one operation against itself: the same call from many threads or processes at once.

Every operation that changes state conditionally (finish a session, complete a
job, delete a record, create under a unique key, get-or-create, import once) is
a check-then-act, and a check-then-act that is not atomic lets two callers both
win.  A :class:`Race` names the call and what the spec says the losers get; the
runners release every caller together (a barrier for threads, a barrier across
processes for multi-process backends) and report each caller's outcome.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    Outcome,
    SpinStart,
    expect,
    fast_switching,
    outcome,
    run_threads,
)
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, StoreError
from storecheck.conformance.isolation import retrying_busy

Summary = tuple[str, "str | None", Any]
"""A picklable outcome: ("ok", None, value) or (error class name, constraint kind, None)."""


@dataclass(frozen=True)
class Race:
    """``operation(*args, **kwargs)`` called by every racer; exactly one may succeed.

    Subclasses judge other rules (every caller succeeds, one claims the job, ...).
    """

    operation: str
    args: tuple[Any, ...]
    losers: type[StoreError]
    """The error every other racer gets."""
    loser_kind: ConstraintKind | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    """What the winner does, for the failure message."""

    def call(self, store: Any) -> Any:
        return getattr(store, self.operation)(*self.args, **self.kwargs)

    def judge(self, spec: str, outcomes: Sequence[Summary], racers: str) -> None:
        """Exactly one racer succeeded; every other raised the spec's loser error."""
        wanted = (self.losers.__name__, None if self.loser_kind is None else self.loser_kind.value)
        won = [o for o in outcomes if o[0] == "ok"]
        lost = [o for o in outcomes if o[:2] == wanted]
        loser = self.losers.__name__ + (f"({self.loser_kind.value})" if self.loser_kind else "")
        expect(len(won) == 1 and len(won) + len(lost) == len(outcomes), spec, self.operation,
               f"exactly one of {len(outcomes)} {racers} to {self.why or 'succeed'}, every other "
               f"to get {loser}", sorted(outcome[:2] for outcome in outcomes))


def summary(result: Outcome) -> Summary:
    if result.error is None:
        return ("ok", None, result.value)
    kind = result.error.kind.value if isinstance(result.error, ConstraintViolation) else None
    return (type(result.error).__name__, kind, None)


def race_in_threads(store: Any, spec: str, cases: Sequence[Race], racers: int) -> None:
    """Each case raced by ``racers`` threads sharing ``store``, one case after another.

    The same threads race every case (a store may keep a connection per thread),
    meeting at a barrier before each.
    """
    start = SpinStart(racers)
    results: list[list[Summary]] = [[] for _ in range(racers)]

    def run(racer: int) -> None:
        try:
            for index, case in enumerate(cases):
                start.wait(index)
                results[racer].append(summary(outcome(partial(case.call, store))))
        except BaseException:
            start.abort()
            raise

    with fast_switching():
        run_threads(run, [(racer,) for racer in range(racers)])
    for index, case in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in results], "threads sharing one store")


def race_in_processes(backend: Any, spec: str, location: str, cases: Sequence[Race],
                      racers: int, timeout: float = 240.0) -> None:
    """Each case raced by ``racers`` worker processes, each with its own store on ``location``.

    Workers are spawned once; before every case they meet (:class:`SpinStart`), so the
    racing calls start together however long spawning and opening took.
    """
    context = multiprocessing.get_context("spawn")
    start = SpinStart(racers, context, timeout)
    with context.Pool(processes=racers, initializer=_keep_start, initargs=(start,)) as pool:
        pending = [pool.apply_async(_race_worker, (backend, spec, location, list(cases)))
                   for _ in range(racers)]
        per_worker = [job.get(timeout=timeout) for job in pending]
    for index, case in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in per_worker], "worker processes")


_start: Any = None


def _keep_start(start: SpinStart) -> None:
    global _start
    _start = start


def _race_worker(backend: Any, spec: str, location: str, cases: list[Race]) -> list[Summary]:
    store = backend.open(spec, location)
    try:
        results = []
        for index, case in enumerate(cases):
            _start.wait(index)
            results.append(summary(outcome(partial(case.call, store))))
        return results
    finally:
        store.close()


class RaceSuite:
    """Every spec's race checks; a suite module subclasses it as ``TestRaces``.

    The subclass sets ``spec`` and implements :meth:`prepare` (the records for one round
    of races, and the races) and the three steps of the shared-store ``atomic()`` check:
    :meth:`own_records`, :meth:`write_round` and :meth:`read_back` with
    :meth:`expected`.
    """

    spec: ClassVar[str]
    rounds: ClassVar[int] = 16
    """Each race is run this many times on fresh records: one round can miss the window.
    (Five rounds let a check-then-act ``end_session`` escape once in a loaded CI run: every
    round's racers ran one after another.  With every racer running at the start
    (:class:`SpinStart`), eight rounds of threads still missed it in one run of five beside
    four CPU-burning processes; a round costs milliseconds.)"""
    atomic_rounds: ClassVar[int] = 6

    def prepare(self, store: Any, tag: str, round_: int) -> list[Race]:
        raise NotImplementedError

    def own_records(self, store: Any, threads: int) -> None:
        raise NotImplementedError

    def write_round(self, store: Any, thread: int, round_: int) -> None:
        """Inside one ``atomic()`` block: read the thread's own records, then write some."""
        raise NotImplementedError

    def read_back(self, store: Any, thread: int) -> Any:
        raise NotImplementedError

    def expected(self, thread: int, rounds: int) -> Any:
        """What :meth:`read_back` finds when only the even rounds' blocks committed."""
        raise NotImplementedError

    def cases(self, store: Any, tag: str) -> list[Race]:
        return [case for round_ in range(self.rounds)
                for case in self.prepare(store, f"{tag}-{round_}", round_)]

    @pytest.mark.operation("conditional changes")
    def test_each_conditional_change_has_one_winner_among_threads(
        self, store: Any, store_profile: Any
    ) -> None:
        race_in_threads(store, self.spec, self.cases(store, "threads"), store_profile.threads * 4)

    @pytest.mark.requires(caps.MULTI_PROCESS)
    @pytest.mark.operation("conditional changes")
    def test_each_conditional_change_has_one_winner_among_processes(
        self, backend: Any, fresh_location: str, open_store: Any, store_profile: Any
    ) -> None:
        store = open_store()
        race_in_processes(backend.backend, self.spec, fresh_location,
                          self.cases(store, "processes"), store_profile.processes)

    @pytest.mark.requires(caps.TRANSACTIONS)
    @pytest.mark.operation("atomic")
    def test_atomic_blocks_of_threads_sharing_one_store_stay_their_own(
        self, store: Any, store_profile: Any
    ) -> None:
        """Threads sharing one store each run ``atomic()`` blocks that read then write their
        own records; odd rounds raise after writing and must leave nothing.  A block that
        fails with Busy is run again, as the contract lets a store ask (a serializable store
        may abort blocks that merely look dependent).

        A store whose transaction bookkeeping (nesting depth, the open transaction, the
        connection) is shared between threads mixes the blocks up: one thread's rollback
        takes another's writes, or a block commits half.
        """
        threads = store_profile.threads * 2
        self.own_records(store, threads)

        class Abort(Exception):
            pass

        problems: list[str] = []
        lock = threading.Lock()

        def block(thread: int, round_: int) -> None:
            try:
                with store.atomic():
                    self.write_round(store, thread, round_)
                    if round_ % 2:
                        raise Abort
            except Abort:
                pass

        def run(thread: int) -> None:
            for round_ in range(self.atomic_rounds):
                retrying_busy(partial(block, thread, round_))
            got, wanted = self.read_back(store, thread), self.expected(thread, self.atomic_rounds)
            if got != wanted:
                with lock:
                    problems.append(f"thread {thread}: {got!r} where its own blocks leave {wanted!r}")

        run_threads(run, [(t,) for t in range(threads)])
        expect(not problems, self.spec, "atomic", "every thread's committed blocks kept and its "
               "rolled-back blocks gone, whatever the other threads did", problems[:3])
