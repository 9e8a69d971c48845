"""Timing a call so that a busy machine can be told from a slow store.

Each call is timed three ways: its wall time (what a user waits), this thread's CPU time
(``time.thread_time_ns``) and this thread's *run delay*, the time it was ready to run but
waited for a CPU, which is what other work on the machine costs it.  Linux reports the run
delay in ``/proc/thread-self/schedstat``; where it cannot be read it counts as zero and
every verdict falls back to wall time.  What is left, wall - CPU - run delay, is time the
thread was blocked: I/O, a lock, a sleep, or another process (a PostgreSQL server, an
``exec:`` store) doing the work.

A call's *load-free* time is what it would have cost on an idle machine, as far as this
thread can tell:

- a store that works in the calling thread (capability ``in_process``): wall time less the
  run delay.  Its blocked time is its own (I/O, a lock, a sleep) and is never discounted,
  so a store that sleeps is as slow under load as on an idle machine.
- any other store: CPU time plus the blocked time divided by the slowdown this thread saw
  over the same calls, (CPU + run delay) / CPU.  The server or process doing the work
  shares the machine, and is taken to be slowed as much as this thread was.  That
  process's own run delay would be exact, but it runs as another user or in another
  process tree where this thread cannot read it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

SCHEDSTAT: Final = "/proc/thread-self/schedstat"
CONFIDENCE: Final = 0.95
"""How sure a latency miss must be before it fails a check."""


@dataclass(frozen=True)
class Sample:
    wall_ns: int
    cpu_ns: int
    delay_ns: int
    """Run delay: time this thread was runnable but waited for a CPU."""


class Sampler(Protocol):
    def __call__(self, call: Callable[[int], Any], index: int) -> Sample:
        """Time ``call(index)``."""


class ThreadSampler:
    """Times calls made from the thread that created it (the schedstat file names that
    thread); use it as a context manager so the file is closed."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(SCHEDSTAT, os.O_RDONLY)
        except OSError:
            self._fd = None

    def _delay(self) -> int:
        if self._fd is None:
            return 0
        # The second field: nanoseconds spent waiting on a run queue.
        return int(os.pread(self._fd, 96, 0).split()[1])

    def __call__(self, call: Callable[[int], Any], index: int) -> Sample:
        delay_before = self._delay()
        cpu_before = time.thread_time_ns()
        start = time.perf_counter_ns()
        call(index)
        end = time.perf_counter_ns()
        cpu_after = time.thread_time_ns()
        return Sample(end - start, cpu_after - cpu_before, self._delay() - delay_before)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ThreadSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def timed_round(sampler: Sampler, call: Callable[[int], Any], first_index: int, calls: int,
                seconds: float | None, fewest: int = 1) -> list[Sample]:
    """Up to ``calls`` timed calls of ``call(i)``, ``i`` from ``first_index``; fewer, but at
    least ``fewest``, once ``seconds`` have passed (never fewer without ``seconds``)."""
    deadline = None if seconds is None else time.perf_counter_ns() + seconds * 1e9
    taken: list[Sample] = []
    while len(taken) < calls:
        taken.append(sampler(call, first_index + len(taken)))
        if (deadline is not None and len(taken) >= fewest
                and time.perf_counter_ns() > deadline):
            break
    return taken


def slowdown(samples: Sequence[Sample]) -> float:
    """How much longer this thread took to get its CPU time than the CPU time itself."""
    cpu = sum(sample.cpu_ns for sample in samples)
    delay = sum(sample.delay_ns for sample in samples)
    return 1.0 if cpu <= 0 else (cpu + delay) / cpu


def load_free(samples: Sequence[Sample], in_process: bool) -> list[int]:
    """Each call's load-free time in nanoseconds (the module docstring says how)."""
    factor = 1.0 if in_process else slowdown(samples)
    return [min(sample.wall_ns,
                sample.cpu_ns + round(max(0, sample.wall_ns - sample.cpu_ns - sample.delay_ns)
                                      / factor))
            for sample in samples]


def nearest_rank(count: int, p: float) -> int:
    """The 1-based rank of the nearest-rank ``p``-th percentile among ``count`` values."""
    return min(count, max(1, math.ceil(p / 100 * count)))


def samples_needed(p: float) -> int:
    """How many samples a ``p``-th percentile is judged on at least: enough that two of
    them lie at or above it (200 for p99, 40 for p95, 4 for p50), so a p99 is never one
    stray call."""
    return 1 if p >= 100 else math.ceil(2 * 100 / (100 - p))


def tail_probability(count: int, success: float, at_least: int) -> float:
    """P(Binomial(count, success) >= at_least)."""
    if success >= 1.0:
        return 1.0
    if success <= 0.0:
        return 0.0 if at_least > 0 else 1.0
    log_p, log_q = math.log(success), math.log1p(-success)
    base = math.lgamma(count + 1)
    return min(1.0, sum(
        math.exp(base - math.lgamma(i + 1) - math.lgamma(count - i + 1) + i * log_p
                 + (count - i) * log_q)
        for i in range(at_least, count + 1)))


def lower_bound(ordered: Sequence[int], p: float, confidence: float = CONFIDENCE) -> int:
    """The lower end of a one-sided bootstrap confidence interval for the nearest-rank
    ``p``-th percentile of ``ordered`` (sorted), computed exactly instead of resampled, so
    the same samples always give the same verdict.

    In a resample of n values drawn from the n measured ones, the percentile's rank-k
    value is at most the j-th measured value exactly when at least k of the n draws fall
    at or below it: P = P(Binomial(n, j/n) >= k).  The bound is the smallest measured value
    whose P reaches 1 - confidence.
    """
    count = len(ordered)
    if count == 0:
        raise ValueError("no samples")
    rank = nearest_rank(count, p)
    low, high = 1, count
    while low < high:
        middle = (low + high) // 2
        if tail_probability(count, middle / count, rank) >= 1 - confidence:
            high = middle
        else:
            low = middle + 1
    return ordered[low - 1]


@dataclass(frozen=True)
class MachineLoad:
    """What the machine's load did to this thread while a measurement ran."""

    delay_share: float
    """Of the thread's wall time, the share it spent waiting for a CPU."""
    slowdown: float
    load_average: float | None
    """The one-minute load average when the measurement ended (None where unknown)."""
    cpus: int

    def describe(self) -> str:
        average = "unknown" if self.load_average is None else f"{self.load_average:.1f}"
        return (f"this thread waited for a CPU {100 * self.delay_share:.0f}% of its time "
                f"(slowdown {self.slowdown:.1f}x), load average {average} on {self.cpus} CPUs")


def machine_load(samples: Sequence[Sample]) -> MachineLoad:
    wall = sum(sample.wall_ns for sample in samples)
    delay = sum(min(sample.delay_ns, sample.wall_ns) for sample in samples)
    try:
        load_average: float | None = os.getloadavg()[0]
    except OSError:
        load_average = None
    return MachineLoad(delay / wall if wall else 0.0, slowdown(samples), load_average,
                       os.cpu_count() or 1)
