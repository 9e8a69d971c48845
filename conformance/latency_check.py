"""The body of every spec's latency and scaling checks: measure, compare, judge, record."""

from __future__ import annotations

import os
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import progress
from storecheck.conformance.latency import (
    Budget,
    LatencyTarget,
    Measurement,
    as_row,
    measure,
    net_of,
    overhead,
    verdict,
)
from storecheck.conformance.scaling import (
    LARGE,
    SMALL,
    Growth,
    describe_growth,
    grows_too_fast,
    growth_row,
    measure_growth,
)
from storecheck.reference_impl.engine import Database

D = TypeVar("D")
LATENCY_PROPERTY = "storecheck_latency"
SCALING_PROPERTY = "storecheck_scaling"


@dataclass(frozen=True)
class LatencySettings:
    mode: str
    """``enforce``, ``warn`` or ``off``."""
    scale: float
    scaling_mode: str = "enforce"
    """``--scaling``: ``enforce``, ``warn`` or ``off``, apart from ``mode`` because ratios
    measured in one run hold on any machine."""


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


def _transport_floor(store: Any, budget: Budget) -> Measurement | None:
    """The round trip of an empty call, measured now, for a store behind a wire."""
    echo = getattr(store, "transport_echo", None)
    return None if echo is None else measure(lambda i: echo(), budget)


def check_target(
    spec: str,
    target: LatencyTarget,
    workload: Callable[[Any, Any, int], Any],
    floor: Callable[[Any, Any, int], Any] | None,
    run: LatencyRun[Any],
    budget: Budget,
    settings: LatencySettings,
    record_property: Callable[[str, object], None],
    bounded_by_floor: bool = False,
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
    transport = _transport_floor(run.store, budget)
    judged = result if transport is None else net_of(result, transport)
    outcome = verdict(target, judged, settings.scale, settings.mode)
    messages = [] if outcome == "pass" else [
        f"{spec}.{target.operation}: expected p{target.percentile:g} <= "
        f"{target.target_ms * settings.scale:g} ms on {target.dataset} rows; measured "
        f"{judged.at(target.percentile):.3f} ms over {result.samples} samples ({target.source})"
        + ("" if transport is None else
           f", net of the wire's {transport.p50_ms:.3f} ms echo (raw "
           f"{result.at(target.percentile):.3f} ms)")
    ]
    multiple = overhead(result, floor_result)
    if bounded_by_floor and multiple is not None and multiple > target.floor_multiple:
        outcome = "fail" if settings.mode == "enforce" else "warn"
        messages.append(
            f"{spec}.{target.operation}: the median costs {multiple:.1f}x the same SQL run on a "
            f"bare sqlite3 connection ({result.p50_ms:.3f} ms against "
            f"{floor_result.p50_ms if floor_result else 0:.3f} ms); a store declaring "
            f"{caps.FLOOR_BOUND!r} may cost at most {target.floor_multiple:g}x"
        )
    record_property(LATENCY_PROPERTY, as_row(target, result, settings.scale, outcome,
                                             floor_result, transport))
    if outcome == "fail":
        pytest.fail("; ".join(messages), pytrace=False)
    if outcome == "warn":
        warnings.warn(LatencyWarning("; ".join(messages)), stacklevel=1)


def check_growth(spec: str, growth: Growth, workload: Callable[[Any, Any, int], Any],
                 small: LatencyRun[Any], large: LatencyRun[Any], settings: LatencySettings,
                 record_property: Callable[[str, object], None]) -> None:
    echo = getattr(small.store, "transport_echo", None)
    result = measure_growth(lambda i: workload(small.store, small.data, i),
                            lambda i: workload(large.store, large.data, i),
                            transport=None if echo is None else (lambda i: echo()))
    outcome = "pass"
    if grows_too_fast(growth, result):
        outcome = "fail" if settings.scaling_mode == "enforce" else "warn"
    record_property(SCALING_PROPERTY, growth_row(growth, result, outcome))
    if outcome == "fail":
        pytest.fail(describe_growth(spec, growth, result), pytrace=False)
    if outcome == "warn":
        warnings.warn(LatencyWarning(describe_growth(spec, growth, result)), stacklevel=1)


class LatencySuite:
    """Every spec's latency and scaling checks; a suite module subclasses it as ``TestLatency``.

    The subclass sets ``spec``, ``targets`` (its latency table: target, workload,
    floor), ``scaling`` (its scaling table: growth, workload) and
    ``load(store, transactional, calls, size)`` building the seeded dataset of
    ``size`` rows.  The plugin parametrizes ``latency_row`` over ``targets`` and
    ``scaling_row`` over ``scaling``.
    """

    spec: ClassVar[str]
    targets: ClassVar[tuple[tuple[LatencyTarget, Any, Any], ...]]
    scaling: ClassVar[tuple[tuple[Growth, Any], ...]]

    @staticmethod
    def load(store: Any, transactional: bool, calls: int, size: int) -> Any:
        raise NotImplementedError

    @classmethod
    def _loaded(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory, calls: int,
                size: int, config: pytest.Config) -> Iterator[LatencyRun[Any]]:
        progress(config, f"seeding {size:,} rows of {cls.spec} on {backend.backend.name} for "
                 "the latency and scaling checks")
        location = backend.backend.new_location(cls.spec, tmp_path_factory.mktemp("latency"))
        store = backend.backend.open(cls.spec, location)
        try:
            data = cls.load(store, caps.TRANSACTIONS in backend.capabilities, calls, size)
            yield LatencyRun(store, data, location)
        finally:
            store.close()
            backend.backend.discard(location)

    @pytest.fixture(scope="class")
    @classmethod
    def dataset(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory,
                latency_budget: Budget, pytestconfig: pytest.Config) -> Iterator[LatencyRun[Any]]:
        """The seeded dataset (``LARGE`` rows), loaded once per backend.

        The scaling checks run on it too, before the latency checks; their
        writes use keys of their own, so neither disturbs the other.
        """
        yield from cls._loaded(backend, tmp_path_factory,
                               latency_budget.warmup + latency_budget.min_samples, LARGE,
                               pytestconfig)

    @pytest.fixture(scope="class")
    @classmethod
    def small_dataset(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory,
                      latency_budget: Budget, pytestconfig: pytest.Config
                      ) -> Iterator[LatencyRun[Any]]:
        """The same dataset with ``SMALL`` rows, for the scaling checks."""
        yield from cls._loaded(backend, tmp_path_factory,
                               latency_budget.warmup + latency_budget.min_samples, SMALL,
                               pytestconfig)

    def test_cost_does_not_grow_with_the_data(
        self, scaling_row: tuple[Growth, Any], small_dataset: LatencyRun[Any],
        dataset: LatencyRun[Any], latency_settings: LatencySettings,
        record_property: Callable[[str, object], None],
    ) -> None:
        if latency_settings.scaling_mode == "off":
            pytest.skip("scaling checks are off (--scaling=off)")
        growth, workload = scaling_row
        check_growth(self.spec, growth, workload, small_dataset, dataset, latency_settings,
                     record_property)

    def test_operation_meets_its_target(
        self, latency_row: tuple[LatencyTarget, Any, Any], dataset: LatencyRun[Any],
        latency_budget: Budget, latency_settings: LatencySettings,
        record_property: Callable[[str, object], None], backend: Any,
    ) -> None:
        target, workload, floor = latency_row
        check_target(self.spec, target, workload, floor, dataset, latency_budget,
                     latency_settings, record_property,
                     bounded_by_floor=caps.FLOOR_BOUND in backend.capabilities)
