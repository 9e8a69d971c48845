"""Whether one run's latency is really worse than another's, from their raw samples.

Two runs of the same build on a shared machine differ: a handful of slow
samples moves a p99 tenfold.  A regression is therefore called only when the
statistic grew by more than the threshold *and* the growth survives
resampling: the lower bound of a one-sided bootstrap interval of
``statistic(after) / statistic(before)`` must itself exceed the threshold.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Final

STATISTICS: Final = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
RESAMPLES: Final = 500
CONFIDENCE: Final = 0.99
"""One-sided: the ratio exceeds its bound in 99 of 100 resamplings."""


def nearest_rank(ordered: Sequence[float], percentile: float) -> float:
    """The nearest-rank percentile of sorted values (the rule the latency checks use)."""
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio_lower_bound(before: Sequence[float], after: Sequence[float], percentile: float,
                      seed: int = 0) -> float:
    """Lower bound of ``percentile(after) / percentile(before)`` over bootstrap resamples.

    Seeded, so that the same two reports always get the same verdict.
    """
    rng = random.Random(seed)
    ratios = []
    for _ in range(RESAMPLES):
        old = nearest_rank(sorted(rng.choices(before, k=len(before))), percentile)
        new = nearest_rank(sorted(rng.choices(after, k=len(after))), percentile)
        ratios.append(new / old if old > 0 else math.inf)
    ratios.sort()
    return ratios[int((1 - CONFIDENCE) * RESAMPLES)]
