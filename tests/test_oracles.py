"""The formulas and renderings both sides of a model check rest on, held to answers from
outside the project; and the model kept an independent oracle.

The spec modules' helpers are what the SQLite reference calls; the model has its own
(``reference_impl/memory/formulas.py``).  Each is checked here against a computation that
shares no code with either (scipy, numpy, the ``csv`` and ``json`` modules, a hand-worked
table), and the two are checked against each other on many drawn inputs, so that a model
check never fails a correct store on a last digit.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import importlib
import inspect
import io
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy.stats import chi2_contingency
from storecheck.conformance.specs import app_meta, conversations, extraction, telemetry
from storecheck.conformance.specs.telemetry import (
    EXPORT_COLUMNS,
    ExportRow,
    NewFeatureVector,
    NewQueryEvent,
    NewSession,
)
from storecheck.conformance.specs.telemetry_inputs import as_float32
from storecheck.fixtures.values import tricky_text
from storecheck.reference_impl.backend import SQLITE_BACKEND
from storecheck.reference_impl.memory import formulas
from storecheck.reference_impl.telemetry import similarity

MEMORY_MODEL = Path(formulas.__file__).parent
SPEC_MODULES = "storecheck.conformance.specs."

SHARED_WITH_THE_REFERENCE = {("session_history", "parse_legacy_document")}
"""Spec functions the model still calls.  The legacy importer's parser turns a document into
the records the import stores, or a ValidationError; the model does not parse it again, so
a misreading of the legacy format would be on both sides."""


def _spec_functions_the_model_imports() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(MEMORY_MODEL.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith(SPEC_MODULES)):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                # A spec module may re-export a function another spec module defines.
                if inspect.isfunction(value) and value.__module__.startswith(SPEC_MODULES) \
                        and not value.__module__.endswith(("_inputs", ".common")):
                    found.add((node.module.removeprefix(SPEC_MODULES), alias.name))
    return found


def test_the_model_computes_every_formula_and_rendering_itself() -> None:
    """A rule the spec module computes (a hash, a percentile, a p-value, an export) is
    computed again by the model, so that a wrong helper fails the reference's model check
    instead of agreeing with itself.  Validation of inputs (``*_inputs``) is shared: it
    decides which error an argument raises, which the badinput checks test directly."""
    assert _spec_functions_the_model_imports() == SHARED_WITH_THE_REFERENCE


# --- telemetry: the p-value -------------------------------------------------------------

P_VALUE_CASES = [
    (45, 100, 60, 100), (1, 1, 0, 1), (0, 5, 5, 5), (3, 10, 3, 10), (1, 1000, 2, 1000),
    (500, 1000, 560, 1000), (7, 13, 2, 29), (999, 1000, 1, 1000), (1, 2, 1, 3),
]
"""Cases with variance: balanced and lopsided sides, equal rates (p = 1), a tiny p."""
DEGENERATE_P_VALUE_CASES = [(0, 0, 3, 10), (3, 10, 0, 0), (0, 0, 0, 0), (0, 10, 0, 20),
                            (10, 10, 20, 20)]
"""No trial on a side, or a pooled rate of 0 or 1: no variance, no p-value."""


def _scipy_p_value(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    # Pearson's chi-square on the 2x2 table without continuity correction is the square of
    # the pooled two-proportion z statistic: the same two-sided p-value, another road.
    table = [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
    return float(chi2_contingency(table, correction=False).pvalue)


@pytest.mark.parametrize("implementation", [telemetry.two_proportion_p_value,
                                            formulas.two_proportion_p_value],
                         ids=["spec", "model"])
def test_the_p_value_is_scipys_chi_square_test(
        implementation: Callable[[int, int, int, int], float | None]) -> None:
    for case in P_VALUE_CASES:
        assert implementation(*case) == pytest.approx(_scipy_p_value(*case), abs=1e-9), case
        assert implementation(*case) == round(implementation(*case), 9), case
    for case in DEGENERATE_P_VALUE_CASES:
        assert implementation(*case) is None, case


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10_000).flatmap(lambda a: st.integers(1, 10_000).flatmap(
    lambda b: st.tuples(st.integers(0, a), st.just(a), st.integers(0, b), st.just(b)))))
def test_the_p_value_agrees_with_scipy_and_between_spec_and_model(
        case: tuple[int, int, int, int]) -> None:
    spec_value = telemetry.two_proportion_p_value(*case)
    assert formulas.two_proportion_p_value(*case) == spec_value
    if spec_value is not None:
        assert spec_value == pytest.approx(_scipy_p_value(*case), abs=1e-9)


# --- telemetry: cosine similarity and top-k -----------------------------------------------

components = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 64).flatmap(lambda n: st.tuples(
    st.lists(components, min_size=n, max_size=n), st.lists(components, min_size=n, max_size=n))))
def test_the_cosine_is_numpys_float64_cosine(pair: tuple[list[float], list[float]]) -> None:
    a, b = (as_float32(side) for side in pair)
    if not any(a) or not any(b):
        return
    direct = float(np.dot(np.array(a, np.float64), np.array(b, np.float64))
                   / (np.linalg.norm(np.array(a, np.float64))
                      * np.linalg.norm(np.array(b, np.float64))))
    spec_value = telemetry.cosine_similarity(a, b)
    assert formulas.cosine_similarity(a, b) == spec_value
    assert spec_value == pytest.approx(direct, abs=2e-9)


def test_find_similar_queries_is_a_brute_force_ranking(tmp_path: Path) -> None:
    """The reference's index against every cosine computed by numpy: best vector per
    query, highest first, equal similarities by query id, the top ``limit``."""
    rng = np.random.default_rng(7)
    store = SQLITE_BACKEND.open("telemetry", SQLITE_BACKEND.new_location("telemetry", tmp_path))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        store.create_session(NewSession("s", at))
        embeddings: dict[str, list[tuple[float, ...]]] = {}
        base = rng.normal(size=(12, 8))
        for index in range(40):
            query_id = f"q-{(index * 7) % 23:02d}"
            if query_id not in embeddings:
                store.record_query(NewQueryEvent(query_id, "s", at, "text", "search", 1))
                embeddings[query_id] = []
            # Scaled copies of a few base vectors: equal cosines across queries.
            vector = as_float32(list(base[index % 12] * (1 + index % 3)))
            embeddings[query_id].append(vector)
            store.insert_feature_vector(NewFeatureVector(query_id, "f", vector, at))
        for probe_row in rng.normal(size=(5, 8)):
            probe = as_float32(list(probe_row))
            best = {query_id: max(_numpy_cosine(vector, probe) for vector in vectors)
                    for query_id, vectors in embeddings.items()}
            expected = sorted(best.items(), key=lambda item: (-round(item[1], 9), item[0]))
            for limit in (1, 5, 23):
                found = store.find_similar_queries(probe, limit)
                assert [hit.query_id for hit in found] == [q for q, _ in expected[:limit]]
                for hit, (_, similarity) in zip(found, expected, strict=False):
                    assert hit.similarity == pytest.approx(similarity, abs=2e-9)
    finally:
        store.close()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_float32_screen_keeps_the_full_float64_ranking(data: st.DataObject) -> None:
    """The reference screens in float32 and computes float64 only for what the screen keeps:
    against a full float64 ranking of every vector, on vectors one float32 step apart
    (near-ties the screen cannot tell apart), exact copies, several vectors to a query, and
    magnitudes from the smallest normal float32 to near its largest."""
    dimension = data.draw(st.integers(1, 48), label="dimension")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    base = rng.standard_normal((data.draw(st.integers(1, 6), label="bases"), dimension))
    count = data.draw(st.integers(1, 120), label="vectors")
    scales = data.draw(st.lists(st.sampled_from((1e-37, 1e-3, 1.0, 1e3, 1e37)), min_size=count,
                                max_size=count), label="scales")
    rows = np.array([base[i % len(base)] * scales[i] for i in range(count)], dtype=np.float32)
    steps = rng.integers(-2, 3, size=rows.shape).astype(np.int32)
    rows = (rows.view(np.int32) + steps * (rows != 0)).view(np.float32)
    rows[~rows.any(axis=1), 0] = 1.0
    query_ids = [f"q-{rng.integers(0, max(count // 2, 1)):03d}" for _ in range(count)]
    matrix = similarity.build((count, count, count), query_ids, rows)
    probe = as_float32(list(base[0] + rng.standard_normal(dimension) * 1e-6))
    if not any(probe):
        return
    exact = rows.astype(np.float64) @ np.array(probe) / (
        np.linalg.norm(rows.astype(np.float64), axis=1) * np.linalg.norm(np.array(probe)))
    best: dict[str, float] = {}
    for query_id, value in zip(query_ids, exact, strict=True):
        best[query_id] = max(best.get(query_id, -2.0), float(value))
    expected = sorted(best.items(), key=lambda item: (-round(item[1], 9), item[0]))
    for limit in (1, 3, 10, len(best)):
        found = matrix.top(probe, limit)
        assert [hit.query_id for hit in found] == [q for q, _ in expected[:limit]], limit
        for hit, (_, value) in zip(found, expected, strict=False):
            assert hit.similarity == pytest.approx(value, abs=2e-9)


def _numpy_cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    left, right = np.array(a, np.float64), np.array(b, np.float64)
    return float(np.dot(left, right) / (np.linalg.norm(left) * np.linalg.norm(right)))


# --- telemetry: percentile, hash ------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=30), st.sampled_from((0, 1, 50, 95, 99, 100)))
@example([], 50)
@example([5, 5, 5, 7], 75)
def test_nearest_rank_is_its_definition(values: list[int], percent: int) -> None:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    qualifying = [v for v in values if 100 * sum(x <= v for x in values) >= percent * len(values)]
    expected = min(qualifying) if values else None
    assert telemetry.nearest_rank(values, percent) == expected
    assert formulas.nearest_rank(values, percent) == expected


@pytest.mark.parametrize("text", ["Hello  World", " HELLO\tworld ", "hello\u00a0\nworld",
                                  "hello world"])
def test_query_hash_by_hand(text: str) -> None:
    expected = hashlib.sha256(b"hello world").hexdigest()
    assert telemetry.query_hash(text) == expected == formulas.query_hash(text)


@settings(max_examples=200, deadline=None)
@given(tricky_text())
def test_query_hash_agrees_between_spec_and_model(text: str) -> None:
    assert formulas.query_hash(text) == telemetry.query_hash(text)


# --- telemetry: the exports, read back ------------------------------------------------------

instants = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.just(UTC))
export_rows = st.tuples(
    tricky_text(), tricky_text(), instants, st.sampled_from(telemetry.QUERY_TYPES),
    st.integers(0, 2**31), st.integers(0, 2**31), st.integers(0, 9), st.integers(0, 9),
    st.none() | st.integers(0, 9), st.none() | st.floats(0, 1), st.booleans(),
    st.integers(0, 9), st.integers(0, 9), st.none() | st.floats(1, 5))


def _expected_text(value: object) -> str:
    """Each field as the spec's docstring spells it, written out independently."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
                f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z")
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(export_rows, max_size=4))
def test_the_csv_export_reads_back_field_by_field(rows: list[ExportRow]) -> None:
    content = telemetry.training_data_csv(rows)
    assert formulas.export_csv(EXPORT_COLUMNS, rows) == content
    text = content.decode("utf-8")
    assert text.endswith("\r\n")
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert records[0] == list(EXPORT_COLUMNS)
    assert records[1:] == [[_expected_text(value) for value in row] for row in rows]


@settings(max_examples=150, deadline=None)
@given(st.lists(export_rows, max_size=4))
def test_the_jsonl_export_reads_back_line_by_line(rows: list[ExportRow]) -> None:
    content = telemetry.training_data_jsonl(rows)
    assert formulas.export_jsonl(EXPORT_COLUMNS, rows) == content
    lines = content.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == len(rows) + 1
    for line, row in zip(lines, rows, strict=False):
        parsed = json.loads(line)
        # Compact, keys in column order, non-ASCII as itself but the two line separators
        # escaped: what json writes back, with those two spelled out.
        written_back = json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
        for separator in "\u0085\u2028\u2029":
            assert separator not in line
            written_back = written_back.replace(separator, f"\\u{ord(separator):04x}")
        assert line == written_back
        assert content.decode("utf-8").splitlines() == lines[:-1]
        assert list(parsed) == list(EXPORT_COLUMNS)
        for value, (column, read) in zip(row, parsed.items(), strict=True):
            if isinstance(value, datetime | bool) or value is None:
                assert read == (None if value is None else
                                int(value) if isinstance(value, bool) else _expected_text(value))
            else:
                assert read == value and type(read) is type(value), column


@settings(max_examples=150, deadline=None)
@given(st.lists(export_rows, max_size=4))
def test_the_spreadsheet_csv_defuses_every_text_cell_that_starts_like_a_formula(
    rows: list[ExportRow],
) -> None:
    content = telemetry.training_data_csv(rows, for_spreadsheets=True)
    assert formulas.export_csv(EXPORT_COLUMNS, rows, for_spreadsheets=True) == content
    records = list(csv.reader(io.StringIO(content.decode("utf-8"), newline=""), strict=True))
    for record, row in zip(records[1:], rows, strict=True):
        for cell, value in zip(record, row, strict=True):
            plain = _expected_text(value)
            formula_like = isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r")
            assert cell == ("'" + plain if formula_like else plain)


def test_the_spreadsheet_csv_leaves_negative_numbers_and_plain_text_alone() -> None:
    row: ExportRow = ("=HYPERLINK(\"x\")", "@s", datetime(2025, 1, 1, tzinfo=UTC), "code",
                      1, 2, 3, 4, None, -0.5, False, 0, 0, None)
    expected = b"\"'=HYPERLINK(\"\"x\"\")\",'@s,2025-01-01T00:00:00.000000Z,code,1,2,3,4,,-0.5,0,0,0,\r\n"
    for content in (telemetry.training_data_csv([row], for_spreadsheets=True),
                    formulas.export_csv(EXPORT_COLUMNS, [row], for_spreadsheets=True)):
        assert content.endswith(expected), content


def test_an_export_spells_every_year_with_four_digits() -> None:
    row: ExportRow = ("q", "s", datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "code", 1, 2, 3, 4,
                      None, None, False, 0, 0, None)
    expected = b"q,s,0999-01-02T03:04:05.000006Z,code,1,2,3,4,,,0,0,0,\r\n"
    assert telemetry.training_data_csv([row]).endswith(expected)
    assert formulas.export_csv(EXPORT_COLUMNS, [row]).endswith(expected)


# --- the other specs' formulas, by hand ---------------------------------------------------


def test_event_checksum_is_the_hash_of_a_hand_written_array() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
    canonical = ('["e-1","order.created","o-\u00e9","order",7,"{\\"a\\": 1}",null,'
                 '"t\\n\\u0001\\"","u\\\\","2026-01-02T03:04:05.000060+00:00"]')
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    fields = ("e-1", "order.created", "o-\u00e9", "order", 7, '{"a": 1}', None, 't\n\x01"',
              "u\\", at)
    assert app_meta.event_checksum(*fields) == expected == formulas.event_checksum(*fields)


@settings(max_examples=200, deadline=None)
@given(tricky_text(), tricky_text(), st.none() | tricky_text(), st.integers(1, 2**40),
       st.datetimes(timezones=st.just(UTC)))
def test_event_checksum_agrees_between_spec_and_model(
        event_id: str, data: str, user: str | None, sequence: int, at: datetime) -> None:
    fields = (event_id, "t", "a", "k", sequence, data, None, None, user, at)
    assert formulas.event_checksum(*fields) == app_meta.event_checksum(*fields)


SEARCH_CASES = [
    ("caf", "Café au lait", True), ("CAFÉ", "café", False), ("café", "CAFÉ", False),
    ("au lait", "café au lait", True), ("lait au", "café au lait", True),
    ("x-ray", "X ray", True), ("ray", "x-ray", True), ("", "anything", True),
    ("über", "Übersicht", False), ("42", "answer:42!", True), ("ab", "a b", False),
]
"""(query, content, matches): only ASCII letters fold case; every query token must prefix
some content token."""


@pytest.mark.parametrize(("query", "content", "expected"), SEARCH_CASES)
def test_search_matching_by_hand(query: str, content: str, expected: bool) -> None:
    assert conversations.matches(query, content) is expected
    assert formulas.search_matches(query, content) is expected


@settings(max_examples=300, deadline=None)
@given(tricky_text())
def test_search_tokens_agree_between_spec_and_model(text: str) -> None:
    assert formulas.search_tokens(text) == conversations.tokens(text)


def test_retry_backoff_by_hand() -> None:
    for attempts, seconds in ((1, 1), (2, 2), (3, 4), (4, 8), (11, 1024)):
        assert conversations.backoff_seconds(attempts) == seconds
        assert formulas.retry_backoff_seconds(attempts) == seconds


REPLAY_CASES = [
    (timedelta(seconds=1), 3.0, timedelta(microseconds=333_333)),
    (timedelta(microseconds=1), 2.0, timedelta(0)),  # 0.5 µs: halves to even
    (timedelta(microseconds=3), 2.0, timedelta(microseconds=2)),  # 1.5 µs
    (timedelta(microseconds=5), 2.0, timedelta(microseconds=2)),  # 2.5 µs
    (timedelta(seconds=1), 0.1, timedelta(seconds=10)),
    (timedelta(days=1), 100.0, timedelta(seconds=864)),
    (timedelta(0), 1.0, timedelta(0)),
]


@pytest.mark.parametrize(("gap", "speed", "delay"), REPLAY_CASES)
def test_replay_delays_by_hand(gap: timedelta, speed: float, delay: timedelta) -> None:
    assert formulas.replay_delay(gap, speed) == delay
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [extraction.ExtractionEvent(number, "agent", "s", when, "state_change", "p", None,
                                         None, None, None, None, None, False)
              for number, when in enumerate((at, at + gap))]
    steps = extraction.replay_steps(events, speed)
    assert [step.delay for step in steps] == [timedelta(0), delay]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.floats(extraction.MIN_SPEED, extraction.MAX_SPEED))
def test_replay_delay_is_the_exact_quotient_rounded(microseconds: int, speed: float) -> None:
    gap = timedelta(microseconds=microseconds)
    exact = Fraction(microseconds) / Fraction(speed)
    assert formulas.replay_delay(gap, speed) == timedelta(microseconds=round(exact))
    assert formulas.replay_delay(gap, speed) == gap / speed
    assert math.isfinite(speed)


def test_extraction_exports_agree_between_reference_and_model(tmp_path: Path) -> None:
    """The spec's rendering (the reference's) and the model's, byte for byte, on every
    hostile value in every field; each line is what the json module reads as the row."""
    from storecheck.conformance.specs.extraction_export import EXPORT_TABLES
    from storecheck.conformance.suites.extraction.test_export import _hostile_world
    from storecheck.reference_impl.memory.extraction import MemoryExtraction

    reference = SQLITE_BACKEND.open("extraction",
                                    SQLITE_BACKEND.new_location("extraction", tmp_path))
    model = MemoryExtraction()
    for store in (reference, model):
        _hostile_world(store)
    data = reference.export_data()
    reference.close()
    assert data == model.export_data()
    tables = [name for name, _ in EXPORT_TABLES]
    seen = [json.loads(line)["table"] for line in data.decode("utf-8").split("\n")[:-1]]
    assert seen == sorted(seen, key=tables.index) and set(seen) == set(tables)
