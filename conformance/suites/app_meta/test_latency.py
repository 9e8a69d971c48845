"""``latency``: each operation with a target, timed on the seeded 10,000-row dataset, and
each read and write timed on 1,000 and 10,000 events, its growth bounded."""

from __future__ import annotations

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.latency_check import LatencySuite
from storecheck.conformance.specs.app_meta import SPEC
from storecheck.conformance.suites.app_meta.latency_table import SCALING, TARGETS, load

pytestmark = [pytest.mark.latency, pytest.mark.requires(caps.LATENCY_TARGETS)]


class TestLatency(LatencySuite):
    spec = SPEC
    targets = TARGETS
    scaling = SCALING
    load = staticmethod(load)
