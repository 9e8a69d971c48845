"""The wire's methods, read off the spec modules' Protocols and the optional store protocols.

* ``<spec>.<operation>``: every method of a spec module's Protocols (for ``app_meta``
  the maintenance protocol too), named parameters as the Protocol names them.
* ``store.<method>``: what every opened store offers whatever its spec (``close``; the
  ``atomic()`` block as ``begin`` / ``commit`` / ``rollback``; the optional protocols of
  :mod:`storecheck.conformance.backend` that capabilities promise).
* ``storecheck.<method>``: the session itself: ``handshake``, ``open``, ``echo``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Final

from storecheck.conformance import backend as contract, capabilities as caps
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire.codec import OPTIONAL, record_fields

PROTOCOL_VERSION: Final = 1


@dataclass(frozen=True)
class AppliedMigration:
    """One entry of ``store.migration_history``."""

    version: int
    name: str


@dataclass(frozen=True)
class Handshake:
    """What ``storecheck.handshake`` returns: who the implementation is and what it claims."""

    protocol: int
    """The protocol version it speaks: :data:`PROTOCOL_VERSION`."""
    name: str
    """Short name for test ids and reports."""
    specs: tuple[str, ...]
    capabilities: tuple[str, ...]
    operations: tuple[str, ...] | None = field(default=None, metadata=OPTIONAL)
    """The operations it implements, when only some (a store being ported one operation
    at a time); left out or null: all of them."""


@dataclass(frozen=True)
class Opened:
    """What ``storecheck.open`` returns."""

    sql_dialect: str | None
    """The sqlglot dialect of ``store.query`` and ``store.schema_ddl`` (``sql_introspection``)."""


@dataclass(frozen=True)
class Param:
    name: str
    hint: Any
    required: bool
    default: Any = None


@dataclass(frozen=True)
class Method:
    """One method of the wire: its name there, the Python attribute it stands for, typed
    named parameters and result."""

    name: str
    attribute: str
    params: tuple[Param, ...]
    result: Any
    summary: str
    capability: str | None = None
    description: str = ""
    """The rest of the operation's docstring: its rules, orders and errors, in the spec's
    words."""


SPEC_EXTRAS: Final[dict[str, tuple[str, ...]]] = {
    "app_meta": ("storecheck.conformance.specs.backups",
                 "storecheck.conformance.specs.app_meta_maintenance"),
    "extraction": ("storecheck.conformance.specs.backups",),
}
"""Modules holding more of a spec's Protocols (imported with the spec, not before)."""

STORE_PROTOCOLS: Final[tuple[tuple[type, str | None], ...]] = (
    (contract.Store, None),
    (contract.Migratable, caps.MIGRATIONS),
    (contract.SqlIntrospectable, caps.SQL_INTROSPECTION),
    (contract.IntegrityVerifiable, caps.CRASH_DURABLE),
    (contract.StorageLimited, caps.STORAGE_LIMIT),
    (contract.LockWaitTunable, caps.LOCK_WAIT),
    (contract.SettingsReadable, caps.STATED_SETTINGS),
)

RESULT_OVERRIDES: Final[dict[str, Any]] = {
    # The contract leaves the entries' class open (objects with version and name).
    "store.migration_history": list[AppliedMigration],
}

TRANSACTION_METHODS: Final[tuple[Method, ...]] = tuple(
    Method(f"store.{verb}", verb, (), None, summary, caps.TRANSACTIONS)
    for verb, summary in (
        ("begin", "Open an atomic() block for the calling thread; inside one, a savepoint."),
        ("commit", "End the calling thread's innermost block, keeping its writes (may raise "
                   "Busy: the block then wrote nothing)."),
        ("rollback", "End the calling thread's innermost block, undoing its writes only."),
    ))

SESSION_METHODS: Final[tuple[Method, ...]] = (
    Method("storecheck.handshake", "handshake", (), Handshake,
           "The first call: the protocol version, name, specs and capabilities."),
    Method("storecheck.open", "open", (
        Param("spec", str, True), Param("location", str, True),
        Param("schema_version", int | None, False, None)),
        Opened, "Open the process's one store: a spec at a location (a file path in an empty "
              "directory of its own). schema_version null migrates to the newest schema; "
              "an integer opens at that version (0: no schema)."),
    Method("storecheck.echo", "echo", (Param("value", Any, True),), Any,
           "Return value unchanged: the transport floor the latency checks subtract."),
)


def _summary(function: Any) -> str:
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _description(function: Any) -> str:
    doc = inspect.getdoc(function) or ""
    return "\n\n".join(" ".join(part.split()) for part in doc.split("\n\n")[1:])


def _protocol_methods(protocol: type, prefix: str, capability: str | None,
                      skip: frozenset[str] = frozenset()) -> list[Method]:
    found = []
    for attribute, function in vars(protocol).items():
        if attribute.startswith("_") or not inspect.isfunction(function) or attribute in skip:
            continue
        hints = typing.get_type_hints(function)
        signature = inspect.signature(function)
        params = tuple(
            Param(name, hints[name], parameter.default is inspect.Parameter.empty,
                  None if parameter.default is inspect.Parameter.empty else parameter.default)
            for name, parameter in signature.parameters.items() if name != "self")
        name = f"{prefix}.{attribute}"
        result = RESULT_OVERRIDES.get(name, hints.get("return"))
        found.append(Method(name, attribute, params, None if result is type(None) else result,
                            _summary(function), capability, _description(function)))
    return found


def spec_protocols(module: ModuleType) -> tuple[type, ...]:
    """The Protocol classes a spec module defines (and its extras)."""
    modules = [module, *map(importlib.import_module, SPEC_EXTRAS.get(module.SPEC, ()))]
    return tuple(value for source in modules for value in vars(source).values()
                 if inspect.isclass(value) and getattr(value, "_is_protocol", False)
                 and value.__module__ == source.__name__)


@cache
def methods_for(spec: str) -> tuple[Method, ...]:
    """Every method the wire carries for ``spec``, session methods first."""
    module = SPECS[spec].module
    operations: list[Method] = []
    for protocol in spec_protocols(module):
        operations += _protocol_methods(protocol, spec, None, frozenset({"close"}))
    # An operation without a docstring is summed up by the spec's list of operations.
    listed = {operation.name: operation.summary for operation in SPECS[spec].operations}
    operations = [method if method.summary or method.attribute not in listed
                  else dataclasses.replace(method, summary=listed[method.attribute])
                  for method in operations]
    store: list[Method] = []
    for protocol, capability in STORE_PROTOCOLS:
        store += _protocol_methods(protocol, "store", capability)
    return (*SESSION_METHODS, *operations, *store, *TRANSACTION_METHODS)


@cache
def method_table(spec: str) -> Mapping[str, Method]:
    return {method.name: method for method in methods_for(spec)}


def record_types(spec: str) -> Sequence[type]:
    """Every record type that crosses the wire for ``spec``, found by walking the
    methods' parameter and result types."""
    seen: dict[type, None] = {}

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            if hint in seen:
                return
            seen[hint] = None
            for _, field_hint in record_fields(hint):
                walk(field_hint)
            return
        for argument in typing.get_args(hint):
            walk(argument)

    for method in methods_for(spec):
        for param in method.params:
            walk(param.hint)
        walk(method.result)
    return tuple(seen)
