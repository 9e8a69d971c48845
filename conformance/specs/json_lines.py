"""JSON Lines as the specs' exports write it (``telemetry``'s ``jsonl`` training data,
``extraction``'s data export): one compact JSON object per record, keys in the columns'
order, no spaces, non-ASCII as itself but the line breaks JSON leaves raw escaped
(``\\u2028``: a reader that splits lines on them, as Python's ``splitlines`` does, would
cut a record), each followed by ``\\n``, in UTF-8.  Values: instants
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (four-digit years), booleans 0 / 1, ``None`` null."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Final

UNICODE_LINE_BREAKS: Final = ("\u0085", "\u2028", "\u2029")
"""The characters Unicode counts as line breaks that JSON writes as themselves (the others
are control characters, which JSON escapes)."""
INSTANT_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
"""An exported instant, as ``strptime`` reads it back."""


def export_value(value: object) -> object:
    """A record's value as an export writes it: instants as text, booleans as 0 / 1."""
    if isinstance(value, datetime):
        # strftime's %Y leaves years before 1000 short of four digits.
        return f"{value.year:04d}-" + value.strftime(INSTANT_FORMAT.removeprefix("%Y-"))
    if isinstance(value, bool):
        return int(value)
    return value


def json_lines(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """``rows`` as JSON Lines, each an object of ``columns``."""
    lines = []
    for row in rows:
        line = json.dumps(dict(zip(columns, map(export_value, row), strict=True)),
                          separators=(",", ":"), ensure_ascii=False)
        for char in UNICODE_LINE_BREAKS:
            line = line.replace(char, f"\\u{ord(char):04x}")
        lines.append(line + "\n")
    return "".join(lines).encode("utf-8")
