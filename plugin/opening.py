"""Opening a backend's stores for the checks: a store that cannot be opened is one failure.

A backend whose ``open()`` raises, or returns something that is not a store of the spec,
would otherwise fail every check of the spec with the same traceback (64 of them, 1,897
lines) or, worse, with whatever the first check happened to call on the wrong object.
The first check that opens a fresh store reports the cause, in the spec's words; every
later check of that backend and spec is skipped with a pointer to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from storecheck.conformance.errors import StoreError
from storecheck.conformance.specs import SPECS


class StoreDidNotOpen(AssertionError):
    """``open()`` of a fresh location raised, or returned no store of the spec."""


@dataclass
class OpenFailures:
    """The first failed open of each backend and spec in this process."""

    first: dict[tuple[str, str], str] = field(default_factory=dict)


def missing_operations(store: Any, spec: str) -> list[str]:
    """The spec's operations (and ``close``) that ``store`` does not offer as methods."""
    wanted = [operation.name for operation in SPECS[spec].operations] + ["close"]
    return [name for name in wanted if not callable(getattr(store, name, None))]


def open_checked(open_store: Callable[[], Any], backend: str, spec: str, nodeid: str,
                 failures: OpenFailures, fresh: bool) -> Any:
    """``open_store()``, with a failure reported once for the run: any open that returns no
    store of the spec, and a ``fresh`` open (the check's location, the newest schema) that
    raises anything but a spec error.  (A spec error may be what the check is after: it
    puts another application's data at the location and expects StorageFailed.)"""
    key = (backend, spec)
    if key in failures.first:
        pytest.skip(failures.first[key])
    try:
        store = open_store()
    except Exception as exc:
        if not fresh or isinstance(exc, StoreError):
            raise
        failures.first[key] = (f"backend {backend!r} could not open a {spec} store (see "
                               f"{nodeid}): {type(exc).__name__}: {exc}")[:400]
        raise StoreDidNotOpen(f"{spec}: backend {backend!r}: open() of a fresh location raised "
                              f"{type(exc).__name__}: {exc}; the other checks of {spec} on "
                              f"{backend!r} are skipped") from exc
    missing = missing_operations(store, spec)
    if missing:
        closer = getattr(store, "close", None)
        if callable(closer):
            closer()
        listed = ", ".join(missing)
        failures.first[key] = (f"backend {backend!r} returns no {spec} store from open() (see "
                               f"{nodeid}): it lacks {listed}")[:400]
        raise StoreDidNotOpen(
            f"{spec}: backend {backend!r}: open() returned a {type(store).__name__} that lacks "
            f"{len(missing)} of the spec's operations: {listed} (the {spec} Protocol, "
            f"{SPECS[spec].module.__name__}, lists each with its types); the other checks "
            f"of {spec} on {backend!r} are skipped")
    return store
