"""The one codec between Python values and JSON, driven by the types the spec modules declare.

Every argument and result of every operation crosses the wire through :func:`encode`
and :func:`decode` with the type its Protocol annotates; nothing is written per spec.

=====================  ==========================================================
declared type          JSON
=====================  ==========================================================
record (dataclass)     object with every field, by field name
``datetime``           RFC 3339 string, microseconds, with the value's own offset
                       (``Z`` for UTC); a naive datetime goes without one, and an
                       implementation must refuse it
``date``               ``YYYY-MM-DD``
``timedelta``          number of seconds (exact to the microsecond within 2**32 s, 136 years)
``bytes``              base64 string
``float``              number; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` for the
                       values JSON has no number for
``int``, ``str``,      number, string, boolean (``bool`` is never a number)
``bool``
tuple, list, set,      array
``Sequence``
``Mapping[str, T]``    object
``Literal``, enum      the member's value
``X | None``           ``null`` for None
``Any``                JSON as is; ``{"$bytes": base64}`` for bytes
=====================  ==========================================================

A value of another kind than declared (the bad-input checks send them on purpose) is
sent as its own JSON kind, so that the implementation meets, and must refuse, a number
where a string belongs.  Where that JSON would read as a valid value of the declared
type (text where an instant is declared, a number where a duration is), the wire cannot carry
the mistake: :func:`encode` raises :class:`Unrepresentable` and the caller refuses the
call as the implementation would have.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Final, Literal, Union

JSON = Any
NON_FINITE: Final[dict[str, float]] = {
    "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
BYTES_TAG: Final = "$bytes"
_STRING_SHAPED: Final = (datetime, date, bytes)


class WireTypeError(ValueError):
    """A JSON value does not have the declared type; ``path`` says where inside the call."""

    def __init__(self, path: str, expected: str, got: JSON) -> None:
        self.path, self.expected = path, expected
        shown = repr(got)
        super().__init__(f"{path}: expected {expected}, got {shown[:80]}")


class Unrepresentable(WireTypeError):
    """A Python value of the wrong kind whose JSON would pass for the declared type."""


# -- type introspection -------------------------------------------------------------


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


@cache
def record_fields(record: type) -> tuple[tuple[str, Any], ...]:
    """Each field of a record with its resolved type, in declaration order."""
    hints = typing.get_type_hints(record)
    return tuple((field.name, hints[field.name]) for field in dataclasses.fields(record))


OPTIONAL: Final = {"wire": "optional"}
"""A field's ``metadata`` for one a message may leave out (its default is taken): for
fields added to a protocol record after implementations already send it without them."""


def optional_fields(record: type) -> frozenset[str]:
    """The fields of ``record`` marked :data:`OPTIONAL`."""
    return frozenset(field.name for field in dataclasses.fields(record)
                     if field.metadata.get("wire") == "optional")


def literal_kind(hint: Any) -> type:
    """The type of a ``Literal``'s members (all of one kind in the specs)."""
    return type(typing.get_args(hint)[0])


def describe(hint: Any) -> str:
    """A type as the error messages name it."""
    if hint is Any:
        return "any JSON value"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


# -- encoding ---------------------------------------------------------------------------

Encoder = Callable[[Any, str], JSON]
Decoder = Callable[[JSON, str], Any]


def encode(value: Any, hint: Any, path: str = "value") -> JSON:
    """``value`` as JSON for the declared type ``hint``."""
    return _encoder(hint)(value, path)


@cache
def _encoder(hint: Any) -> Encoder:
    """The encoding function of one declared type, built once: the typing introspection
    costs more than the encoding itself."""
    if hint is Any or hint is object:
        return _encode_any
    if _is_union(hint):
        return _union_encoder([m for m in typing.get_args(hint) if m is not type(None)])
    fits = _fitter(hint)
    exact = _exact_encoder(hint)

    def encode_declared(value: Any, path: str) -> JSON:
        if value is None:
            return None
        if not fits(value):
            return _encode_foreign(value, [hint], path)
        return exact(value, path)

    return encode_declared


def _union_encoder(members: list[Any]) -> Encoder:
    choices = [(_fitter(member), _exact_encoder(member)) for member in members]

    def encode_union(value: Any, path: str) -> JSON:
        if value is None:
            return None
        for fits, exact in choices:
            if fits(value):
                return exact(value, path)
        return _encode_foreign(value, members, path)

    return encode_union


def _exact_encoder(hint: Any) -> Encoder:
    """Encoding of a value already known to be of type ``hint``."""
    origin = typing.get_origin(hint) or hint
    if _is_record(hint):
        fields = [(name, _encoder(field_hint)) for name, field_hint in record_fields(hint)]
        return lambda value, path: {name: encode_field(getattr(value, name), f"{path}.{name}")
                                    for name, encode_field in fields}
    if origin is Literal:
        return lambda value, path: value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value, path: value.value
    if hint in _SCALAR_ENCODERS:
        return _SCALAR_ENCODERS[hint]
    if origin in (Mapping, dict):
        encode_item = _encoder(_args(hint, 2)[1])

        def encode_mapping(value: Any, path: str) -> JSON:
            if not all(isinstance(key, str) for key in value):
                raise Unrepresentable(path, "text keys", value)
            return {key: encode_item(entry, f"{path}[{key!r}]") for key, entry in value.items()}

        return encode_mapping
    found = typing.get_args(hint)
    if origin is tuple and found and not (len(found) == 2 and found[1] is Ellipsis):
        positions = [_encoder(item) for item in found]
        return lambda value, path: [
            (positions[n] if n < len(positions) else _encode_any)(item, f"{path}[{n}]")
            for n, item in enumerate(value)]
    encode_each = _encoder(found[0] if found else Any)
    return lambda value, path: [encode_each(item, f"{path}[{n}]") for n, item in enumerate(value)]


_SCALAR_ENCODERS: Final[dict[Any, Encoder]] = {
    datetime: lambda value, path: _datetime_text(value),
    date: lambda value, path: value.isoformat(),
    timedelta: lambda value, path: value / timedelta(microseconds=1) / 1_000_000,
    bytes: lambda value, path: base64.b64encode(value).decode("ascii"),
    float: lambda value, path: _float(value),
    int: lambda value, path: value,
    str: lambda value, path: value,
    bool: lambda value, path: value,
}


def _datetime_text(value: datetime) -> str:
    text = value.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _float(value: float) -> JSON:
    if isinstance(value, int):  # beyond the float range too: the store refuses it
        return value
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _encode_any(value: Any, path: str) -> JSON:
    if isinstance(value, bytes):
        return {BYTES_TAG: base64.b64encode(value).decode("ascii")}
    if isinstance(value, float):
        return _float(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _encode_any(item, f"{path}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_encode_any(item, f"{path}[{n}]") for n, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _encode_any(getattr(value, field.name), f"{path}.{field.name}")
                for field in dataclasses.fields(value)}
    raise Unrepresentable(path, "a value JSON can carry", value)


def _encode_foreign(value: Any, declared: list[Any], path: str) -> JSON:
    """A value of another kind than declared, as its own JSON kind, where that stays
    recognisably wrong."""
    if _passes_for(value, declared):
        raise Unrepresentable(path, " | ".join(describe(hint) for hint in declared), value)
    return _encode_any(value, path)


def _passes_for(value: Any, declared: list[Any]) -> bool:
    """Whether the JSON of ``value`` would decode as a valid value of a declared type."""
    if isinstance(value, str):
        return any(hint in _STRING_SHAPED or (hint is float and value in NON_FINITE)
                   for hint in declared)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta in declared
    if isinstance(value, (set, frozenset)):
        return any(typing.get_origin(hint) in (list, tuple, Sequence) for hint in declared)
    return False


@cache
def _fitter(hint: Any) -> Callable[[Any], bool]:
    """Whether a value is of the declared type at its top level."""
    if hint is Any:
        return lambda value: True
    if _is_union(hint):
        members = [_fitter(member) for member in typing.get_args(hint)]
        return lambda value: any(fits(value) for fits in members)
    if hint is type(None):
        return lambda value: value is None
    origin = typing.get_origin(hint) or hint
    if origin is Literal:
        kind = literal_kind(hint)
        return lambda value: type(value) is kind
    if hint is float:
        return lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if hint is date:
        return lambda value: isinstance(value, date) and not isinstance(value, datetime)
    if origin in (list, tuple, Sequence):
        return lambda value: isinstance(value, (list, tuple))
    if origin in (set, frozenset):
        return lambda value: isinstance(value, (set, frozenset))
    if origin in (Mapping, dict):
        return lambda value: isinstance(value, Mapping)
    if _is_record(hint):
        # The contract sometimes asks only for "objects with version and name".
        names = [name for name, _ in record_fields(hint)]
        return lambda value: isinstance(value, hint) or all(hasattr(value, n) for n in names)
    return lambda value: isinstance(value, origin)


def _args(hint: Any, count: int) -> tuple[Any, ...]:
    found = typing.get_args(hint)
    return found if len(found) == count else (Any,) * count


# -- decoding ---------------------------------------------------------------------------


def decode(data: JSON, hint: Any, path: str = "value") -> Any:
    """The Python value of declared type ``hint`` that ``data`` encodes; strict: JSON of
    another shape raises :class:`WireTypeError` naming the path."""
    return _decoder(hint)(data, path)


@cache
def _decoder(hint: Any) -> Decoder:
    if hint is Any or hint is object:
        return _decode_any
    if _is_union(hint):
        return _union_decoder(hint)
    if hint is None or hint is type(None):
        def decode_null(data: JSON, path: str) -> None:
            if data is not None:
                raise WireTypeError(path, "null", data)

        return decode_null
    exact = _exact_decoder(hint)
    expected = describe(hint)

    def decode_declared(data: JSON, path: str) -> Any:
        if data is None:
            raise WireTypeError(path, expected, data)
        return exact(data, path)

    return decode_declared


def _union_decoder(hint: Any) -> Decoder:
    members = typing.get_args(hint)
    nullable = type(None) in members
    candidates = [(member, _decoder(member)) for member in members if member is not type(None)]
    expected = describe(hint)

    def decode_union(data: JSON, path: str) -> Any:
        if data is None:
            if nullable:
                return None
            raise WireTypeError(path, expected, data)
        # An integer literal is an ``int`` before a ``float``.
        ordered = candidates if not (isinstance(data, int) and not isinstance(data, bool)) \
            else sorted(candidates, key=lambda pair: pair[0] is not int)
        for _, decode_member in ordered:
            try:
                return decode_member(data, path)
            except WireTypeError:
                continue
        raise WireTypeError(path, expected, data)

    return decode_union


def _exact_decoder(hint: Any) -> Decoder:
    origin = typing.get_origin(hint) or hint
    expected = describe(hint)
    if _is_record(hint):
        return _record_decoder(hint)
    if origin is Literal:
        # Only the kind is the wire's business: which members are allowed is the store's
        # rule, refused with the error its spec names (often a CHECK constraint).
        return _decoder(literal_kind(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        def decode_enum(data: JSON, path: str) -> Any:
            try:
                return hint(data)
            except ValueError:
                raise WireTypeError(path, expected, data) from None

        return decode_enum
    scalar: Decoder | None = _SCALARS.get(hint)
    if scalar is not None:
        return scalar
    if origin in (Mapping, dict):
        decode_item = _decoder(_args(hint, 2)[1])

        def decode_mapping(data: JSON, path: str) -> Any:
            if not isinstance(data, dict):
                raise WireTypeError(path, expected, data)
            return {key: decode_item(entry, f"{path}[{key!r}]") for key, entry in data.items()}

        return decode_mapping
    if origin in (list, tuple, Sequence, set, frozenset):
        return _array_decoder(hint, origin)
    raise TypeError(f"the wire knows no type {expected}")


def _array_decoder(hint: Any, origin: Any) -> Decoder:
    found = typing.get_args(hint)
    fixed = origin is tuple and bool(found) and not (len(found) == 2 and found[1] is Ellipsis)
    positions = [_decoder(item) for item in found] if fixed else []
    decode_each = _decoder(found[0] if found else Any)
    build: Callable[[list[Any]], Any] = {
        list: list, Sequence: list, tuple: tuple, set: set, frozenset: frozenset}[origin]
    expected = describe(hint)

    def decode_array(data: JSON, path: str) -> Any:
        if not isinstance(data, list):
            raise WireTypeError(path, expected, data)
        if fixed:
            if len(data) != len(positions):
                raise WireTypeError(path, f"{len(positions)} items", data)
            return build([positions[n](item, f"{path}[{n}]") for n, item in enumerate(data)])
        return build([decode_each(item, f"{path}[{n}]") for n, item in enumerate(data)])

    return decode_array


def _record_decoder(record: type) -> Decoder:
    fields = [(name, _decoder(field_hint)) for name, field_hint in record_fields(record)]
    names = {name for name, _ in fields}
    optional = optional_fields(record)

    def decode_record(data: JSON, path: str) -> Any:
        if not isinstance(data, dict):
            raise WireTypeError(path, record.__name__, data)
        if data.keys() != names:
            unknown = sorted(set(data) - names)
            if unknown:
                raise WireTypeError(f"{path}.{unknown[0]}", f"no such field of {record.__name__}",
                                    data)
            missing = sorted(names - set(data) - optional)
            if missing:
                raise WireTypeError(f"{path}.{missing[0]}", "a field it lacks", data)
        return record(**{name: decode_field(data[name], f"{path}.{name}")
                         for name, decode_field in fields if name in data})

    return decode_record


def _decode_any(data: JSON, path: str) -> Any:
    if isinstance(data, dict):
        if set(data) == {BYTES_TAG} and isinstance(data[BYTES_TAG], str):
            try:
                return base64.b64decode(data[BYTES_TAG], validate=True)
            except ValueError:
                raise WireTypeError(f"{path}.{BYTES_TAG}", "base64", data[BYTES_TAG]) from None
        return {key: _decode_any(item, f"{path}.{key}") for key, item in data.items()}
    if isinstance(data, list):
        return [_decode_any(item, f"{path}[{n}]") for n, item in enumerate(data)]
    return NON_FINITE.get(data, data) if isinstance(data, str) else data


def _int(data: JSON, path: str) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise WireTypeError(path, "an integer", data)
    return data


def _float_from(data: JSON, path: str) -> float:
    if isinstance(data, str) and data in NON_FINITE:
        return NON_FINITE[data]
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise WireTypeError(path, "a number", data)
    return data if isinstance(data, float) else _nearest_float(data, path)


def _nearest_float(data: int, path: str) -> Any:
    # An integer beyond the float range stays an int: the store refuses it as the spec says.
    try:
        return float(data)
    except OverflowError:
        return data


def _str(data: JSON, path: str) -> str:
    if not isinstance(data, str):
        raise WireTypeError(path, "a string", data)
    return data


def _bool(data: JSON, path: str) -> bool:
    if not isinstance(data, bool):
        raise WireTypeError(path, "a boolean", data)
    return data


def _datetime(data: JSON, path: str) -> datetime:
    text = _str(data, path)
    try:
        if len(text) < 19 or text[10] not in "Tt":
            raise ValueError(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise WireTypeError(path, "an RFC 3339 date-time", data) from None


def _date(data: JSON, path: str) -> date:
    text = _str(data, path)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise WireTypeError(path, "a date YYYY-MM-DD", data) from None


def _timedelta(data: JSON, path: str) -> timedelta:
    seconds = _float_from(data, path)
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise WireTypeError(path, "a duration in seconds", data) from None


def _bytes(data: JSON, path: str) -> bytes:
    try:
        return base64.b64decode(_str(data, path), validate=True)
    except binascii.Error:
        raise WireTypeError(path, "base64", data) from None


_SCALARS: Final[dict[Any, Decoder]] = {
    int: _int, float: _float_from, str: _str, bool: _bool, datetime: _datetime,
    date: _date, timedelta: _timedelta, bytes: _bytes,
}
