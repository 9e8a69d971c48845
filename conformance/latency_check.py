"""The body of every spec's latency and scaling checks: measure, compare, judge, record."""

from __future__ import annotations

import os
import sqlite3
import statistics
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import progress
from storecheck.conformance.latency import (
    REMEASURES,
    ROUNDS_PER_BUDGET,
    Budget,
    Interleaved,
    LatencyTarget,
    as_row,
    judge,
    summarise,
)
from storecheck.conformance.scaling import (
    LARGE,
    LARGEST,
    SMALL,
    Growth,
    GrowthMeasurement,
    describe_growth,
    grows_too_fast,
    growth_row,
    measure_growth,
    pooled,
    surely_too_fast,
)
from storecheck.conformance.timing import (
    CONFIDENCE,
    load_free,
    machine_load,
    samples_needed,
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


RELIEF = ("on a machine slower than the seeds' targets assume, --latency-scale=FACTOR "
          "multiplies every target by FACTOR and --latency=warn reports a miss without failing")
"""Said with every latency miss, so the person reading it knows the two ways out."""


def _measured(series: dict[str, Callable[[int], Any]], budget: Budget) -> Interleaved:
    """The warmed-up measurement; a floor whose SQL cannot run on the store (a SQLite store
    with a schema of its own) is left out, which reports no floor rather than a failure."""
    timed = Interleaved(series)
    try:
        timed.warm(budget.warmup)
    except sqlite3.Error:
        if "floor" not in series:
            raise
        timed = Interleaved({name: call for name, call in series.items() if name != "floor"})
        timed.warm(budget.warmup)
    return timed


def _abandon(conn: sqlite3.Connection) -> None:
    """A floor that failed midway may have left its transaction open, holding the write
    lock the store needs next."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _net(values: list[int], transport: list[int]) -> list[int]:
    """Store times less the wire's median echo (an ``exec:`` backend's round trip)."""
    echo = statistics.median(transport)
    return [max(0, round(value - echo)) for value in values]


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
    in_process: bool = False,
) -> None:
    """Time the store (interleaved round by round with its floor and, behind a wire, the
    echo), then judge: a wall-time percentile within the target passes; a load-free
    percentile whose confidence bound misses it fails; anything between is measured again
    (``REMEASURES`` times, the rounds pooled; under ``--latency=warn`` not at all) and then
    reported inconclusive (a warning, with the machine's load as evidence).  The floor
    multiple is the median of per-round ratios of load-free medians, re-measured the same
    way before it fails."""
    database = _floor_connection(run.store, run.location) if floor is not None else None
    series: dict[str, Callable[[int], Any]] = {}
    try:
        if database is not None and floor is not None:
            conn = database.connection()

            def bare_sql(i: int) -> None:
                try:
                    floor(conn, run.data, i)
                except sqlite3.Error:
                    _abandon(conn)
                    raise

            series["floor"] = bare_sql
        series["store"] = lambda i: workload(run.store, run.data, i)
        echo = getattr(run.store, "transport_echo", None)
        if echo is not None:
            series["transport"] = lambda i: echo()
        timed = _measured(series, budget)
        has_floor = "floor" in timed.series
        needed = samples_needed(target.percentile)
        for _attempt in range(1 + REMEASURES):
            timed.measure(budget, needed)
            samples = timed.samples("store")
            walls = [sample.wall_ns for sample in samples]
            free = load_free(samples, in_process)
            if echo is not None:
                wire = timed.samples("transport")
                walls = _net(walls, [sample.wall_ns for sample in wire])
                free = _net(free, load_free(wire, in_process))
            judged = judge(target, walls, free, settings.scale)
            multiple = (statistics.median(timed.round_ratios("store", "floor", in_process))
                        if has_floor else None)
            floor_missed = (bounded_by_floor and multiple is not None
                            and multiple > target.floor_multiple)
            settled = judged.outcome == "fail" or (judged.outcome == "pass" and not floor_missed)
            # Measuring again can only turn a failure into a pass or a warning: under
            # --latency=warn nothing fails, so the first measurement stands.
            if settled or settings.mode != "enforce":
                break
    finally:
        if database is not None:
            database.close()
    result = summarise([sample.wall_ns for sample in samples])
    floor_result = (summarise([sample.wall_ns for sample in timed.samples("floor")])
                    if has_floor else None)
    transport = (summarise([sample.wall_ns for sample in timed.samples("transport")])
                 if echo is not None else None)
    load = machine_load(samples)
    rounds = len(timed.rounds["store"])
    percent = f"p{target.percentile:g}"
    limit = target.target_ms * settings.scale
    measured = (f"{percent} {judged.wall_ms:.3f} ms over {judged.samples} samples in {rounds} "
                f"rounds (a {percent} is judged on at least {judged.needed})"
                + ("" if echo is None else ", net of the wire's echo"))
    failures: list[str] = []
    doubts: list[str] = []
    if judged.outcome == "fail":
        failures.append(
            f"{spec}.{target.operation}: expected {percent} <= {limit:g} ms on {target.dataset} "
            f"rows; measured {measured}; net of the machine's load it is "
            f"{judged.load_free_ms:.3f} ms, at least {judged.lower_ms:.3f} ms with "
            f"{CONFIDENCE:.0%} confidence ({target.source}); {load.describe()}")
    elif judged.outcome == "unsure":
        cause = ("the machine was busy" if load.slowdown > 1.1 else
                 f"the miss is within the noise of {judged.samples} samples")
        doubts.append(
            f"{spec}.{target.operation}: inconclusive, {cause}: {measured} exceeds {limit:g} ms, "
            f"but net of the machine's load it is {judged.load_free_ms:.3f} ms and at least "
            f"{judged.lower_ms:.3f} ms with {CONFIDENCE:.0%} confidence, after "
            f"{1 + REMEASURES} measurements; {load.describe()}")
    if bounded_by_floor and multiple is not None and multiple > target.floor_multiple:
        failures.append(
            f"{spec}.{target.operation}: the median costs {multiple:.1f}x the same SQL run on a "
            f"bare sqlite3 connection (median of {rounds} interleaved rounds' ratios, net of the "
            f"machine's load; {result.p50_ms:.3f} ms against "
            f"{floor_result.p50_ms if floor_result else 0:.3f} ms wall); a store declaring "
            f"{caps.FLOOR_BOUND!r} may cost at most {target.floor_multiple:g}x")
    outcome = "pass"
    if failures:
        outcome = "fail" if settings.mode == "enforce" else "warn"
    elif doubts:
        outcome = "inconclusive"
    record_property(LATENCY_PROPERTY, as_row(target, result, settings.scale, outcome,
                                             floor_result, transport, multiple=multiple,
                                             judged=judged, load=load))
    if outcome == "fail":
        pytest.fail("; ".join(failures) + f". {RELIEF[0].upper()}{RELIEF[1:]}.", pytrace=False)
    if failures or doubts:
        warnings.warn(LatencyWarning("; ".join(failures + doubts)), stacklevel=1)


def check_growth(spec: str, growth: Growth, workload: Callable[[Any, Any, int], Any],
                 small: LatencyRun[Any], large: LatencyRun[Any], settings: LatencySettings,
                 record_property: Callable[[str, object], None], in_process: bool = False,
                 budget: Budget | None = None,
                 sizes: tuple[int, int] = (SMALL, LARGE)) -> None:
    """Growth too fast is measured again (``REMEASURES`` times, every round's ratio pooled)
    before it fails, unless its rounds leave no doubt (:func:`surely_too_fast`): a real
    growth stays, a burst of load on one size does not.  Each size's part of a round ends
    after a tenth of the budget's time (with five calls at least), so a slow store's check
    ends in seconds.  Under ``--scaling=warn`` nothing fails, so the first measurement
    stands."""
    echo = getattr(small.store, "transport_echo", None)

    def measured(first_index: int) -> GrowthMeasurement:
        return measure_growth(lambda i: workload(small.store, small.data, i),
                              lambda i: workload(large.store, large.data, i),
                              transport=None if echo is None else (lambda i: echo()),
                              in_process=in_process, first_index=first_index,
                              warmup=10 if first_index == 0 else 0,
                              round_seconds=None if budget is None
                              else budget.seconds / ROUNDS_PER_BUDGET)

    result = measured(0)
    for _ in range(REMEASURES if settings.scaling_mode == "enforce" else 0):
        if not grows_too_fast(growth, result) or surely_too_fast(growth, result):
            break
        result = pooled(result, measured(result.next_index))
    outcome = "pass"
    if grows_too_fast(growth, result):
        outcome = "fail" if settings.scaling_mode == "enforce" else "warn"
    record_property(SCALING_PROPERTY, growth_row(growth, result, outcome, sizes))
    if outcome == "fail":
        pytest.fail(describe_growth(spec, growth, result, sizes), pytrace=False)
    if outcome == "warn":
        warnings.warn(LatencyWarning(describe_growth(spec, growth, result, sizes)),
                      stacklevel=1)


def _calls(budget: Budget) -> int:
    """How many calls a workload may make: its inputs are built with the dataset."""
    return budget.warmup + budget.min_samples * (1 + REMEASURES)


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
        yield from cls._loaded(backend, tmp_path_factory, _calls(latency_budget), LARGE,
                               pytestconfig)

    @pytest.fixture(scope="class")
    @classmethod
    def small_dataset(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory,
                      latency_budget: Budget, pytestconfig: pytest.Config
                      ) -> Iterator[LatencyRun[Any]]:
        """The same dataset with ``SMALL`` rows, for the scaling checks."""
        yield from cls._loaded(backend, tmp_path_factory, _calls(latency_budget), SMALL,
                               pytestconfig)

    def test_cost_does_not_grow_with_the_data(
        self, scaling_row: tuple[Growth, Any], small_dataset: LatencyRun[Any],
        dataset: LatencyRun[Any], latency_settings: LatencySettings, latency_budget: Budget,
        record_property: Callable[[str, object], None], backend: Any,
    ) -> None:
        self._check_scaling(scaling_row, small_dataset, dataset, latency_settings,
                            latency_budget, record_property, backend, (SMALL, LARGE))

    def _check_scaling(self, row: tuple[Growth, Any], small: LatencyRun[Any],
                       large: LatencyRun[Any], settings: LatencySettings, budget: Budget,
                       record_property: Callable[[str, object], None], backend: Any,
                       sizes: tuple[int, int]) -> None:
        if settings.scaling_mode == "off":
            pytest.skip("scaling checks are off (--scaling=off)")
        growth, workload = row
        check_growth(self.spec, growth, workload, small, large, settings, record_property,
                     in_process=caps.IN_PROCESS in backend.capabilities, budget=budget,
                     sizes=sizes)

    def test_operation_meets_its_target(
        self, latency_row: tuple[LatencyTarget, Any, Any], dataset: LatencyRun[Any],
        latency_budget: Budget, latency_settings: LatencySettings,
        record_property: Callable[[str, object], None], backend: Any,
    ) -> None:
        target, workload, floor = latency_row
        check_target(self.spec, target, workload, floor, dataset, latency_budget,
                     latency_settings, record_property,
                     bounded_by_floor=caps.FLOOR_BOUND in backend.capabilities,
                     in_process=caps.IN_PROCESS in backend.capabilities)


class LargestScalingSuite(LatencySuite):
    """The scaling check once more, from ``LARGE`` to ``LARGEST`` rows, for a spec whose seed
    asks some operations to stay fast on far more data than the latency table's; its
    ``TestLatency`` derives from this class instead and names those rows."""

    largest_scaling: ClassVar[tuple[tuple[Growth, Any], ...]]
    """Rows of ``scaling`` that the thorough profile also times from ``LARGE`` to
    ``LARGEST`` rows."""

    @pytest.fixture(scope="class")
    @classmethod
    def largest_dataset(cls, backend: Any, tmp_path_factory: pytest.TempPathFactory,
                        latency_budget: Budget, pytestconfig: pytest.Config
                        ) -> Iterator[LatencyRun[Any]]:
        """The same dataset with ``LARGEST`` rows (the thorough profile only)."""
        yield from cls._loaded(backend, tmp_path_factory, _calls(latency_budget), LARGEST,
                               pytestconfig)

    def test_cost_does_not_grow_to_the_largest_dataset(
        self, largest_scaling_row: tuple[Growth, Any], dataset: LatencyRun[Any],
        largest_dataset: LatencyRun[Any], latency_settings: LatencySettings,
        latency_budget: Budget, record_property: Callable[[str, object], None], backend: Any,
    ) -> None:
        """The same bound as from ``SMALL`` to ``LARGE``, from ``LARGE`` to ``LARGEST``:
        an index walked at log n keeps it; a scan, a sort or a cache sized to the data
        breaks it only past the latency table's dataset."""
        self._check_scaling(largest_scaling_row, dataset, largest_dataset, latency_settings,
                            latency_budget, record_property, backend, (LARGE, LARGEST))
