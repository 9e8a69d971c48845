"""Latency measurement: warm-up, many samples, exact percentiles, verdicts against targets."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

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
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


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


def measure(call: Callable[[int], Any], budget: Budget) -> Measurement:
    """Time ``call(i)`` for i = 0, 1, 2, ... after ``budget.warmup`` untimed calls.

    The cyclic garbage collector is off while the samples are taken, as ``timeit`` does:
    a full collection walks every object the harness holds (the seeded dataset's
    records), which is the harness's cost, not the store's, and lands in the tail.
    """
    for i in range(budget.warmup):
        call(i)
    samples: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(budget.seconds * 1e9)
    i = budget.warmup
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        while len(samples) < budget.min_samples:
            start = clock()
            call(i)
            end = clock()
            samples.append(end - start)
            i += 1
            if end > deadline and len(samples) >= 5:
                break
    finally:
        if collecting:
            gc.enable()
    return summarise(samples)


def net_of(result: Measurement, transport: Measurement) -> Measurement:
    """``result`` less the transport's median: what the store itself took, when each call
    also crossed a process boundary (an ``exec:`` backend's wire)."""
    floor_ns = transport.p50_ms * 1e6
    return summarise([max(0, round(sample * 1e3 - floor_ns)) for sample in result.samples_us])


def verdict(target: LatencyTarget, result: Measurement, scale: float, mode: str) -> str:
    """``pass``, ``fail`` (mode enforce) or ``warn`` (mode warn) for one measurement."""
    if result.at(target.percentile) <= target.target_ms * scale:
        return "pass"
    return "fail" if mode == "enforce" else "warn"


def overhead(result: Measurement, floor: Measurement | None) -> float | None:
    """The median's multiple of the floor's median, when there is a floor."""
    return None if floor is None or floor.p50_ms <= 0 else result.p50_ms / floor.p50_ms


def as_row(target: LatencyTarget, result: Measurement, scale: float, outcome: str,
           floor: Measurement | None, transport: Measurement | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {**asdict(target), **asdict(result)}
    row["target_ms"] = target.target_ms * scale
    row["unscaled_target_ms"] = target.target_ms
    row["verdict"] = outcome
    row["floor_p50_ms"] = None if floor is None else floor.p50_ms
    row["overhead"] = overhead(result, floor)
    if transport is not None:
        net = net_of(result, transport)
        row["transport"] = {"p50_ms": transport.p50_ms, "p99_ms": transport.p99_ms,
                            "net_p50_ms": net.p50_ms, "net_p95_ms": net.p95_ms,
                            "net_p99_ms": net.p99_ms}
    return row
