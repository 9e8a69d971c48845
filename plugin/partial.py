"""Partial implementations: a store ported one operation at a time.

A backend may declare the operations its stores implement (``operations`` on a Python
backend, in an ``exec:`` server's handshake; :class:`~storecheck.conformance.backend.
PartialImplementation`).  Every check still runs: one that calls an operation the backend
declared missing is skipped with "needs ``create_session``, not implemented", counted
apart from the skips for capabilities, and the run ends with each missing operation and
how many checks it blocked.  Which checks need which operation is what they call, so
nothing has to list it: the call of a missing method is what tells.  An operation a store
lacks without its backend saying so is refused at open (:mod:`storecheck.plugin.opening`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

import pytest

NOT_IMPLEMENTED_PROPERTY: Final = "storecheck_not_implemented"
"""The user property naming the missing operation a skipped check needed."""

_LACKED_ATTRIBUTE = re.compile(r"has no attribute '(\w+)'")


def needed_operation(error: BaseException | None, text: str,
                     missing: frozenset[str]) -> str | None:
    """The declared-missing operation a check failed for calling, if it did: the
    ``AttributeError`` of the call itself, or its message inside a check's own (a check
    that collects outcomes reports the error it caught)."""
    if not missing:
        return None
    name = getattr(error, "name", None) if isinstance(error, AttributeError) else None
    if name in missing:
        return str(name)
    for found in _LACKED_ATTRIBUTE.finditer(text):
        if found.group(1) in missing:
            return found.group(1)
    return None


def skip_as_not_implemented(report: pytest.TestReport, item: pytest.Item, operation: str,
                            backend: str) -> None:
    """Turn a failed report into the skip of a check that needs ``operation``."""
    path, line, _ = item.location
    report.outcome = "skipped"
    report.longrepr = (path, (line or 0) + 1,
                       f"Skipped: needs {operation!r}, not implemented by backend {backend!r}")
    # A new list: the report shares the item's, which the teardown's report copies.
    report.user_properties = [*report.user_properties, (NOT_IMPLEMENTED_PROPERTY, operation)]


def not_implemented_lines(blocked: Counter[tuple[str, str, str]]) -> list[str]:
    """Per backend and spec, each missing operation and how many checks it blocked, most
    first."""
    return [f"{backend} / {spec}: {operation} blocks {count} check{'s' if count > 1 else ''}"
            for (backend, spec, operation), count in sorted(
                blocked.items(), key=lambda entry: (entry[0][0], entry[0][1], -entry[1],
                                                    entry[0][2]))]
