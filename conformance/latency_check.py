"""The body of every spec's latency check: measure, compare with the floor, judge, record."""

from __future__ import annotations

import os
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.latency import (
    Budget,
    LatencyTarget,
    Measurement,
    as_row,
    measure,
    verdict,
)
from storecheck.reference_impl.engine import Database

D = TypeVar("D")
LATENCY_PROPERTY = "storecheck_latency"


@dataclass(frozen=True)
class LatencySettings:
    mode: str
    """``enforce``, ``warn`` or ``off``."""
    scale: float


@dataclass
class LatencyRun(Generic[D]):
    store: Any
    data: D
    location: str


class LatencyWarning(UserWarning):
    """An operation missed its target while ``--latency=warn``."""


def _floor_connection(store: Any, location: str) -> Any:
    """A bare connection under the reference's rules, when the store is a SQLite file."""
    if getattr(store, "sql_dialect", None) != "sqlite" or not os.path.isfile(location):
        return None
    return Database(location)


def check_target(
    spec: str,
    target: LatencyTarget,
    workload: Callable[[Any, Any, int], Any],
    floor: Callable[[Any, Any, int], Any] | None,
    run: LatencyRun[Any],
    budget: Budget,
    settings: LatencySettings,
    record_property: Callable[[str, object], None],
) -> None:
    result = measure(lambda i: workload(run.store, run.data, i), budget)
    floor_result: Measurement | None = None
    database = _floor_connection(run.store, run.location) if floor is not None else None
    if database is not None and floor is not None:
        conn = database.connection()
        try:
            floor_result = measure(lambda i: floor(conn, run.data, i), budget)
        except sqlite3.Error:
            # A SQLite store with a schema of its own: the reference's SQL cannot run on
            # it, so there is no floor to compare with (null in the report), not a failure.
            floor_result = None
        finally:
            database.close()
    outcome = verdict(target, result, settings.scale, settings.mode)
    row = as_row(target, result, settings.scale, outcome, floor_result)
    record_property(LATENCY_PROPERTY, row)
    measured = result.at(target.percentile)
    message = (
        f"{spec}.{target.operation}: expected p{target.percentile:g} <= "
        f"{target.target_ms * settings.scale:g} ms on {target.dataset} rows; measured "
        f"{measured:.3f} ms over {result.samples} samples ({target.source})"
    )
    if outcome == "fail":
        pytest.fail(message, pytrace=False)
    if outcome == "warn":
        warnings.warn(LatencyWarning(message), stacklevel=1)


class LatencySuite:
    """Every spec's latency check; a suite module subclasses it as ``TestLatency``.

    The subclass sets ``spec``, ``targets`` (its latency table: target, workload,
    floor) and ``load(store, transactional, calls)`` building the seeded dataset.
    The plugin parametrizes ``latency_row`` over ``targets``.
    """

    spec: ClassVar[str]
    targets: ClassVar[tuple[tuple[LatencyTarget, Any, Any], ...]]

    @staticmethod
    def load(store: Any, transactional: bool, calls: int) -> Any:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def dataset(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory,
                latency_budget: Budget) -> Iterator[LatencyRun[Any]]:
        """The seeded dataset, loaded once per backend."""
        location = backend.backend.new_location(cls.spec, tmp_path_factory.mktemp("latency"))
        store = backend.backend.open(cls.spec, location)
        try:
            data = cls.load(store, caps.TRANSACTIONS in backend.capabilities,
                             latency_budget.warmup + latency_budget.min_samples)
            yield LatencyRun(store, data, location)
        finally:
            store.close()
            backend.backend.discard(location)

    def test_operation_meets_its_target(
        self, latency_row: tuple[LatencyTarget, Any, Any], dataset: LatencyRun[Any],
        latency_budget: Budget, latency_settings: LatencySettings,
        record_property: Callable[[str, object], None],
    ) -> None:
        target, workload, floor = latency_row
        check_target(self.spec, target, workload, floor, dataset, latency_budget,
                     latency_settings, record_property)
