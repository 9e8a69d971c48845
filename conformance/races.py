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
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from storecheck.conformance.checks import Outcome, expect, outcome, run_threads
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, StoreError

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


RACE_SWITCH_INTERVAL_S = 1e-5


@contextmanager
def fast_switching() -> Iterator[None]:
    """Python threads take turns every 5 ms by default, long enough for one caller to
    finish a whole check-then-act before the next starts; switching often makes the
    callers interleave inside the operation, as they would on separate cores."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(RACE_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def race_in_threads(store: Any, spec: str, cases: Sequence[Race], racers: int) -> None:
    """Each case raced by ``racers`` threads sharing ``store``, one case after another.

    The same threads race every case (a store may keep a connection per thread),
    meeting at a barrier before each.
    """
    barrier = threading.Barrier(racers, timeout=120)
    results: list[list[Summary]] = [[] for _ in range(racers)]

    def run(racer: int) -> None:
        try:
            for case in cases:
                barrier.wait()
                results[racer].append(summary(outcome(partial(case.call, store))))
        except BaseException:
            barrier.abort()
            raise

    with fast_switching():
        run_threads(run, [(racer,) for racer in range(racers)])
    for index, case in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in results], "threads sharing one store")


def race_in_processes(backend: Any, spec: str, location: str, cases: Sequence[Race],
                      racers: int, timeout: float = 240.0) -> None:
    """Each case raced by ``racers`` worker processes, each with its own store on ``location``.

    Workers are spawned once; before every case they meet at a barrier, so the
    racing calls start together however long spawning and opening took.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(racers, timeout=timeout)
    with context.Pool(processes=racers, initializer=_keep_barrier, initargs=(barrier,)) as pool:
        calls = [(case.operation, case.args, case.kwargs) for case in cases]
        pending = [pool.apply_async(_race_worker, (backend, spec, location, calls))
                   for _ in range(racers)]
        per_worker = [job.get(timeout=timeout) for job in pending]
    for index, case in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in per_worker], "worker processes")


_barrier: Any = None


def _keep_barrier(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _race_worker(backend: Any, spec: str, location: str,
                 calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Summary]:
    store = backend.open(spec, location)
    try:
        results = []
        for operation, args, kwargs in calls:
            _barrier.wait()
            results.append(summary(outcome(partial(getattr(store, operation), *args, **kwargs))))
        return results
    finally:
        store.close()


def every_thread_reads_its_own_writes(store: Any, rounds: int, threads: int,
                                      write_round: Callable[[Any, int, int], None],
                                      read_back: Callable[[Any, int], Any],
                                      expected: Callable[[int, int], Any]) -> list[str]:
    """Threads sharing ``store`` each run ``rounds`` ``atomic()`` blocks that read then write
    their own records; odd rounds raise after writing and must leave nothing.

    A store whose transaction bookkeeping (nesting depth, the open transaction, the
    connection) is shared between threads mixes the blocks up: one thread's rollback
    takes another's writes, or a block commits half.  Returns what differs.
    """
    class Abort(Exception):
        pass

    problems: list[str] = []
    lock = threading.Lock()

    def run(thread: int) -> None:
        for round_ in range(rounds):
            try:
                with store.atomic():
                    write_round(store, thread, round_)
                    if round_ % 2:
                        raise Abort
            except Abort:
                pass
        got, wanted = read_back(store, thread), expected(thread, rounds)
        if got != wanted:
            with lock:
                problems.append(f"thread {thread}: {got!r} where its own blocks leave {wanted!r}")

    run_threads(run, [(t,) for t in range(threads)])
    return problems
