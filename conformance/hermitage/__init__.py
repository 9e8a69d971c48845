"""Hermitage's anomaly tests, run on a store's own engine at every isolation level it offers.

Hermitage (Kleppmann) documents which concurrency anomalies each database's
isolation levels prevent; :mod:`.cases` holds its tests as data,
:mod:`.orchestrator` runs them on real sessions, and :mod:`.engines` says what
each engine offers and what was published for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storecheck.conformance.hermitage.cases import CASES, Case
from storecheck.conformance.hermitage.engines import ANOMALIES, ENGINES, Engine
from storecheck.conformance.hermitage.orchestrator import Cell, run_case

__all__ = ["ANOMALIES", "CASES", "ENGINES", "Case", "Cell", "Engine", "differences", "measure"]


def measure(engine: Engine, connect: Callable[[], Any]) -> list[Cell]:
    """Every case at every level of ``engine``, on sessions from ``connect()``."""
    return [run_case(case, level, engine, connect) for level in engine.levels for case in CASES]


def differences(engine: Engine, cells: list[Cell]) -> list[str]:
    """Each cell that disagrees with the engine's reference table, as a line."""
    return [f"{cell.anomaly} at {cell.level} {cell.shown()}, published "
            f"{'prevented' if engine.reference[(cell.anomaly, cell.level)] else 'exhibited'}"
            + (f" [{'; '.join(cell.errors)}]" if cell.errors else "")
            for cell in cells if engine.reference[(cell.anomaly, cell.level)] == cell.exhibited]
