"""``isolation``: concurrent ``atomic()`` blocks over predictions are serializable.

A register is a prediction's ground truth (read from ``predictions_for_run``,
written with ``update_prediction_ground_truth``); a group is a training run's
predictions (``predictions_for_run`` / ``insert_prediction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from storecheck.conformance.isolation import IsolationSuite
from storecheck.conformance.specs.telemetry import SPEC, NewPrediction, NewTrainingRun
from storecheck.fixtures.telemetry import T0

pytestmark = pytest.mark.isolation


class TestIsolation(IsolationSuite):
    spec = SPEC

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]:
        run = self.group(store, tag, 0)
        found = []
        for index, value in enumerate(values):
            prediction = f"{tag}-{index}"
            store.insert_prediction(NewPrediction(prediction, run, "label", 0.5, T0))
            found.append((run, prediction))
            self.write(store, found[-1], value)
        return found

    def read(self, store: Any, register: Any) -> int:
        run, prediction = register
        (found,) = [p for p in store.predictions_for_run(run) if p.id == prediction]
        return int(found.actual_value)

    def write(self, store: Any, register: Any, value: int) -> None:
        store.update_prediction_ground_truth(register[1], str(value))

    def group(self, store: Any, tag: str, members: int) -> Any:
        store.insert_training_run(NewTrainingRun(tag, "isolation", "1", T0))
        for index in range(members):
            self.add_member(store, tag, -1 - index)
        return tag

    def add_member(self, store: Any, group: Any, index: int) -> None:
        store.insert_prediction(NewPrediction(f"{group}-p{index}", group, "label", 0.5, T0))

    def count(self, store: Any, group: Any) -> int:
        return len(store.predictions_for_run(group))
