"""Every argument of every operation, and every field of every record, given hostile values.

A spec's Protocol says what each parameter is (a datetime, a date, a 64-bit
integer, a float, text, a sequence of text or days, a mapping, a record).  For each
operation the sweep starts from a valid call and replaces one argument, or one field of
one record argument, at a time with values of that kind at their extremes (aware
datetimes whose conversion to UTC overflows, the first and last date, integers past 64
bits, 10**400 where a float is expected, valid JSON nested 5,000 deep where text is) and
with values of the wrong kind (a ``str`` where a sequence of text is expected, which
Python would happily iterate letter by letter; a mapping, which would give its keys;
``None``; an ``int``; ``bytes``).

What a store may do with each:

* raise one of the spec's errors (``StoreError``), having stored nothing;
* succeed, for a value of the right kind (it is stored verbatim where the spec
  allows it, which the model checks compare elsewhere).

Anything else is a finding: another exception escaping (``TypeError``,
``OverflowError``, a driver's error) or a value of the wrong kind accepted.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final, Union

import pytest
from storecheck.conformance.checks import SpecMismatch
from storecheck.conformance.errors import StoreError, ValidationError

ValidCall = Callable[[int], dict[str, Any]]
"""``n -> keyword arguments`` of a call that succeeds; ``n`` keeps ids unique."""

_EAST = timezone(timedelta(hours=14))
_WEST = timezone(timedelta(hours=-12))

DEEP_JSON: Final = "[" * 5000 + "]" * 5000
"""Valid JSON nested deeper than a recursive parser goes: a JSON field must refuse it or
keep it, never fail with the parser's RecursionError."""

EXTREMES: Final[dict[str, tuple[Any, ...]]] = {
    "datetime": (datetime.min.replace(tzinfo=_EAST), datetime.max.replace(tzinfo=_WEST),
                 datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
    "int": (2**63, -(2**63) - 1, 2**64, 10**400, -1, 0, 2**63 - 1),
    "float": (10**400, -(10**400), float("inf"), float("nan"), 1e308, -0.0, 5e-324),
    "str": ("", "\ud800", "\x00", "a" * 70_000, DEEP_JSON),
    "date": (date.min, date.max),
    "sequence": ((), ("\ud800",), (7,), ((7,),), ("a",) * 500),
    "mapping": ({}, {"\ud800": 1}, {"k": float("nan")}),
    "bool": (),
}
"""Values of the right kind that stores get wrong: they must succeed or raise a spec error."""

WRONG_KIND: Final[dict[str, tuple[Any, ...]]] = {
    "datetime": ("2025-01-01T00:00:00+00:00", 1_700_000_000, datetime(2025, 1, 1).date()),
    "date": (datetime(2025, 1, 1, tzinfo=UTC), "2025-01-01", 20250101),
    "int": (True, 1.5, "1", b"1"),
    "float": ("1.0", True, b"1", complex(1, 1)),
    "str": (b"bytes", 7, ["a"]),
    "sequence": ("claude", b"ab", {"claude": 1}, 7, frozenset({"a"})),
    "mapping": ("{}", [("k", 1)], 7),
    "bool": (1, "yes"),
}
"""Values a store must refuse with ``ValidationError``: accepting one misreads it."""


@dataclasses.dataclass(frozen=True)
class Slot:
    """One place a value goes: an argument, a field of a record argument, or a field of
    the first record of a sequence of records (``new.instances[0].status``)."""

    path: tuple[str | int, ...]
    kind: str
    optional: bool

    def label(self) -> str:
        text = str(self.path[0])
        for step in self.path[1:]:
            text += f"[{step}]" if isinstance(step, int) else f".{step}"
        return text

    def fill(self, arguments: dict[str, Any], value: Any) -> dict[str, Any]:
        head, *rest = self.path
        return {**arguments, str(head): _put(arguments[str(head)], rest, value)}


def _put(container: Any, path: Sequence[str | int], value: Any) -> Any:
    if not path:
        return value
    step, *rest = path
    if isinstance(step, int):
        items = list(container)
        items[step] = _put(items[step], rest, value)
        return type(container)(items)
    return dataclasses.replace(container, **{step: _put(getattr(container, step), rest, value)})


def kind_of(annotation: Any) -> tuple[str | None, bool]:
    """The sweep's kind of a type annotation, and whether ``None`` is allowed."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) != 1:
            return None, optional
        annotation = members[0]
        origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        return "record", optional
    simple = {datetime: "datetime", date: "date", bool: "bool", int: "int", float: "float",
              str: "str"}
    if annotation in simple:
        return simple[annotation], optional
    if origin in (tuple, list, Sequence, typing.Sequence):
        return "sequence", optional
    if origin in (dict, Mapping, typing.Mapping):
        return "mapping", optional
    return None, optional


def slots(protocol: type, operation: str, arguments: dict[str, Any]) -> list[Slot]:
    """Every argument of ``operation``, every field of each record argument, and every
    field of the first record of each non-empty sequence of records."""
    hints = typing.get_type_hints(getattr(protocol, operation))
    found: list[Slot] = []
    for name, value in arguments.items():
        found.extend(_slots_of((name,), hints[name], value))
    return found


def _slots_of(path: tuple[str | int, ...], annotation: Any, value: Any) -> list[Slot]:
    kind, optional = kind_of(annotation)
    if kind == "record" and value is not None:
        found: list[Slot] = []
        for field, field_annotation in typing.get_type_hints(type(value)).items():
            found.extend(_slots_of((*path, field), field_annotation, getattr(value, field)))
        return found
    if kind is None:
        return []
    found = [Slot(path, kind, optional)]
    if kind == "sequence" and value and dataclasses.is_dataclass(value[0]):
        found.extend(_slots_of((*path, 0), type(value[0]), value[0]))
    elif kind == "sequence" and value and type(value[0]) in (date, datetime):
        # A sequence of instants or days: its first item takes their extremes too.
        found.extend(_slots_of((*path, 0), type(value[0]), value[0]))
    return found


@dataclasses.dataclass(frozen=True)
class Finding:
    slot: str
    value: Any
    what: str

    def __str__(self) -> str:
        shown = repr(self.value)
        return f"{self.slot}={shown[:60]}{'...' if len(shown) > 60 else ''}: {self.what}"


def sweep(store: Any, protocol: type, operation: str, valid: ValidCall,
          snapshot: Callable[[Any], Any], start: dict[str, Any]) -> tuple[list[Finding], int]:
    """Call ``operation`` with one hostile value at a time; the findings and the call count.

    The places swept are those of ``start`` (the valid call made first), each call is
    built from a fresh ``valid(n)``; that may write (a fresh session to complete, say),
    so the snapshot that a refused call must leave unchanged is taken after it.
    """
    call = getattr(store, operation)
    counter = iter(range(1, 1_000_000))
    findings: list[Finding] = []
    calls = 0
    for slot in slots(protocol, operation, start):
        wrong = WRONG_KIND[slot.kind] + (() if slot.optional else (None,))
        for value, must_refuse in [*((v, False) for v in EXTREMES[slot.kind]),
                                   *((v, True) for v in wrong)]:
            arguments = slot.fill(valid(next(counter)), value)
            before = snapshot(store)
            calls += 1
            try:
                call(**arguments)
            except StoreError as error:
                if must_refuse and not isinstance(error, ValidationError):
                    findings.append(Finding(slot.label(), value,
                                            f"raised {type(error).__name__} for a value of the "
                                            "wrong kind (ValidationError expected)"))
                if snapshot(store) != before:
                    findings.append(Finding(slot.label(), value,
                                            "raised a spec error but changed what was stored"))
                continue
            except Exception as error:  # anything else escaping is what the sweep looks for
                findings.append(Finding(slot.label(), value,
                                        f"raised {type(error).__name__}: {error}"[:200]))
                continue
            if must_refuse:
                findings.append(Finding(slot.label(), value,
                                        f"accepted a {type(value).__name__} where "
                                        f"a {slot.kind} is expected (ValidationError expected)"))
    return findings, calls


def check_operation(spec: str, store: Any, protocol: type, operation: str, valid: ValidCall,
                    snapshot: Callable[[Any], Any]) -> int:
    """Raise :class:`SpecMismatch` listing every finding of the sweep; return the call count."""
    start = valid(0)
    getattr(store, operation)(**start)  # the starting point must itself be valid
    findings, calls = sweep(store, protocol, operation, valid, snapshot, start)
    if findings:
        listed = "\n  ".join(map(str, findings[:25]))
        more = f"\n  ... and {len(findings) - 25} more" if len(findings) > 25 else ""
        raise SpecMismatch(
            f"[{spec}] {operation}: expected a spec error (ValidationError for a value of the "
            f"wrong kind) or success for each hostile argument; {len(findings)} of {calls} "
            f"calls did otherwise:\n  {listed}{more}")
    return calls


def swept_operations(protocol: type) -> list[Any]:
    """``pytest.param`` per operation with arguments, marked with its operation for the report."""
    return [pytest.param(name, marks=pytest.mark.operation(name))
            for name in operations_with_arguments(protocol)]


def operations_with_arguments(protocol: type) -> list[str]:
    """The operations of a spec's Protocol that take arguments: the ones a sweep covers."""
    names = []
    for name, member in vars(protocol).items():
        if name.startswith("_") or not callable(member):
            continue
        if [p for p in typing.get_type_hints(member) if p != "return"]:
            names.append(name)
    return names
