"""The model's own arithmetic, hashes and renderings, written from the specs' words.

The model is the oracle every implementation is compared with.  Were it to call the spec
modules' helpers, which the SQLite reference calls too, an error in one of them, or a reading
of the seed that the words do not support, would be the same on both sides and invisible.
So each function here follows the sentence of the spec it names, by its own route where one
exists (exact rational arithmetic for sums, a hand-written encoder for JSON and CSV), and the
project's tests hold each to known answers computed outside the project.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from statistics import NormalDist

# --- shared: SHA-256 and canonical JSON -------------------------------------------------


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes, lowercase hex (every spec's hash of a text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t"}


def json_text(value: str) -> str:
    """A JSON string (RFC 8259): the two-character escapes where JSON has one, ``\\u00xx``
    (lowercase hex) for the other control characters, every other character as itself."""
    out = ['"']
    for char in value:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def json_value(value: object) -> str:
    """Compact JSON of a text, integer, float, boolean-as-0/1 or null leaf."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"no JSON leaf for {type(value).__name__}")


# --- app_meta ------------------------------------------------------------------------------


def event_checksum(event_id: str, event_type: str, aggregate_id: str, aggregate_type: str,
                   sequence_number: int, data_json: str, metadata_json: str | None,
                   trace_id: str | None, user_id: str | None, timestamp: datetime) -> str:
    """app_meta: SHA-256 of the fields as one compact JSON array, the instant in ISO 8601
    with microseconds and its offset."""
    offset = timestamp.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    instant = (f"{timestamp.year:04d}-{timestamp.month:02d}-{timestamp.day:02d}"
               f"T{timestamp.hour:02d}:{timestamp.minute:02d}:{timestamp.second:02d}"
               f".{timestamp.microsecond:06d}{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    fields: list[object] = [event_id, event_type, aggregate_id, aggregate_type, sequence_number,
                            data_json, metadata_json, trace_id, user_id, instant]
    return sha256_hex("[" + ",".join(json_value(field) for field in fields) + "]")


# --- conversations -------------------------------------------------------------------------


def _is_token_char(char: str) -> bool:
    return ("a" <= char <= "z" or "A" <= char <= "Z" or "0" <= char <= "9"
            or ord(char) >= 0x80)


def search_tokens(text: str) -> list[str]:
    """conversations and extraction: runs of ASCII letters, digits and non-ASCII
    characters, with only the ASCII letters lower-cased."""
    found: list[str] = []
    current: list[str] = []
    for char in text + " ":
        if _is_token_char(char):
            current.append(chr(ord(char) + 32) if "A" <= char <= "Z" else char)
        elif current:
            found.append("".join(current))
            current = []
    return found


def search_matches(query: str, content: str) -> bool:
    """conversations and extraction: every token of the query is a prefix of some token of
    the content."""
    have = search_tokens(content)
    return all(any(token[:len(term)] == term for token in have)
               for term in search_tokens(query))


def retry_backoff_seconds(attempts: int) -> int:
    """conversations: 1 second after the first failed attempt, doubling with each one."""
    delay = 1
    for _ in range(attempts - 1):
        delay *= 2
    return delay


# --- extraction ------------------------------------------------------------------------------


def replay_delay(gap: timedelta, speed: float) -> timedelta:
    """extraction: the gap divided by ``speed``, to the microsecond, halves to even."""
    microseconds = Fraction(gap // timedelta(microseconds=1)) / Fraction(speed)
    return timedelta(microseconds=round(microseconds))


# --- telemetry -----------------------------------------------------------------------------

TELEMETRY_DIGITS = 9
"""telemetry: figures computed in floating point other than plain ratios are rounded to
nine decimal places."""


def query_hash(text: str) -> str:
    """telemetry: the text lower-cased, its whitespace runs made one space and trimmed."""
    return sha256_hex(re.sub(r"\s+", " ", text.lower()).strip(" "))


def share(part: int, whole: int) -> float | None:
    """A plain ratio; none of nothing."""
    return None if whole == 0 else part / whole


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """telemetry: the smallest value with at least ``percent`` % of the values at or below
    it, found by walking the values in order and counting."""
    ordered = sorted(values)
    for at_or_below, value in enumerate(ordered, start=1):
        if 100 * at_or_below >= percent * len(ordered):
            return value
    return None


def _exact_sum_of_products(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum((Fraction(x) * Fraction(y) for x, y in zip(a, b, strict=True)),
                     Fraction(0)))


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """telemetry: the dot product over the product of the two norms, each sum computed
    exactly and rounded once to float64, each norm its square root."""
    norms = math.sqrt(_exact_sum_of_products(a, a)) * math.sqrt(_exact_sum_of_products(b, b))
    return round(_exact_sum_of_products(a, b) / norms, TELEMETRY_DIGITS)


_STANDARD_NORMAL = NormalDist()


def two_proportion_p_value(successes_a: int, trials_a: int, successes_b: int,
                           trials_b: int) -> float | None:
    """telemetry: the two-sided p-value of the pooled two-proportion z-test; none when a
    side has no trial or every trial (or none) succeeded."""
    trials = trials_a + trials_b
    successes = successes_a + successes_b
    if trials_a == 0 or trials_b == 0 or successes in (0, trials):
        return None
    pooled = successes / trials
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    z = (successes_a / trials_a - successes_b / trials_b) / standard_error
    return round(2 * _STANDARD_NORMAL.cdf(-abs(z)), TELEMETRY_DIGITS)


def export_instant(value: datetime) -> str:
    """telemetry's export instants: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, four-digit years."""
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z")


def _export_field(value: object) -> object:
    return export_instant(value) if isinstance(value, datetime) else value


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    text = json_value(value) if not isinstance(value, str) else value
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _defused(value: object) -> object:
    """A text value whose first character would make a spreadsheet compute it, with a
    single quote in front; anything else as it is."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def export_csv(columns: Sequence[str], rows: Sequence[Sequence[object]],
               for_spreadsheets: bool = False) -> bytes:
    """telemetry: RFC 4180 in UTF-8, a header, CRLF after every record, a field quoted
    only when it holds a comma, a quote or a line break, an empty field for none; for a
    spreadsheet, a text field that starts like a formula quoted with ``'`` first."""
    records = [",".join(_csv_field(column) for column in columns)]
    records += [",".join(_csv_field(_export_field(_defused(value) if for_spreadsheets
                                                  else value)) for value in row)
                for row in rows]
    return "".join(record + "\r\n" for record in records).encode("utf-8")


def export_jsonl(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """telemetry: one compact JSON object per row, keys in column order, each line ended
    by a line feed."""
    lines = ["{" + ",".join(f"{json_text(column)}:{json_value(_export_field(value))}"
                            for column, value in zip(columns, row, strict=True)) + "}\n"
             for row in rows]
    # Next line and the two Unicode separators as escapes: the same JSON, one record per
    # line whoever splits the lines.
    for separator in ("\u0085", "\u2028", "\u2029"):
        escape = f"\\u{ord(separator):04x}"
        lines = [line.replace(separator, escape) for line in lines]
    return "".join(lines).encode("utf-8")
