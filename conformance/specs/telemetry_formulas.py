"""The rules of spec ``telemetry`` that are formulas and renderings: the query hash, the
percentile, the cosine, the p-value and the training-data export's two spellings.

The spec module (:mod:`.telemetry`) states them and re-exports them; the SQLite and
PostgreSQL references call them; the in-memory model computes each again on its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from storecheck.conformance.specs.json_lines import export_value, json_lines

DIGITS: Final = 9
"""Figures computed with floating point other than plain ratios are rounded to this many
decimal places, so that every implementation agrees to the bit."""


def query_hash(text: str) -> str:
    """SHA-256 (lowercase hex) of ``text`` lower-cased, whitespace runs made one space."""
    normalized = " ".join(text.lower().split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The smallest value with at least ``percent`` % of ``values`` at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two float32 vectors, computed in float64, rounded to :data:`DIGITS`."""
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return round(dot / norms, DIGITS)


def two_proportion_p_value(successes_a: int, trials_a: int, successes_b: int,
                           trials_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test, rounded to :data:`DIGITS`.

    ``None`` when a side has no trial or the pooled rate is 0 or 1 (no variance).
    """
    if trials_a == 0 or trials_b == 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return None
    z = (successes_a / trials_a - successes_b / trials_b) / math.sqrt(variance)
    return round(math.erfc(abs(z) / math.sqrt(2)), DIGITS)


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole



# --- training-data export -------------------------------------------------------

EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "query_id", "session_id", "timestamp", "query_type", "query_length", "latency_ms",
    "tool_calls", "retrieval_count", "result_count", "result_quality_score", "error_occurred",
    "thumbs_up", "thumbs_down", "mean_rating")
"""The columns of ``v_training_data_export``, in order: one row per query, its feedback
counted (``mean_rating`` over the rated feedback, ``None`` without)."""
ExportRow = tuple[str, str, datetime, str, int, int, int, int, int | None, float | None, bool,
                  int, int, float | None]


SPREADSHEET_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP's list)."""


def _spreadsheet_text(value: object) -> object:
    """A text value a spreadsheet would run, with a ``'`` before it: the cell then shows
    the text.  Numbers stay as they are (``-1.5`` is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(SPREADSHEET_TRIGGERS):
        return "'" + value
    return value


def training_data_csv(rows: Sequence[ExportRow], *, for_spreadsheets: bool = False) -> bytes:
    """RFC 4180 in UTF-8: a header, CRLF line ends, fields quoted only when needed, an
    empty field for ``None``, floats in their shortest round-trip spelling, instants
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, booleans 0 / 1.  ``for_spreadsheets``: each text
    cell beginning with one of :data:`SPREADSHEET_TRIGGERS` gets a ``'`` before it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        values = (_spreadsheet_text(value) if for_spreadsheets else value for value in row)
        writer.writerow(["" if value is None else export_value(value) for value in values])
    return out.getvalue().encode("utf-8")


def training_data_jsonl(rows: Sequence[ExportRow]) -> bytes:
    """JSON Lines (:mod:`~storecheck.conformance.specs.json_lines`), keys in
    :data:`EXPORT_COLUMNS` order; values as in the CSV, ``None`` null."""
    return json_lines(EXPORT_COLUMNS, rows)
