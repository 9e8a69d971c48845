"""Latency measurement: warm-up, many samples, exact percentiles, verdicts against targets."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from storecheck.conformance.timing import (
    MachineLoad,
    Sample,
    ThreadSampler,
    load_free,
    lower_bound,
    nearest_rank,
    samples_needed,
    timed_round,
)

PROJECT_TARGET: Final = "project target"


@dataclass(frozen=True)
class LatencyTarget:
    """One row of a spec's latency table."""

    operation: str
    """What is measured, named after the spec operation (with a qualifier if several)."""
    dataset: int
    """Rows of the main table in the seeded dataset the measurement runs on."""
    percentile: float
    """Which percentile is held to the target (100 = every sample, for total times)."""
    target_ms: float
    source: str
    """The seed line the target comes from, or PROJECT_TARGET with the reason."""
    floor_multiple: float = 4.0
    """How many times its bare SQL (the floor) a store declaring ``floor_bound`` may cost.

    What the reference adds to its SQL (argument checks, record building,
    timestamp parsing) stays within this; a redundant query, a statement
    prepared per call or a connection opened per call does not.
    """


@dataclass(frozen=True)
class Budget:
    warmup: int
    min_samples: int
    seconds: float
    """Stop sampling early when this much time has passed (slow operations)."""


@dataclass(frozen=True)
class Measurement:
    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float
    iqr_ms: float
    samples_us: tuple[float, ...] = ()
    """Every timed call in microseconds, sorted: what ``storecheck compare`` resamples."""

    def at(self, percentile: float) -> float:
        return {50.0: self.p50_ms, 95.0: self.p95_ms, 99.0: self.p99_ms,
                100.0: self.max_ms}[float(percentile)]


def percentile(ordered: list[int], p: float) -> int:
    """Nearest-rank percentile of sorted samples: no interpolation, a value that was seen."""
    if not ordered:
        raise ValueError("no samples")
    return ordered[nearest_rank(len(ordered), p) - 1]


def summarise(samples_ns: list[int]) -> Measurement:
    ordered = sorted(samples_ns)

    def ms(value: int) -> float:
        return value / 1e6

    return Measurement(
        samples=len(ordered),
        p50_ms=ms(percentile(ordered, 50)),
        p95_ms=ms(percentile(ordered, 95)),
        p99_ms=ms(percentile(ordered, 99)),
        max_ms=ms(ordered[-1]),
        min_ms=ms(ordered[0]),
        iqr_ms=ms(percentile(ordered, 75) - percentile(ordered, 25)),
        samples_us=tuple(round(value / 1e3, 3) for value in ordered),
    )


PER_ROUND: Final = 20
"""Calls of each series in one round of an interleaved measurement."""
REMEASURES: Final = 2
"""Fresh measurements taken when a miss is not yet certain, before it is inconclusive."""
ROUNDS_PER_BUDGET: Final = 10
"""A round of a slow operation ends after a tenth of the time budget, so that even an
operation timed only twenty times is timed over several interleaved rounds."""
HARD_STOP: Final = 4
"""A measurement that has not reached the samples its percentile needs stops at this many
times its time budget, and is judged on what it has."""


@dataclass
class Interleaved:
    """Several series (the store, its floor, a wire's echo) timed in alternating rounds, so
    that a neighbour's burst falls on all of them alike; each series counts its own call
    index from 0, so a workload's writes keep the keys they were given."""

    series: dict[str, Callable[[int], Any]]
    rounds: dict[str, list[list[Sample]]] = field(default_factory=dict)
    next_index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.series:
            self.rounds.setdefault(name, [])
            self.next_index.setdefault(name, 0)

    def warm(self, calls: int) -> None:
        for name, call in self.series.items():
            for _ in range(calls):
                call(self.next_index[name])
                self.next_index[name] += 1

    def measure(self, budget: Budget, needed: int) -> None:
        """One measurement: rounds until ``budget.min_samples`` calls of each series, or the
        time budget is spent with at least ``needed`` calls (``HARD_STOP`` times the budget
        with fewer).  The cyclic garbage collector is off meanwhile, as ``timeit`` does: a
        full collection walks every object the harness holds, which is the harness's cost,
        not the store's."""
        clock = time.perf_counter_ns
        began = clock()
        taken = 0
        collecting = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            with ThreadSampler() as sampler:
                while taken < budget.min_samples:
                    order = list(self.series.items())
                    if len(self.rounds[order[0][0]]) % 2:
                        order.reverse()
                    calls = min(PER_ROUND, budget.min_samples - taken)
                    for name, call in order:
                        index = self.next_index[name]
                        round_ = timed_round(sampler, call, index, calls,
                                             budget.seconds / ROUNDS_PER_BUDGET)
                        # The first series' count, cut short by a slow call, sets the others'.
                        calls = len(round_)
                        self.rounds[name].append(round_)
                        self.next_index[name] = index + calls
                    taken += calls
                    spent = (clock() - began) / 1e9
                    if (spent > budget.seconds and taken >= min(needed, budget.min_samples)) or (
                            spent > budget.seconds * HARD_STOP and taken >= 5):
                        break
        finally:
            if collecting:
                gc.enable()

    def samples(self, name: str) -> list[Sample]:
        return [sample for round_ in self.rounds[name] for sample in round_]

    def round_ratios(self, numerator: str, denominator: str, in_process: bool) -> list[float]:
        """Per round, the median load-free time of one series over another's."""
        return [statistics.median(load_free(top, in_process))
                / max(1, statistics.median(load_free(bottom, True)))
                for top, bottom in zip(self.rounds[numerator], self.rounds[denominator],
                                       strict=True)]


def net_of(result: Measurement, transport: Measurement) -> Measurement:
    """``result`` less the transport's median: what the store itself took, when each call
    also crossed a process boundary (an ``exec:`` backend's wire)."""
    floor_ns = transport.p50_ms * 1e6
    return summarise([max(0, round(sample * 1e3 - floor_ns)) for sample in result.samples_us])


@dataclass(frozen=True)
class Judged:
    """One percentile held to its target, on wall time and on load-free time."""

    outcome: str
    """``pass``, ``fail`` (the load-free percentile misses with confidence) or ``unsure``
    (the wall time misses, but load or too few samples may explain it)."""
    samples: int
    wall_ms: float
    load_free_ms: float
    lower_ms: float
    """The load-free percentile's lower confidence bound (``timing.CONFIDENCE``)."""
    needed: int


def judge(target: LatencyTarget, walls_ns: list[int], load_free_ns: list[int],
          scale: float) -> Judged:
    """Pass when the wall-time percentile meets the target; fail only when the load-free
    percentile's lower confidence bound misses it, so neither the machine's load nor a
    few stray samples fail a store; anything between is unsure."""
    limit_ms = target.target_ms * scale
    walls, free = sorted(walls_ns), sorted(load_free_ns)
    rank = nearest_rank(len(walls), target.percentile)
    wall_ms, free_ms = walls[rank - 1] / 1e6, free[rank - 1] / 1e6
    lower_ms = lower_bound(free, target.percentile) / 1e6
    outcome = "pass" if wall_ms <= limit_ms else "fail" if lower_ms > limit_ms else "unsure"
    return Judged(outcome, len(walls), wall_ms, free_ms, lower_ms,
                  samples_needed(target.percentile))


def as_row(target: LatencyTarget, result: Measurement, scale: float, outcome: str,
           floor: Measurement | None, transport: Measurement | None = None, *,
           multiple: float | None = None, judged: Judged | None = None,
           load: MachineLoad | None = None) -> dict[str, Any]:
    """A report row; ``multiple`` is the floor multiple (the median of per-round ratios)."""
    row: dict[str, Any] = {**asdict(target), **asdict(result)}
    row["target_ms"] = target.target_ms * scale
    row["unscaled_target_ms"] = target.target_ms
    row["verdict"] = outcome
    row["floor_p50_ms"] = None if floor is None else floor.p50_ms
    row["overhead"] = multiple
    if judged is not None:
        row["judged"] = {key: value for key, value in asdict(judged).items() if key != "outcome"}
    if load is not None:
        row["machine"] = asdict(load)
    if transport is not None:
        net = net_of(result, transport)
        row["transport"] = {"p50_ms": transport.p50_ms, "p99_ms": transport.p99_ms,
                            "net_p50_ms": net.p50_ms, "net_p95_ms": net.p95_ms,
                            "net_p99_ms": net.p99_ms}
    return row
