"""How hard each check pushes: ``--store-profile=quick|default|thorough``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from hypothesis import Phase


@dataclass(frozen=True)
class Profile:
    name: str
    examples: int
    """Hypothesis examples per property."""
    steps: int
    """Operations per stateful run."""
    processes: int
    """Worker processes in multi-process checks."""
    threads: int
    """Threads per worker in concurrency checks."""
    items: int
    """Records each worker (thread) writes in concurrency checks."""
    latency_samples: int = 200
    """Timed calls per operation (at least 200 so that p99 is a measured sample)."""
    latency_seconds: float = 3.0
    """Time budget per operation; a slow operation stops early with fewer samples."""
    shrink: bool = True
    """Shrink failures to a minimal example (slow on a store that must reopen files)."""
    shrink_seconds: float = 60.0
    """How long one failure may be shrunk before it is reported as it stands."""
    largest_dataset: bool = False
    """Load a third dataset of ``LARGEST`` rows for the scaling rows a spec marks for it."""
    window_hit: float = 0.99
    """The probability with which a check that kills a black box at random moments of a
    repeated operation lands at least once in a window of :data:`WINDOW_SHARE` of each
    repetition (the time between two commits of an operation that should have one)."""

    @property
    def kills(self) -> int:
        """Kills at independent random moments that hit such a window with probability
        :attr:`window_hit`: each misses it with probability ``1 - WINDOW_SHARE``."""
        return math.ceil(math.log(1 - self.window_hit) / math.log(1 - WINDOW_SHARE))

    @property
    def phases(self) -> tuple[Phase, ...]:
        return tuple(p for p in Phase if self.shrink or p not in (Phase.shrink, Phase.explain))


WINDOW_SHARE: Final = 0.1
"""The least share of an operation's time a window between two of its commits is taken to
last: an operation committed in two steps spends about half its time in the second, and
a tenth leaves room for a second step much cheaper than the first."""

PROFILES: Final[dict[str, Profile]] = {
    profile.name: profile
    for profile in (
        Profile("quick", examples=25, steps=30, processes=4, threads=2, items=8,
                latency_samples=200, latency_seconds=2.0, shrink=False, window_hit=0.9),
        Profile("default", examples=60, steps=40, processes=4, threads=3, items=25,
                latency_samples=500, latency_seconds=5.0),
        Profile("thorough", examples=300, steps=80, processes=6, threads=4, items=100,
                latency_samples=2000, latency_seconds=20.0, largest_dataset=True,
                shrink_seconds=300.0, window_hit=0.9999),
    )
}
