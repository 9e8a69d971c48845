"""Rules shared by every spec: timestamps, integers, text, foreign-key graphs, storage.

Value rules every operation meets (:class:`Validator`; swept over every argument
and record field by :mod:`storecheck.conformance.hostile_arguments`):

* A value of the wrong kind is :class:`ValidationError`, never converted: a
  ``str``, ``bytes``, mapping or set where a list of values is expected (Python
  would read a ``str`` letter by letter and a mapping as its keys), ``bool``
  where an integer is, text where a number or an instant is.
* Instants are timezone-aware and, converted to UTC, within the years 1 to
  9999; so is every instant an operation derives from its arguments (the end of
  a lease, a retry time, a retention cutoff): past that, ``ValidationError``.
* Integers fit in 64 bits; a float argument is finite, and an integer given for
  it is taken as the nearest float (one beyond the float range is refused).
* No other exception leaves an operation, and one that raises stored nothing.

Storage rules every store meets, whatever its spec (checked by
:mod:`storecheck.conformance.storage_checks`):

* A failure of the storage itself is :class:`~storecheck.conformance.errors.StorageFailed`
  with its cause (disk full, corrupt, cannot open, read-only, I/O error), never
  a driver's exception; the failed operation stored nothing.  After a full
  disk, the same open store works again once space returns.
* Opening a location that holds something other than a store of this spec
  (another application's database, a file that is no database, a directory)
  raises ``StorageFailed`` naming the location and the cause (``FOREIGN``,
  ``CORRUPT``, ``CANNOT_OPEN``) and changes nothing there.
* A damaged file is reported: ``StorageFailed(CORRUPT)`` from the call that
  meets the damage, and problems from ``verify_integrity()``, which never raises
  for it.
* Under a steady write load the files beside the database file stay within
  64 MiB or four times the database file, whichever is larger.
* A store that keeps its data in SQLite files runs every connection to them with
  the settings its spec states (:data:`SQLITE_FILE_SETTINGS` unless the spec
  names others for a file): the seeds' WAL journal, ``synchronous=NORMAL`` and
  enforced foreign keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from storecheck.conformance.errors import ValidationError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
Place = TypeVar("Place", bound="DataclassInstance")

SQLITE_FILE_SETTINGS: Mapping[str, str] = MappingProxyType(
    {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"})
"""Each connection to a store's SQLite file, as its PRAGMAs read back: a write-ahead log,
``synchronous=NORMAL`` (1: a commit survives a crash of the process, the log is synced at
checkpoints) and foreign keys enforced (a per-connection setting, off by default)."""
SQLITE_FILES: Mapping[str, Mapping[str, str]] = MappingProxyType({"main": SQLITE_FILE_SETTINGS})
"""The files a spec's SQLite store may keep, by the name
``connection_settings()`` reports them under; ``main`` is required."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ForeignKey:
    """One edge of a spec's foreign-key graph, as the spec declares it."""

    child_table: str
    child_column: str
    parent_table: str
    parent_column: str
    on_delete: str  # "CASCADE", "RESTRICT", "SET NULL" or "NO ACTION"


@dataclass(frozen=True)
class Operation:
    """An operation of a spec's Protocol, with the seed line it comes from."""

    name: str
    summary: str
    writes: bool


@dataclass(frozen=True)
class SpaceReport:
    """What ``vacuum`` found and left: the store's bytes on its storage before and after."""

    bytes_before: int
    bytes_after: int


class Validator:
    """Checks caller input against the spec's value rules.

    Both the reference and the model call these, because the rules *are* the
    spec; what the schema enforces (CHECK, UNIQUE, FOREIGN KEY) is left to the
    storage so that a weakened schema is caught.
    """

    def __init__(self, spec: str, operation: str) -> None:
        self.spec = spec
        self.operation = operation

    def fail(self, detail: str, value: Any = None) -> ValidationError:
        return ValidationError(self.spec, self.operation, detail, value)

    def optional_cursor(self, name: str, value: Any, cursor: type[Place]) -> Place | None:
        """``None`` (the first page) or a ``cursor`` record, a keyset place: each of its
        instants an aware datetime (returned in UTC), its ids of their declared kind."""
        if value is None:
            return None
        if not isinstance(value, cursor):
            article = "an" if cursor.__name__[0] in "AEIOU" else "a"
            raise self.fail(f"{name} must be {article} {cursor.__name__}", value)
        kinds = get_type_hints(cursor)
        checks: dict[Any, Callable[[str, Any], Any]] = {
            datetime: self.timestamp, int: self.integer, str: self.text}
        return replace(value, **{
            field.name: checks[kinds[field.name]](f"{name}.{field.name}",
                                                  getattr(value, field.name))
            for field in fields(cursor)})

    def timestamp(self, name: str, value: Any) -> datetime:
        """A timezone-aware datetime, returned converted to UTC."""
        if not isinstance(value, datetime):
            raise self.fail(f"{name} must be a datetime", value)
        if value.tzinfo is UTC:
            return value
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail(f"{name} must be timezone-aware (UTC)", value)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise self.fail(f"{name} is outside the years 1 to 9999 in UTC", value) from None

    def shifted(self, name: str, moment: datetime, seconds: float) -> datetime:
        """``moment`` plus ``seconds`` (minus, when negative), refused if the result (or the
        shift itself) falls outside the years 1 to 9999."""
        try:
            return moment + timedelta(seconds=seconds)
        except OverflowError:
            raise self.fail(f"{name} falls outside the years 1 to 9999", moment) from None

    def optional_timestamp(self, name: str, value: Any) -> datetime | None:
        return None if value is None else self.timestamp(name, value)

    def integer(self, name: str, value: Any) -> int:
        """A 64-bit signed integer (bool is not an integer here)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{name} must be an integer", value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise self.fail(f"{name} must fit in 64 bits", value)
        return value

    def optional_integer(self, name: str, value: Any) -> int | None:
        return None if value is None else self.integer(name, value)

    def text(self, name: str, value: Any) -> str:
        """Any Unicode string that can be encoded (no lone surrogates).

        Emptiness is not checked here: where the seed forbids empty text it
        says so with a CHECK constraint, which the storage enforces.
        """
        if not isinstance(value, str):
            raise self.fail(f"{name} must be a string", value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(f"{name} is not valid Unicode (lone surrogate)", value) from None
        return value

    def optional_text(self, name: str, value: Any) -> str | None:
        return None if value is None else self.text(name, value)

    def flag(self, name: str, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self.fail(f"{name} must be a bool", value)

    def finite(self, name: str, value: Any) -> float:
        """A finite float; an integer is taken as the float nearest to it."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number", value)
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(f"{name} must be finite (beyond the float range)", value) from None
        if not math.isfinite(number):
            raise self.fail(f"{name} must be finite", value)
        return number

    def sequence(self, name: str, value: Any, item: Callable[[str, Any], T]) -> tuple[T, ...]:
        """A list or tuple, each item checked by ``item(label, value)``.

        A ``str`` (which would be read letter by letter), ``bytes``, a mapping (its
        keys), a set (no order) or any other iterable is refused, not converted.
        """
        if not isinstance(value, list | tuple):
            raise self.fail(f"{name} must be a list or tuple, not {type(value).__name__}", value)
        return tuple(item(f"{name}[{index}]", entry) for index, entry in enumerate(value))

    def pair(self, name: str, value: Any) -> tuple[Any, Any]:
        """A two-item list or tuple (its items are checked by the caller)."""
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise self.fail(f"{name} must be a pair", value)
        return value[0], value[1]

    def limit(self, value: Any, maximum: int = 1000) -> int:
        limit = self.integer("limit", value)
        if not 1 <= limit <= maximum:
            raise self.fail(f"limit must be between 1 and {maximum}", value)
        return limit

    def optional_limit(self, value: Any, maximum: int = 1000) -> int | None:
        """``None`` (every row, where the seed's limit is optional) or a :meth:`limit`."""
        return None if value is None else self.limit(value, maximum)

    def one_of(self, name: str, value: Any, allowed: tuple[str, ...]) -> str:
        """For filters and arguments that are not stored (stored enums are CHECKs)."""
        if value not in allowed:
            raise self.fail(f"{name} must be one of {', '.join(allowed)}", value)
        return str(value)
