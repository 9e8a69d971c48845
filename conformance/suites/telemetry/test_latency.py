"""``latency``: each seed target timed on the seeded 10,000-query dataset (10,000 vectors
of dimension 384, 20,000 predictions), and each read and write timed on 1,000 and
10,000 queries, its growth bounded."""

from __future__ import annotations

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.latency_check import LatencySuite
from storecheck.conformance.specs.telemetry import SPEC
from storecheck.conformance.suites.telemetry.latency_table import SCALING, TARGETS, load

pytestmark = [pytest.mark.latency, pytest.mark.requires(caps.LATENCY_TARGETS)]


class TestLatency(LatencySuite):
    spec = SPEC
    targets = TARGETS
    scaling = SCALING
    load = staticmethod(load)
