"""The base of every spec's stateful ``model`` check: one store, one model, every result compared."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, note, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from storecheck.conformance import reach
from storecheck.conformance.backend import lacking_operations
from storecheck.conformance.checks import SpecMismatch, outcome
from storecheck.conformance.result_diff import IdMap, StoreAssignedIds, outcome_differences
from storecheck.conformance.specs import SPECS

Compared = tuple[str, Callable[[Any, bool], Any], Callable[[Any], Any] | None]
"""An operation's label, its call on either side and the normalisation of its result."""

AGAIN_SHIFTS = (timedelta(0), timedelta(microseconds=1), timedelta(seconds=1),
                timedelta(days=-1))
"""How far a write done again moves every instant it passes: not at all (the same call), a
microsecond and a second later (the same soft delete twice), a day earlier."""


class ComparingMachine(RuleBasedStateMachine):
    """Subclasses add rules; each rule calls :meth:`both` with the operation to compare."""

    spec: ClassVar[str]
    assigned: ClassVar[StoreAssignedIds]
    backend: ClassVar[Any]
    workdir: ClassVar[Path]
    make_model: ClassVar[Callable[[], Any]]

    lacking: ClassVar[frozenset[str]] = frozenset()
    """The operations the backend declares its stores lack (set by :func:`run_machine`)."""

    def __init__(self) -> None:
        super().__init__()
        self.location = self.backend.new_location(self.spec, self.workdir / uuid.uuid4().hex)
        self.store = self.backend.open(self.spec, self.location)
        self.model = type(self).make_model()
        self.ids = IdMap()
        self.reach = reach.active()
        self.history: list[reach.Call] = []
        """The example's calls of the model, when a run collects what it reaches."""
        self.writes = {op.name for op in SPECS[self.spec].operations if op.writes}
        self.reads = {op.name for op in SPECS[self.spec].operations if not op.writes}
        self.writes_done: list[Compared] = []
        """Every write the example has done that succeeded on the model."""
        self.unchecked = True
        """Whether a call other than one of the spec's reads was made since the invariant
        last read everything back (see :func:`after_changes`)."""

    def teardown(self) -> None:
        self.store.close()
        self.backend.discard(self.location)

    def both(self, operation: str, call: Callable[[Any, bool], Any],
             normalise: Callable[[Any], Any] | None = None) -> Any:
        """Run ``call(store, is_backend)`` on the backend and on the model; outcomes must agree.

        ``normalise`` maps both results before comparing, for operations whose
        spec leaves part of the order open.
        """
        if operation not in self.reads:
            self.unchecked = True
        model = (self.model if self.reach is None
                 else reach.ObservedModel(self.model, self.reach, self.history))
        if operation in self.lacking:
            return self._without_the_store(operation, call, model)
        mine = outcome(lambda: call(self.store, True))
        theirs = outcome(lambda: call(model, False))
        note(_brief(f"{operation}: model {theirs.describe()}"))
        if normalise is not None:
            mine = type(mine)(normalise(mine.value), mine.error) if mine.error is None else mine
            theirs = (type(theirs)(normalise(theirs.value), theirs.error)
                      if theirs.error is None else theirs)
        problems = outcome_differences(mine, theirs, self.ids, self.assigned)
        if problems:
            raise SpecMismatch(
                f"{self.spec}.{operation}: expected the model's result; " + "; ".join(problems[:5])
            )
        if operation in self.writes and theirs.error is None:
            self.writes_done.append((operation, call, normalise))
        return theirs.value

    def _without_the_store(self, operation: str, call: Callable[[Any, bool], Any],
                           model: Any) -> Any:
        """An operation the store lacks, met inside another rule (a start, a read-back): a
        read is answered by the model alone, which it does not change; a write is done on
        neither side, so the two stay alike, and what it would have returned is a
        :class:`_Lacking` that stops the check as one needing it if the rule uses it."""
        if operation in self.writes:
            note(f"{operation}: not implemented; done on neither side")
            return _Lacking(operation)
        theirs = outcome(lambda: call(model, False))
        note(_brief(f"{operation}: not implemented; the model alone {theirs.describe()}"))
        return theirs.value

    @precondition(lambda self: bool(self.writes_done))
    @rule(data=st.data())
    def every_write_again(self, data: st.DataObject) -> None:
        """The latest call of every write the example did, done again, in the order the writes
        were first done: the second delete, completion, append or progress report is where
        counters double, timestamps move and guards are missing.  One rule does them all, so
        that each is repeated in most examples (a rule among thirty fires about once in
        each); every machine's start does each write once, so there is one to repeat."""
        latest = {operation: (operation, call, normalise)
                  for operation, call, normalise in self.writes_done}
        for operation, call, normalise in list(latest.values()):
            shift = data.draw(st.sampled_from(AGAIN_SHIFTS), label=f"{operation}: shift")
            note(f"again: {operation}, its instants moved by {shift}")
            self.both(operation, partial(_shifted_call, call, shift), normalise)

    def backend_id(self, kind: str, model_id: Any, backend_side: bool) -> Any:
        return self.ids.to_backend(kind, model_id) if backend_side else model_id


def after_changes(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """An invariant that reads everything back, run only after a step that did more than
    the spec's reads: after reads alone, what is stored is what the last run saw.  A read
    that changed the store anyway shows at the next run, after the next write.  Behind a
    wire or a server every call is a round trip: served, app_meta's model check makes a
    fifth fewer calls."""

    @functools.wraps(check)
    def checked(machine: Any) -> None:
        if machine.unchecked:
            check(machine)
            machine.unchecked = False

    return checked


def _shifted_call(call: Callable[[Any, bool], Any], shift: timedelta, store: Any,
                  backend_side: bool) -> Any:
    return call(ShiftedInstants(store, shift), backend_side)


class ShiftedInstants:
    """A store (or model) whose every call has its instants moved by ``shift``, those inside
    input records and batches included."""

    def __init__(self, store: Any, shift: timedelta) -> None:
        self._store = store
        self._shift = shift

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute) or not self._shift:
            return attribute
        return lambda *args, **kwargs: attribute(
            *(_shifted(a, self._shift) for a in args),
            **{k: _shifted(v, self._shift) for k, v in kwargs.items()})


def _shifted(value: Any, shift: timedelta) -> Any:
    if isinstance(value, datetime):
        try:
            return value + shift
        except OverflowError:
            return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{
            item.name: _shifted(getattr(value, item.name), shift)
            for item in dataclasses.fields(value) if item.init})
    if isinstance(value, list | tuple):
        return type(value)(_shifted(item, shift) for item in value)
    return value


def for_the_store(machine: type[ComparingMachine]) -> type[ComparingMachine]:
    """``machine`` as its backend's stores can run it: a rule named after an operation the
    backend declares they lack never fires (a precondition that never holds), and the
    other rules meet it as :meth:`ComparingMachine.both` says."""
    lacking = lacking_operations(machine.backend, machine.spec)
    if not lacking:
        return machine
    never = precondition(lambda self: False)
    gated = {name: never(getattr(machine, name)) for name in sorted(lacking)
             if callable(getattr(machine, name, None))}
    return type(machine.__name__, (machine,), {**gated, "lacking": lacking})


def run_machine(machine: type[ComparingMachine], profile: Any) -> None:
    run_state_machine_as_test(
        for_the_store(machine),
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


NOTE_CHARS = 100
"""How much of a step's result its note keeps: the steps of a failing sequence are read for
what was called in which order; the one result that differs is in the failure itself."""


def _brief(text: str) -> str:
    return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS - 3] + "..."


class _Lacking:
    """What a write the store lacks would have returned: any use of it is the
    ``AttributeError`` of the missing operation, which the plugin reports as a check that
    needs it (not implemented), never as a failure of the store."""

    def __init__(self, operation: str) -> None:
        self._operation = operation

    def _needed(self) -> AttributeError:
        return AttributeError(f"the store has no attribute {self._operation!r} (declared not "
                              "implemented), and this check uses what it returns",
                              name=self._operation)

    def __getattr__(self, name: str) -> Any:
        raise self._needed()

    def __iter__(self) -> Any:
        raise self._needed()

    def __getitem__(self, key: Any) -> Any:
        raise self._needed()

    def __len__(self) -> int:
        raise self._needed()

    def __bool__(self) -> bool:
        raise self._needed()
