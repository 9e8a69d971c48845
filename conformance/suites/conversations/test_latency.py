"""``latency``: each operation with a target, timed on the seeded 10,000-conversation dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.latency import Budget, LatencyTarget
from storecheck.conformance.latency_check import LatencyRun, check_target
from storecheck.conformance.specs.conversations import SPEC
from storecheck.conformance.suites.conversations.latency_table import TARGETS, Dataset, load

pytestmark = [pytest.mark.latency, pytest.mark.requires(caps.LATENCY_TARGETS)]


@pytest.fixture(scope="module")
def dataset(backend: Any, tmp_path_factory: pytest.TempPathFactory,
            latency_budget: Budget) -> Iterator[LatencyRun[Dataset]]:
    location = backend.backend.new_location(SPEC, tmp_path_factory.mktemp("latency"))
    store = backend.backend.open(SPEC, location)
    try:
        data = load(store, caps.TRANSACTIONS in backend.capabilities,
                    calls=latency_budget.warmup + latency_budget.min_samples)
        yield LatencyRun(store, data, location)
    finally:
        store.close()
        backend.backend.discard(location)


@pytest.mark.parametrize("row", TARGETS, ids=[target.operation for target, _, _ in TARGETS])
def test_operation_meets_its_target(
    row: tuple[LatencyTarget, Any, Any], dataset: LatencyRun[Dataset], latency_budget: Budget,
    latency_settings: Any, record_property: Any,
) -> None:
    target, workload, floor = row
    check_target(SPEC, target, workload, floor, dataset, latency_budget, latency_settings,
                 record_property)
