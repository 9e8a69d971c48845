"""Complexity checks: one call timed on a small and a large dataset, its growth bounded.

The seeds' absolute targets sit far above what a good store costs, so an
operation that reads every row (a page filtered in the client, a search that
misses its index, a cursor that is an OFFSET) still meets them on a fast
machine.  The ratio of one operation's cost at two sizes, measured in one run
on one machine, does not depend on the machine: a lookup through an index
costs about the same on 1,000 rows as on 10,000, a scan ten times more.  So
these checks stay enforced where absolute targets are only warned about.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from storecheck.conformance.specs import SPECS
from storecheck.conformance.timing import (
    CONFIDENCE,
    Sampler,
    ThreadSampler,
    load_free,
    tail_probability,
    timed_round,
)

SMALL: Final = 1_000
"""Rows of the main table in the small dataset."""
LARGE: Final = 10_000
"""Rows of the main table in the large dataset (the latency table's dataset)."""
LARGEST: Final = 100_000
"""Rows of the main table in the thorough profile's third dataset, for the operations a
spec's seed asks to stay fast on far more data than the latency table's."""
SLACK_MS: Final = 0.05
"""Growth below this many milliseconds is timer and cache noise, whatever the ratio."""
SCALING_MODES: Final = ("enforce", "warn", "off")
FEWEST_PER_ROUND: Final = 5
"""Calls of each size a round takes at least, however slow they are: the round's median is
then of five calls, and one stray call cannot make it."""


@dataclass(frozen=True)
class Growth:
    """One row of a spec's scaling table."""

    operation: str
    """What is timed, named after the spec operation (with a qualifier if several)."""
    allowed: float
    """Largest accepted ratio of the median cost on LARGE rows to the median on SMALL rows."""
    reason: str
    """Why the cost should grow no more: the index, key or bound that makes it so."""


def reads_first(spec: str, rows: Sequence[tuple[Growth, Any]]) -> list[tuple[Growth, Any]]:
    """``rows`` with every row of an operation that only reads before those of operations
    that write, each group in its order.  The scaling rows share their two datasets, and a
    write row adds a few hundred calls' rows to both: timed after them, a read that scans a
    table (a forgotten index) would scan the writes' rows at both sizes, and its growth
    would shrink towards 1."""
    writes = {operation.name for operation in SPECS[spec].operations if operation.writes}

    def writing(row: tuple[Growth, Any]) -> bool:
        return row[0].operation.split(" (")[0] in writes

    return ([row for row in rows if not writing(row)]
            + [row for row in rows if writing(row)])


@dataclass(frozen=True)
class GrowthMeasurement:
    rounds: int
    samples: int
    """Timed calls per dataset."""
    small_p50_ms: float
    """Median load-free cost on SMALL rows (with pooled measurements, their mean)."""
    large_p50_ms: float
    ratio: float
    """Median over rounds of the per-round ratio of medians (large / small); for a store
    behind a wire, of the medians net of the wire's echo timed in the same round."""
    transport_p50_ms: float | None = None
    """The echo's median, for a store behind a wire (an ``exec:`` backend)."""
    ratios: tuple[float, ...] = ()
    """Each round's ratio."""
    next_index: int = 0
    """The call index a further measurement starts from (workloads write with it)."""


def measure_growth(small: Callable[[int], Any], large: Callable[[int], Any], *, rounds: int = 9,
                   per_round: int = 21, warmup: int = 10,
                   transport: Callable[[int], Any] | None = None,
                   sampler: Sampler | None = None, in_process: bool = False,
                   first_index: int = 0, round_seconds: float | None = None) -> GrowthMeasurement:
    """Time ``small(i)`` and ``large(i)`` in alternating rounds, ``i`` from ``first_index``.

    Alternating, and swapping which size goes first each round, puts both
    datasets under the same machine noise; each round's ratio is taken of load-free
    medians (``timing.load_free``: wall time less what waiting for a CPU cost), and the
    median of per-round ratios ignores a round that a neighbour's burst spoiled.  For a
    store behind a wire, ``transport`` (an empty round trip) is timed in each round too
    and its median taken off both sizes': the wire's fixed cost would otherwise hide the
    growth (0.1 ms growing to 0.4 ms is 4x; behind a 0.9 ms wire, 1.3x).

    With ``round_seconds``, each size's part of a round ends once it has taken that long
    and made :data:`FEWEST_PER_ROUND` calls: an operation that costs 100 ms on the large
    dataset is measured in seconds, not minutes, and its growth is no less plain.
    """
    for i in range(first_index, first_index + warmup):
        small(i)
        large(i)
    series = {"small": small, "large": large}
    if transport is not None:
        series["transport"] = transport
    everything: dict[str, list[int]] = {name: [] for name in series}
    ratios: list[float] = []
    i = first_index + warmup
    with ThreadSampler() as thread_sampler:
        time_call = sampler or thread_sampler
        for round_ in range(rounds):
            timed: dict[str, list[int]] = {}
            order = list(series.items())
            for name, call in order if round_ % 2 == 0 else order[::-1]:
                samples = timed_round(time_call, call, i, per_round, round_seconds,
                                      FEWEST_PER_ROUND)
                timed[name] = load_free(samples, in_process)
            i += max(len(values) for values in timed.values())
            wire = statistics.median(timed["transport"]) if transport is not None else 0
            ratios.append(max(0, statistics.median(timed["large"]) - wire)
                          / max(1, statistics.median(timed["small"]) - wire))
            for name, values in timed.items():
                everything[name] += values
    return GrowthMeasurement(
        rounds, len(everything["small"]), statistics.median(everything["small"]) / 1e6,
        statistics.median(everything["large"]) / 1e6, statistics.median(ratios),
        statistics.median(everything["transport"]) / 1e6 if transport is not None else None,
        ratios=tuple(ratios), next_index=i)


def pooled(first: GrowthMeasurement, then: GrowthMeasurement) -> GrowthMeasurement:
    """Two measurements of one growth as one: the median of all their rounds' ratios."""
    ratios = first.ratios + then.ratios
    total = first.samples + then.samples
    return GrowthMeasurement(
        first.rounds + then.rounds, total,
        (first.small_p50_ms * first.samples + then.small_p50_ms * then.samples) / total,
        (first.large_p50_ms * first.samples + then.large_p50_ms * then.samples) / total,
        statistics.median(ratios), then.transport_p50_ms, ratios=ratios,
        next_index=then.next_index)


def grows_too_fast(growth: Growth, result: GrowthMeasurement) -> bool:
    return result.ratio > growth.allowed and result.large_p50_ms - result.small_p50_ms > SLACK_MS


def surely_too_fast(growth: Growth, result: GrowthMeasurement) -> bool:
    """Growth too fast beyond doubt, so that measuring again cannot change the verdict: a
    sign test on the rounds' ratios.  Were the growth at most the allowed ratio, each
    round would exceed it with at most even odds; so many rounds exceeding it that this
    has a probability under 1 - :data:`~storecheck.conformance.timing.CONFIDENCE` (8 of
    9 rounds) is a real growth, not a burst of load on one size."""
    above = sum(ratio > growth.allowed for ratio in result.ratios)
    return (grows_too_fast(growth, result)
            and tail_probability(len(result.ratios), 0.5, above) < 1 - CONFIDENCE)


def growth_row(growth: Growth, result: GrowthMeasurement, outcome: str,
               sizes: tuple[int, int] = (SMALL, LARGE)) -> dict[str, Any]:
    row = {**asdict(growth), **asdict(result), "small_rows": sizes[0], "large_rows": sizes[1],
           "verdict": outcome}
    row["ratios"] = list(result.ratios)
    del row["next_index"]
    return row


def describe_growth(spec: str, growth: Growth, result: GrowthMeasurement,
                    sizes: tuple[int, int] = (SMALL, LARGE)) -> str:
    wire = ("" if result.transport_p50_ms is None else
            f", less the wire's {result.transport_p50_ms:.3f} ms echo")
    return (
        f"{spec}.{growth.operation}: cost grew {result.ratio:.1f}x from {sizes[0]:,} to "
        f"{sizes[1]:,} "
        f"rows (the median of {result.rounds} interleaved rounds' ratios, net of the machine's "
        f"load: {result.small_p50_ms:.3f} ms -> {result.large_p50_ms:.3f} ms over "
        f"{result.samples} calls each{wire}); at most {growth.allowed:g}x is allowed because "
        f"{growth.reason}"
    )
