"""The race runners' held start: a check-then-act is caught however the racers are scheduled.

The racers here start one after another, a few milliseconds apart, as a loaded machine
runs them; each call of the check-then-act mutant takes about that long, so racing alone
finds it by luck (in one run of three here).  A round that starts under a held write
catches it every time, and a correct store still gives one winner.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.checks import SpecMismatch
from storecheck.conformance.errors import Conflict
from storecheck.conformance.races import HeldWrite, Race, race_in_threads
from storecheck.conformance.specs.telemetry import SPEC
from storecheck.fixtures.telemetry import T0, TelemetryFactory
from storecheck.reference_impl.backend import SQLITE_BACKEND

from tests.mutants import telemetry as telemetry_mutants

RACERS = 6
STAGGER_S = 0.004
"""Each racer's call starts this long after the one before: longer than a whole
``end_session`` of the mutant, well inside the held write."""


class OneAfterAnother:
    """A store whose callers start their ``end_session`` in turn, a stagger apart."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._turn = 0
        self._lock = threading.Lock()

    def end_session(self, *args: Any) -> Any:
        with self._lock:
            turn, self._turn = self._turn, self._turn + 1
        time.sleep(turn * STAGGER_S)
        return self._store.end_session(*args)


def race_ending_a_session(backend: Any, tmp_path: Path, held: bool) -> None:
    location = backend.new_location(SPEC, tmp_path)
    store, other = backend.open(SPEC, location), backend.open(SPEC, location)
    try:
        factory = TelemetryFactory(seed=3)
        store.create_session(factory.session(id="raced", started_at=T0))
        other.create_session(factory.session(id="holder", started_at=T0))
        holder = HeldWrite(other, lambda holding, n: holding.record_query(
            factory.query("holder", id=f"held-{n}", timestamp=T0)))
        race = Race("end_session", ("raced", T0 + timedelta(seconds=5)), Conflict,
                    why="end the session")
        race_in_threads(OneAfterAnother(store), SPEC, [(race, held)], RACERS, holder)
    finally:
        other.close()
        store.close()


def test_a_held_start_catches_a_check_then_act_whose_racers_run_in_turn(tmp_path: Path) -> None:
    with pytest.raises(SpecMismatch, match="exactly one of 6 threads") as failure:
        race_ending_a_session(telemetry_mutants.end_checked_apart, tmp_path, held=True)
    assert str(failure.value).count("('ok', None)") >= 2, failure.value


def test_a_correct_store_has_one_winner_from_a_held_start(tmp_path: Path) -> None:
    race_ending_a_session(SQLITE_BACKEND, tmp_path, held=True)
