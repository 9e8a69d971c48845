"""The body of every spec's latency check: measure, compare with the floor, judge, record."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest
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
