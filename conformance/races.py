"""Racing one operation against itself: the same call from many threads or processes at once.

Every operation that changes state conditionally (finish a session, complete a
job, delete a record, create under a unique key, get-or-create, import once) is
a check-then-act, and a check-then-act that is not atomic lets two callers both
win.  A :class:`Race` names the call and what the spec says the losers get; the
runners release every caller together (:class:`SpinStart`, across processes for
multi-process backends) and report each caller's outcome.  Where the store has
transactions, the first round starts while another store on the same location holds a
write open (:class:`HeldWrite`), so a check and an act in separate transactions are split
by a schedule, not by the machine's luck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
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
    worker_pool,
    worker_processes,
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


HOLD_S = 0.05
"""How long a held write transaction stays open after the racers are released: far longer
than a racer needs to make its first read, far shorter than any busy timeout."""


@dataclass(frozen=True)
class HeldWrite:
    """A write transaction that ``store`` (another store on the racers' location) keeps open
    while the racers of a held case start, closing it :data:`HOLD_S` later.

    On a store that lets one writer in at a time this turns luck into a schedule: every
    racer makes its reads on the committed state, then queues for the write lock, so a
    check-then-act that reads in one transaction and writes in another has every racer act
    on the same stale check, however the machine schedules them.  A correct store queues
    the racers at the start of their one transaction and lets one win.  On a store whose
    writers do not exclude each other (row locks) the hold changes nothing, and the free
    rounds alone give the racers their chance.
    """

    store: Any
    write: Callable[[Any, int], None]
    """``write(store, n)``, inside ``store.atomic()``: any write that takes the lock; ``n``
    counts the holds from 0."""

    def hold(self, start: SpinStart, cases: Sequence[tuple[Race, bool]]) -> None:
        """Take part in every case's start, holding the write across a held one's: taken
        only once every racer has finished the case before (:meth:`SpinStart.meet`)."""
        holds = 0
        for index, (_, held) in enumerate(cases):
            if not held:
                start.wait(index)
                continue
            start.meet()
            with self.store.atomic():
                self.write(self.store, holds)
                holds += 1
                start.wait(index)
                time.sleep(HOLD_S)


def race_calls(store: Any, start: SpinStart, cases: Sequence[tuple[Race, bool]]) -> list[Summary]:
    """One racer's part: each case's call from its common start, first meeting the holder
    before a held case so that no call of the case before runs under its lock.  A call
    that fails with Busy is made again, as the contract tells a caller to."""
    results = []
    for index, (case, held) in enumerate(cases):
        if held:
            start.meet()
        start.wait(index)
        results.append(summary(outcome(partial(retrying_busy, partial(case.call, store)))))
    return results


def race_in_threads(store: Any, spec: str, cases: Sequence[tuple[Race, bool]], racers: int,
                    holder: HeldWrite | None = None) -> None:
    """Each case raced by ``racers`` threads sharing ``store``, one case after another, a
    held case (``True`` beside it) starting under ``holder``'s write.

    The same threads race every case (a store may keep a connection per thread),
    meeting before each.
    """
    start = SpinStart(racers + (holder is not None))
    results: list[list[Summary]] = [[] for _ in range(racers)]

    def run(racer: int) -> None:
        try:
            if racer == racers:
                assert holder is not None
                holder.hold(start, cases)
            else:
                results[racer] = race_calls(store, start, cases)
        except BaseException:
            start.abort()
            raise

    with fast_switching():
        run_threads(run, [(racer,) for racer in range(racers + (holder is not None))])
    for index, (case, _) in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in results], "threads sharing one store")


def race_in_processes(backend: Any, spec: str, location: str, cases: Sequence[tuple[Race, bool]],
                      racers: int, holder: HeldWrite | None = None,
                      timeout: float = 240.0) -> None:
    """Each case raced by ``racers`` worker processes, each with its own store on ``location``,
    a held case starting under ``holder``'s write (made from this process).

    Workers are spawned once; before every case they meet (:class:`SpinStart`),
    so the racing calls start together however long spawning and opening took.
    """
    context = worker_processes()
    start = SpinStart(racers + (holder is not None), context, timeout)
    with worker_pool(racers, _keep_start, (start,)) as pool:
        pending = [pool.apply_async(_race_worker, (backend, spec, location, list(cases)))
                   for _ in range(racers)]
        try:
            if holder is not None:
                holder.hold(start, cases)
        except BaseException:
            start.abort()
            raise
        per_worker = [job.get(timeout=timeout) for job in pending]
    for index, (case, _) in enumerate(cases):
        case.judge(spec, [outcomes[index] for outcomes in per_worker], "worker processes")


_start: Any = None


def _keep_start(start: SpinStart) -> None:
    global _start
    _start = start


def _race_worker(backend: Any, spec: str, location: str,
                 cases: list[tuple[Race, bool]]) -> list[Summary]:
    store = backend.open(spec, location)
    try:
        return race_calls(store, _start, cases)
    except BaseException:
        _start.abort()
        raise
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
    four CPU-burning processes, and sixteen in one CI run; a round costs milliseconds.)"""
    held_rounds: ClassVar[int] = 1
    """The first this many rounds start, on a store with transactions, under a held write
    (:class:`HeldWrite`): rounds that do not depend on luck.  One caught a check-then-act
    ``end_session`` in five runs of five beside four CPU-burning processes, from threads
    and from processes alike; each costs about a tenth of a second a race (the queued racers
    take the lock one by one)."""
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

    def cases(self, store: Any, tag: str, holding: bool) -> list[tuple[Race, bool]]:
        """Every round's races, each with whether it starts under a held write."""
        return [(case, holding and round_ < self.held_rounds)
                for round_ in range(self.rounds)
                for case in self.prepare(store, f"{tag}-{round_}", round_)]

    def holder(self, backend: Any, open_holder: Callable[[], Any]) -> HeldWrite | None:
        """The held write, made with the :meth:`write_round` of a record of its own on the
        store ``open_holder()`` gives (on the racers' location).  None for a store without transactions,
        and for one whose second store on a location need not see the first: only a
        ``multi_process`` backend promises that, or an ``in_process`` one, whose two stores
        live in this process (a served store without ``multi_process`` is one process per
        store, each free to keep its own copy of the location)."""
        if (caps.TRANSACTIONS not in backend.capabilities
                or not {caps.MULTI_PROCESS, caps.IN_PROCESS} & backend.capabilities):
            return None
        store = open_holder()
        self.own_records(store, 1)
        return HeldWrite(store, lambda holding, holds: self.write_round(holding, 0, holds))

    @pytest.mark.operation("conditional changes")
    def test_each_conditional_change_has_one_winner_among_threads(
        self, backend: Any, store: Any, open_store: Any, store_profile: Any
    ) -> None:
        """Threads sharing one store race each conditional change: at a common start, and
        every few rounds under a write another store on the location holds (the start then
        does not depend on how the machine schedules the threads)."""
        holder = self.holder(backend, open_store)
        race_in_threads(store, self.spec, self.cases(store, "threads", holder is not None),
                        store_profile.threads * 4, holder)

    @pytest.mark.requires(caps.MULTI_PROCESS)
    @pytest.mark.operation("conditional changes")
    def test_each_conditional_change_has_one_winner_among_processes(
        self, backend: Any, fresh_location: str, open_store: Any, store_profile: Any
    ) -> None:
        """Worker processes, each with its own store on one location, race each conditional
        change: at a common start, and every few rounds under a write this process holds."""
        store = open_store()
        holder = self.holder(backend, lambda: store)
        race_in_processes(backend.backend, self.spec, fresh_location,
                          self.cases(store, "processes", holder is not None),
                          store_profile.processes, holder)

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
