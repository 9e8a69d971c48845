"""Opening a backend's stores for the checks: a store that cannot be opened is one failure.

A backend whose ``open()`` raises, or returns something that is not a store of the spec,
would otherwise fail every check of the spec with the same traceback (64 of them, 1,897
lines) or, worse, with whatever the first check happened to call on the wrong object.
The first check that fails because it could not open a fresh store reports the cause,
in the spec's words; every later check of that backend and spec is skipped with a pointer
to it.  Only a check that *fails* so counts: a check may expect an open to be refused
(a tampered migration history) and catch the error itself.
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

    def __init__(self, message: str, skip_reason: str) -> None:
        super().__init__(message)
        self.skip_reason = skip_reason
        """What the later checks of the backend and spec are skipped with."""


@dataclass
class OpenFailures:
    """The first failed open of each backend and spec in this process."""

    first: dict[tuple[str, str], str] = field(default_factory=dict)


def missing_operations(store: Any, spec: str,
                       declared_missing: frozenset[str] = frozenset()) -> list[str]:
    """The spec's operations (and ``close``) that ``store`` does not offer as methods, but
    those its backend declares it lacks (:mod:`storecheck.plugin.partial`)."""
    wanted = [operation.name for operation in SPECS[spec].operations
              if operation.name not in declared_missing] + ["close"]
    return [name for name in wanted if not callable(getattr(store, name, None))]


def open_checked(open_store: Callable[[], Any], backend: str, spec: str, nodeid: str,
                 failures: OpenFailures, fresh: bool,
                 declared_missing: frozenset[str] = frozenset()) -> Any:
    """``open_store()``; :class:`StoreDidNotOpen` for any open that returns no store of
    the spec, and for a ``fresh`` open (the check's location, the newest schema) that
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
        raise StoreDidNotOpen(
            f"{spec}: backend {backend!r}: open() of a fresh location raised "
            f"{type(exc).__name__}: {exc}; the other checks of {spec} on {backend!r} are "
            "skipped",
            (f"backend {backend!r} could not open a {spec} store (see {nodeid}): "
             f"{type(exc).__name__}: {exc}")[:400]) from exc
    missing = missing_operations(store, spec, declared_missing)
    if missing:
        closer = getattr(store, "close", None)
        if callable(closer):
            closer()
        listed = ", ".join(missing)
        raise StoreDidNotOpen(
            f"{spec}: backend {backend!r}: open() returned a {type(store).__name__} that lacks "
            f"{len(missing)} of the spec's operations: {listed} (the {spec} Protocol, "
            f"{SPECS[spec].module.__name__}, lists each with its types); the other checks "
            f"of {spec} on {backend!r} are skipped.  A store ported one operation at a time "
            "runs by declaring the ones it has: ``operations`` on the backend, or in an "
            "exec: server's handshake",
            (f"backend {backend!r} returns no {spec} store from open() (see {nodeid}): it "
             f"lacks {listed}")[:400])
    return store


def note_failure(error: BaseException | None, backend: str, spec: str,
                 failures: OpenFailures) -> None:
    """A check that failed because its store did not open: its backend and spec's other
    checks are skipped from now on."""
    if isinstance(error, StoreDidNotOpen):
        failures.first.setdefault((backend, spec), error.skip_reason)
