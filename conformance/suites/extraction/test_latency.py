"""``latency``: each operation with a target, timed on the seeded 10,000-event dataset, and
each read and write timed on 1,000 and 10,000 events, its growth bounded; with the thorough
profile each query once more on 100,000 events."""

from __future__ import annotations

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.latency_check import LargestScalingSuite
from storecheck.conformance.specs.extraction import SPEC
from storecheck.conformance.suites.extraction.latency_table import (
    LARGEST_SCALING,
    SCALING,
    TARGETS,
    load,
)

pytestmark = [pytest.mark.latency, pytest.mark.requires(caps.LATENCY_TARGETS)]


class TestLatency(LargestScalingSuite):
    spec = SPEC
    targets = TARGETS
    scaling = SCALING
    largest_scaling = LARGEST_SCALING
    load = staticmethod(load)
