"""The wire protocol of a spec as an OpenRPC document, generated from the same types the
codec reads, so implementers can generate their own types from it."""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, Union

from storecheck.conformance.errors import ConstraintKind, StorageCause
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire import faults
from storecheck.conformance.wire.codec import (
    BYTES_TAG,
    NON_FINITE,
    literal_kind,
    optional_fields,
    record_fields,
)
from storecheck.conformance.wire.methods import PROTOCOL_VERSION, Method, methods_for

OPENRPC_VERSION: Final = "1.3.2"
SCHEMA_REF: Final = "#/components/schemas/"

THREADS: Final = (
    "Transport: JSON-RPC 2.0, one message per line, on the implementation process's stdin "
    "(requests) and stdout (responses); stderr is free for logs and is shown when a check "
    "fails. Every request carries, beside jsonrpc/id/method/params, a member \"thread\": a "
    "small integer naming the harness thread that sent it. Requests of one thread come one "
    "at a time; those of different threads may be in flight together, as calls on one store "
    "from several threads are. A store.begin opens a block that belongs to its thread; "
    "other threads' calls are not part of it. The first call is storecheck.handshake, then "
    "storecheck.open; the process serves that one store until its stdin closes.")

STORE_ERROR_DATA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "data of a spec error (code -32000). Any other error code is reported "
    "as the implementation failing, not as a spec error.",
    "properties": {
        "error": {"enum": list(faults.SPEC_ERRORS)},
        "kind": {"enum": list(faults.CONSTRAINT_KINDS),
                 "description": "for ConstraintViolation: " + ", ".join(
                     f"{kind.name} ({kind.value})" for kind in ConstraintKind)},
        "cause": {"enum": list(faults.STORAGE_CAUSES),
                  "description": "for StorageFailed: " + ", ".join(
                      f"{cause.name} ({cause.value})" for cause in StorageCause)},
        "spec": {"type": "string"},
        "operation": {"type": "string"},
        "detail": {"type": "string"},
    },
    "required": ["error"],
}


class SchemaBuilder:
    """JSON Schemas for declared types; records go to ``components`` once each."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"StoreErrorData": STORE_ERROR_DATA}

    def schema(self, hint: Any) -> dict[str, Any]:
        if hint is None or hint is type(None):
            return {"type": "null"}
        if hint is Any:
            return {"description": f"any JSON value; bytes as {{\"{BYTES_TAG}\": base64}}"}
        if typing.get_origin(hint) in (Union, types.UnionType):
            return {"anyOf": [self.schema(member) for member in typing.get_args(hint)]}
        if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            return self._record(hint)
        if typing.get_origin(hint) is Literal:
            members = ", ".join(repr(choice) for choice in typing.get_args(hint))
            return {**self.schema(literal_kind(hint)),
                    "description": f"one of {members}; another value is the store's to refuse "
                    "with the error its spec names"}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        scalar = SCALARS.get(hint)
        if scalar is not None:
            return dict(scalar)
        return self._container(hint)

    def _container(self, hint: Any) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        found = typing.get_args(hint)
        if origin in (Mapping, dict):
            return {"type": "object", "additionalProperties": self.schema(found[1])}
        if origin is tuple and found and not (len(found) == 2 and found[1] is Ellipsis):
            return {"type": "array", "prefixItems": [self.schema(item) for item in found],
                    "minItems": len(found), "maxItems": len(found)}
        if origin in (list, tuple, Sequence, set, frozenset):
            schema: dict[str, Any] = {"type": "array", "items": self.schema(found[0])}
            if origin in (set, frozenset):
                schema["uniqueItems"] = True
            return schema
        raise TypeError(f"no JSON Schema for {hint!r}")

    def _record(self, record: type) -> dict[str, Any]:
        name = record.__name__
        if name not in self.components:
            self.components[name] = {}  # a placeholder, for records that refer to themselves
            fields = record_fields(record)
            self.components[name] = {
                "type": "object",
                "title": name,
                "description": inspect.getdoc(record) or name,
                "properties": {field: self.schema(hint) for field, hint in fields},
                "required": [field for field, _ in fields
                             if field not in optional_fields(record)],
                "additionalProperties": False,
            }
        return {"$ref": SCHEMA_REF + name}


SCALARS: Final[dict[Any, dict[str, Any]]] = {
    int: {"type": "integer"},
    float: {"anyOf": [{"type": "number"}, {"enum": list(NON_FINITE)}]},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time",
               "description": "RFC 3339 with microseconds; results in UTC (Z)"},
    date: {"type": "string", "format": "date"},
    timedelta: {"type": "number", "description": "seconds"},
    bytes: {"type": "string", "contentEncoding": "base64"},
}


def _method(builder: SchemaBuilder, method: Method, writes: bool,
            spec_text: str) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": method.name,
        "summary": method.summary or method.name,
        **({"description": method.description} if method.description else {}),
        "paramStructure": "by-name",
        "params": [{"name": param.name, "required": param.required,
                    "schema": builder.schema(param.hint)} for param in method.params],
        "result": {"name": "result", "schema": builder.schema(method.result)},
        "errors": _errors(method, writes),
    }
    if method.capability is not None:
        described["x-capability"] = method.capability
    rules = _rules_naming(method.attribute, spec_text)
    if rules:
        described["x-rules"] = rules
    return described


def _rules_naming(operation: str, spec_text: str) -> list[str]:
    """The sentences of the spec's text that name ``operation`` (``operation`` or
    ``operation(...)``): its orders, derived values, roundings and errors in the spec's
    words, so that a method can be implemented from its own entry."""
    named = re.compile(rf"``{re.escape(operation)}(?:\(|``)")
    paragraphs = re.split(r"\n\s*\n|\n(?=\* )", spec_text)
    return [_plain(sentence)
            for paragraph in paragraphs
            for sentence in _FULL_STOP.split(" ".join(paragraph.split()).lstrip("* "))
            if named.search(sentence)]


_FULL_STOP = re.compile(r"(?<=[.)])\s+(?=[A-Z`(])")
"""Where one sentence of a spec's text ends and the next begins (never inside ``a.b`` or
``1.0``)."""


_SENTENCE = re.compile(r"[^.;]*(?:\.(?=\w)[^.;]*)*[.;]?")


def _plain(text: str) -> str:
    """Docstring markup as plain text: ``:class:`NotFound``` -> NotFound."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "`")


def _errors(method: Method, writes: bool) -> list[dict[str, Any]]:
    """The spec errors ``method`` may answer with (code -32000, ``data`` as
    ``StoreErrorData``): those its description names, each with the spec's words for when,
    then those every method of its kind may raise.  Any other error code is the
    implementation failing."""
    text = _plain(f"{method.summary} {method.description}")
    said = {name: " ".join(found.group(0).split()).strip(" ;")
            for name in faults.SPEC_ERRORS
            for found in [next((sentence for sentence in _SENTENCE.finditer(text)
                                if name in sentence.group(0)), None)] if found}
    addressing = any(param.name == "id" or param.name.endswith("_id") for param in method.params)
    general = {"NotFound": "the record it addresses does not exist" if addressing else "",
               "ValidationError": "an argument the spec's value rules refuse" if method.params
               else "",
               "ConstraintViolation": "a write the schema's constraints refuse (data.kind)"
               if writes else "",
               "Busy": "the lock was not had within the store's deadline (a "
               "retry may succeed)", "StorageFailed": "the storage under the store failed "
               "(data.cause says how)"}
    errors = [{"code": faults.STORE_ERROR, "message": f"{name}: {when}",
               "data": {"$ref": SCHEMA_REF + "StoreErrorData"}}
              for name, when in {**{k: v for k, v in general.items() if v}, **said}.items()]
    return sorted(errors, key=lambda error: list(faults.SPEC_ERRORS).index(
        error["message"].partition(":")[0]))


def openrpc_document(spec: str) -> dict[str, Any]:
    """The OpenRPC document of ``spec``'s wire protocol."""
    info = SPECS[spec]
    builder = SchemaBuilder()
    writing = {f"{spec}.{operation.name}" for operation in info.operations if operation.writes}
    text = inspect.getdoc(info.module) or ""
    methods = [_method(builder, method, method.name in writing, text)
               for method in methods_for(spec)]
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": f"storecheck {spec}",
            "version": str(PROTOCOL_VERSION),
            "description": f"{inspect.getdoc(info.module)}\n\n{THREADS}",
        },
        "methods": methods,
        "components": {"schemas": builder.components},
    }
