"""``--store-known-failures=FILE``: checks a backend is known to fail, each with its reason.

A team moving to a new backend rarely passes everything on day one and must
still gate CI on "nothing new broke".  The file maps, per backend name (or
``"*"`` for every backend), a pattern of check ids (``fnmatch``: ``*`` and
``?``) to the reason::

    [postgres]
    "storecheck/conversations/test_acid.py::test_purge_*" = "purge is batched until #42"

(or the same as JSON).  A listed check that fails is reported as known; a
listed check that passes fails the run (strict), so the list cannot rot, and the failure
names the entry to remove.  A check that fails only now and then is listed with
``strict = false`` and may pass::

    "storecheck/conversations/test_races.py::*" = { reason = "flaky until #43", strict = false }
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ANY_BACKEND = "*"


@dataclass(frozen=True)
class KnownFailure:
    backend: str
    pattern: str
    reason: str
    strict: bool = True
    """A listed check that passes fails the run (an entry that no longer applies)."""
    source: str = ""
    """The manifest the entry is in, for the message that says to remove it."""

    def passed_message(self) -> str:
        return (f"[XPASS(strict)] a known failure passed: remove the entry {self.pattern!r} "
                f"under [{self.backend}] from {self.source or 'the known-failures file'} "
                f"(it said: {self.reason})")

    def matches(self, backend: str, nodeid: str) -> bool:
        return self.backend in (ANY_BACKEND, backend) and fnmatchcase(nodeid, self.pattern)


def load(path: Path) -> tuple[KnownFailure, ...]:
    """The manifest's entries, or a usage error naming the flag and what is wrong."""
    flag = f"--store-known-failures={path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"{flag}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise pytest.UsageError(f"{flag}: not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise pytest.UsageError(f"{flag}: expected a table per backend name")
    entries = []
    for backend, table in data.items():
        if not isinstance(table, dict):
            raise pytest.UsageError(f"{flag}: [{backend}] must map check id patterns to reasons")
        for pattern, value in table.items():
            reason, strict = _reason_and_strictness(flag, backend, pattern, value)
            entries.append(KnownFailure(str(backend), str(pattern), reason, strict, str(path)))
    return tuple(entries)


def _reason_and_strictness(flag: str, backend: str, pattern: str, value: object) -> tuple[str, bool]:
    """An entry's value: the reason, or a table ``{reason = "...", strict = false}``."""
    if isinstance(value, dict):
        unknown = set(value) - {"reason", "strict"}
        if unknown:
            raise pytest.UsageError(f"{flag}: [{backend}] {pattern!r} has unknown keys "
                                    f"{', '.join(sorted(unknown))} (reason, strict)")
        strict = value.get("strict", True)
        if not isinstance(strict, bool):
            raise pytest.UsageError(f"{flag}: [{backend}] {pattern!r}: strict must be true or "
                                    "false")
        reason = value.get("reason")
    else:
        reason, strict = value, True
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(
            f"{flag}: [{backend}] {pattern!r} needs a reason (a non-empty string)")
    return reason, strict


ENTRY_KEY = pytest.StashKey["KnownFailure"]()
"""The manifest entry that listed a check."""


def mark(items: list[pytest.Item], entries: tuple[KnownFailure, ...],
         backend_of: dict[str, str]) -> set[KnownFailure]:
    """Mark each listed check strict-xfail with its reason; return the entries that matched."""
    used: set[KnownFailure] = set()
    for item in items:
        backend = backend_of.get(item.nodeid)
        if backend is None:
            continue
        for entry in entries:
            if entry.matches(backend, item.nodeid):
                item.add_marker(pytest.mark.xfail(reason=f"known failure: {entry.reason}",
                                                  strict=entry.strict))
                item.stash[ENTRY_KEY] = entry
                used.add(entry)
                break
    return used
