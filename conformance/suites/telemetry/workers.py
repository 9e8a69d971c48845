"""Code run inside spawned worker processes by the telemetry checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storecheck.conformance.checks import wait_until
from storecheck.conformance.specs.telemetry import SPEC
from storecheck.fixtures.telemetry import T0


def prune_until_killed(backend: Any, location: str, started: Any) -> None:
    """Signal, then prune; the parent kills this process while the prune runs."""
    store = backend.open(SPEC, location)
    started.set()
    store.prune_old_data(T0 + timedelta(days=365))
    store.close()


def record_results(backend: Any, location: str, worker: int, count: int,
                   start_at: float) -> list[str]:
    """``count`` results for variant ``a`` of the shared test, every third a success."""
    store = backend.open(SPEC, location)
    wait_until(start_at)
    errors = []
    try:
        for n in range(count):
            try:
                store.record_ab_result("shared", "a", n % 3 == 0)
            except Exception as exc:  # reported, never swallowed: any error fails the check
                errors.append(f"worker {worker}: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    return errors
