"""Every situation a spec's ``model`` check declares (:mod:`storecheck.conformance.reach`) is
reached by that machine at the quick profile: ties in every ordered result, instants at and
a microsecond either side of stored ones, every write done twice, the spec's degenerate
figures and named sizes.  A situation no run reaches is a bug class the suite cannot catch.

The run is derandomized, so the verdict is the same on every machine; the situations that
random draws reach only now and then are reached on purpose by the machines' starting rows.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    INITIALIZE_RULE_MARKER,
    INVARIANT_MARKER,
    run_state_machine_as_test,
)
from storecheck.conformance import reach, stateful
from storecheck.plugin.profiles import PROFILES
from storecheck.reference_impl.memory.backend import MEMORY_BACKEND

from tests.machines import MACHINES

QUICK = PROFILES["quick"]


@pytest.mark.parametrize("spec", sorted(MACHINES))
def test_the_model_check_reaches_every_situation_it_declares_at_the_quick_profile(
        spec: str, tmp_path: Path) -> None:
    machine = MACHINES[spec]
    found = reach.Reach(machine.protocol, machine.situations)
    with reach.collecting(found):
        run_state_machine_as_test(machine.build(MEMORY_BACKEND, tmp_path), settings=settings(
            max_examples=QUICK.examples, stateful_step_count=QUICK.steps, derandomize=True,
            deadline=None, suppress_health_check=list(HealthCheck), database=None))
    missed = found.missed()
    print(f"{spec}: {len(found.reached)} of {len(machine.situations)} situations reached")
    assert not missed, (f"{spec}: {len(missed)} of {len(machine.situations)} declared situations"
                        " never reached at the quick profile:\n" + "\n".join(missed))


def test_a_situation_never_reached_is_reported_by_name() -> None:
    machine = MACHINES["telemetry"]
    unreachable = reach.sometimes("list_training_runs: a run older than the year 1",
                                  "list_training_runs", lambda call: False)
    found = reach.Reach(machine.protocol, (*machine.situations, unreachable))
    found.reached.update(s.name for s in machine.situations)
    assert found.missed() == ["list_training_runs: a run older than the year 1"]


@pytest.mark.parametrize("spec", sorted(MACHINES))
def test_the_starting_rows_alone_reach_every_situation_but_the_repeated_writes(
        spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the draws reach can differ between two processes (one CI run missed a tie that
    local runs reached); what each example's start reaches cannot.  So every declared
    situation is reached by the start and the invariant after it, except the writes done
    again, which the machine's rule for them reaches."""
    monkeypatch.setattr(stateful, "note", lambda _text: None)
    machine = MACHINES[spec]
    found = reach.Reach(machine.protocol, machine.situations)
    with reach.collecting(found):
        state = machine.build(MEMORY_BACKEND, tmp_path)()
        try:
            for marker, arguments in ((INITIALIZE_RULE_MARKER, {"seed": 0}),
                                      (INVARIANT_MARKER, {})):
                for name, member in inspect.getmembers(type(state)):
                    rule = getattr(member, marker, None)
                    if rule is not None:
                        getattr(state, name)(**{key: value for key, value in arguments.items()
                                                if key in rule.arguments})
        finally:
            state.teardown()
    missed = [name for name in found.missed() if ": done again on what it did before" not in name]
    assert not missed, f"{spec}: not reached by the starting rows:\n" + "\n".join(missed)
