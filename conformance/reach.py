"""Situations a spec's ``model`` check must reach: coverage of states, not of lines.

A check that never produces two results with the same sort key cannot catch a store that
breaks ties the wrong way; one that never asks for an instant exactly equal to a stored one
cannot catch ``<`` written for ``<=``.  Every such situation is declared beside the spec's
stateful machine (:class:`Situation`), and the machine reports each call it makes on the
model (the oracle, so what was reached does not depend on the store under test) to the
active :class:`Reach`.  The project's tests run every machine at the quick profile and fail
on a declared situation no run reached, as Antithesis' "sometimes" assertions do: a blind
spot becomes a red test instead of a survivor found later.

:func:`derived` reads what it can from the spec module (the operations that write, the
instants every read compares); the rest is declared by name with :func:`tie`,
:func:`tie_across_pages` and :func:`sometimes`.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Call:
    """One call the machine made on the model, its arguments bound to the Protocol's names."""

    operation: str
    arguments: Mapping[str, Any]
    result: Any
    error: BaseException | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Situation:
    name: str
    reached_by: Callable[[Call, Sequence[Call]], bool]
    """Whether this call, after the example's earlier calls, reaches the situation."""


def sometimes(name: str, operation: str, predicate: Callable[[Call], bool]) -> Situation:
    """Reached when a call of ``operation`` satisfies ``predicate``."""
    return Situation(name, lambda call, _earlier: (
        call.operation == operation and predicate(call)))


def tie(operation: str, *fields: str, within: Callable[[Any], Sequence[Any]] | None = None,
        what: str = "results") -> Situation:
    """Two items of one result share the sort key ``fields``: the stated tie-break decides.

    ``within`` picks the ordered sequence out of a result that is not one itself.
    """
    def reached(call: Call, _earlier: Sequence[Call]) -> bool:
        if call.operation != operation or not call.succeeded:
            return False
        keys = _keys(within(call.result) if within is not None else call.result, fields)
        return len(set(keys)) < len(keys)

    return Situation(f"{operation}: two {what} tied on {', '.join(fields)}", reached)


def tie_across_pages(operation: str, *fields: str,
                     items: Callable[[Any], Sequence[Any]]) -> Situation:
    """A page ends on an item whose sort key the next page's first item shares: the keyset
    cursor must carry the tie-break, or the next page repeats or skips one."""
    def reached(call: Call, earlier: Sequence[Call]) -> bool:
        if (call.operation != operation or not call.succeeded or not earlier
                or call.arguments.get("after") is None):
            return False
        before = earlier[-1]
        if before.operation != operation or not before.succeeded:
            return False
        last, first = _keys(items(before.result), fields)[-1:], _keys(items(call.result),
                                                                       fields)[:1]
        return bool(last) and last == first

    return Situation(f"{operation}: a page boundary between two results tied on "
                     f"{', '.join(fields)}", reached)


def _keys(items: Sequence[Any], fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(item, name) for name in fields) for item in items]


def derived(module: ModuleType,
            compared: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], datetime]]]
            | None = None) -> tuple[Situation, ...]:
    """What the spec module tells: every instant a read compares, at a stored instant and a
    microsecond either side, and every write done again on what it did before (the same
    arguments, input records named by their first field; at another instant where it takes
    one: the same soft delete twice must not move the first one's time).

    ``compared`` names, for a read whose compared instant is computed from its arguments
    (``now - days``), that instant's description and computation, in place of each instant
    parameter.
    """
    protocol = protocol_of(module)
    compared = compared or {}
    situations: list[Situation] = []
    for operation in module.OPERATIONS:
        parameters = _instant_parameters(protocol, operation.name)
        if operation.writes:
            situations.append(_again(operation.name, parameters))
            continue
        instants: list[tuple[str, Callable[[Mapping[str, Any]], Any]]] = (
            [compared[operation.name]] if operation.name in compared
            else [(name, operator.itemgetter(name)) for name in parameters])
        for description, instant in instants:
            for offset, where in ((-MICROSECOND, "a microsecond before"),
                                  (timedelta(0), "exactly at"),
                                  (MICROSECOND, "a microsecond after")):
                situations.append(_at_stored_instant(operation.name, description, instant,
                                                     offset, where))
    return tuple(situations)


def protocol_of(module: ModuleType) -> type:
    """The spec's Protocol: the one class of the module that declares every operation."""
    names = {operation.name for operation in module.OPERATIONS}
    found = [value for value in vars(module).values()
             if isinstance(value, type) and getattr(value, "_is_protocol", False)
             and names <= set(vars(value))]
    if len(found) != 1:
        raise LookupError(f"{module.__name__}: no single Protocol declares every operation")
    return found[0]


def _instant_parameters(protocol: type, operation: str) -> tuple[str, ...]:
    hints = typing.get_type_hints(getattr(protocol, operation))
    return tuple(name for name in list(inspect.signature(getattr(protocol, operation))
                                       .parameters)[1:]
                 if hints.get(name) is datetime)


def _at_stored_instant(operation: str, description: str,
                       instant: Callable[[Mapping[str, Any]], Any], offset: timedelta,
                       where: str) -> Situation:
    def reached(call: Call, earlier: Sequence[Call]) -> bool:
        if call.operation != operation:
            return False
        try:
            asked = instant(call.arguments)
        except (TypeError, OverflowError):
            return False
        return any(asked == stored + offset
                   for before in earlier if before.succeeded
                   for stored in _instants(before.result))

    return Situation(f"{operation}: {description} {where} an instant the store returned",
                     reached)


def _again(operation: str, instants: tuple[str, ...]) -> Situation:
    def same_but_time(call: Call, before: Call) -> bool:
        return (before.operation == operation and before.succeeded
                and all(_identity(call.arguments[name]) == _identity(before.arguments[name])
                        for name in call.arguments if name not in instants)
                and (not instants or any(call.arguments[name] != before.arguments[name]
                                         for name in instants)))

    def reached(call: Call, earlier: Sequence[Call]) -> bool:
        return call.operation == operation and any(same_but_time(call, b) for b in earlier)

    where = " at another instant" if instants else ""
    return Situation(f"{operation}: done again on what it did before{where}", reached)


def _identity(argument: Any) -> Any:
    """What an argument names: an input record by its first field (its id, or the key its
    UNIQUE rule reads), a batch by its records' names, anything else by its value."""
    if dataclasses.is_dataclass(argument) and not isinstance(argument, type):
        return getattr(argument, dataclasses.fields(argument)[0].name)
    if isinstance(argument, list | tuple) and any(
            dataclasses.is_dataclass(item) for item in argument):
        return tuple(_identity(item) for item in argument)
    return argument


def _instants(value: Any) -> Iterator[datetime]:
    if isinstance(value, datetime):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _instants(getattr(value, item.name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _instants(item)


@dataclass
class Reach:
    """The situations declared for one spec and which of them a run has reached."""

    protocol: type
    situations: tuple[Situation, ...]
    reached: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        names = [situation.name for situation in self.situations]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"situations declared twice: {duplicated}")

    def observe(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                result: Any, error: BaseException | None, earlier: list[Call]) -> None:
        """Record a call of the model; ``earlier`` is the example's history, appended to."""
        if not hasattr(self.protocol, operation):
            return
        bound = inspect.signature(getattr(self.protocol, operation)).bind(None, *args, **kwargs)
        bound.apply_defaults()
        call = Call(operation, dict(list(bound.arguments.items())[1:]), result, error)
        for situation in self.situations:
            if situation.name not in self.reached and situation.reached_by(call, earlier):
                self.reached.add(situation.name)
        earlier.append(call)

    def missed(self) -> list[str]:
        return [s.name for s in self.situations if s.name not in self.reached]


_active: list[Reach] = []


@contextmanager
def collecting(reach: Reach) -> Iterator[Reach]:
    """Within the block, every model machine reports its model calls to ``reach``."""
    _active.append(reach)
    try:
        yield reach
    finally:
        _active.remove(reach)


def active() -> Reach | None:
    return _active[-1] if _active else None


class ObservedModel:
    """The model, with each call of a Protocol operation reported to ``reach``."""

    def __init__(self, model: Any, reach: Reach, history: list[Call]) -> None:
        self._model = model
        self._reach = reach
        self._history = history

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._model, name)
        if not callable(attribute) or not hasattr(self._reach.protocol, name):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attribute(*args, **kwargs)
            except Exception as error:
                self._reach.observe(name, args, kwargs, None, error, self._history)
                raise
            self._reach.observe(name, args, kwargs, result, None, self._history)
            return result

        return call
