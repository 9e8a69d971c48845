"""The base of every spec's stateful ``model`` check: one store, one model, every result compared."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, note, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from storecheck.conformance.checks import SpecMismatch, outcome
from storecheck.conformance.result_diff import IdMap, StoreAssignedIds, outcome_differences


class ComparingMachine(RuleBasedStateMachine):
    """Subclasses add rules; each rule calls :meth:`both` with the operation to compare."""

    spec: ClassVar[str]
    assigned: ClassVar[StoreAssignedIds]
    backend: ClassVar[Any]
    workdir: ClassVar[Path]
    make_model: ClassVar[Callable[[], Any]]

    def __init__(self) -> None:
        super().__init__()
        self.location = self.backend.new_location(self.spec, self.workdir / uuid.uuid4().hex)
        self.store = self.backend.open(self.spec, self.location)
        self.model = type(self).make_model()
        self.ids = IdMap()

    def teardown(self) -> None:
        self.store.close()
        self.backend.discard(self.location)

    def both(self, operation: str, call: Callable[[Any, bool], Any],
             normalise: Callable[[Any], Any] | None = None) -> Any:
        """Run ``call(store, is_backend)`` on the backend and on the model; outcomes must agree.

        ``normalise`` maps both results before comparing, for operations whose
        spec leaves part of the order open.
        """
        mine = outcome(lambda: call(self.store, True))
        theirs = outcome(lambda: call(self.model, False))
        note(f"{operation}: model {theirs.describe()}")
        if normalise is not None:
            mine = type(mine)(normalise(mine.value), mine.error) if mine.error is None else mine
            theirs = (type(theirs)(normalise(theirs.value), theirs.error)
                      if theirs.error is None else theirs)
        problems = outcome_differences(mine, theirs, self.ids, self.assigned)
        if problems:
            raise SpecMismatch(
                f"{self.spec}.{operation}: expected the model's result; " + "; ".join(problems[:5])
            )
        return theirs.value

    def backend_id(self, kind: str, model_id: Any, backend_side: bool) -> Any:
        return self.ids.to_backend(kind, model_id) if backend_side else model_id


def run_machine(machine: type[ComparingMachine], profile: Any) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=profile.examples,
            stateful_step_count=profile.steps,
            phases=profile.phases,
            deadline=None,
            # The blob needs a decorated test of the user's own; the rerun command
            # the plugin prints replays the saved example instead.
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        ),
    )
