"""``badinput``: the spec's error or the value verbatim; nothing stored before changes.

This store's own hostile input: query text that must never be stored (the privacy
rule, checked in the store's own bytes), vectors the dimension rule refuses, scores,
ratings and enums outside the schema's rules, and every argument at its extremes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, ValidationError
from storecheck.conformance.hostile_arguments import ValidCall, check_operation, swept_operations
from storecheck.conformance.specs.telemetry import (
    SPEC,
    NewABTest,
    NewPrediction,
    RunCursor,
    SampleCursor,
    TelemetryStore,
    TrainingMetrics,
    query_hash,
)
from storecheck.fixtures.telemetry import DIMENSION, T0, TelemetryFactory, populate_session
from storecheck.fixtures.values import AWKWARD_STRINGS, INJECTION_STRINGS

pytestmark = pytest.mark.badinput
LATER = T0 + timedelta(hours=1)
SECRET = "SECRET-7f3a patient Jane Doe, card 4111 1111 1111 1111"
"""Query text a user typed: it must not be anywhere in the store."""


def _seeded(store: Any) -> Any:
    factory = TelemetryFactory(seed=31)
    populate_session(store, factory, "base")
    store.insert_training_run(factory.run(id="run"))
    store.insert_prediction(NewPrediction("pred", "run", "yes", 0.5, T0))
    store.create_ab_test(NewABTest("ab", "colour", ("a", "b"), T0))
    return _everything(store)


def _everything(store: Any) -> Any:
    activity = store.session_activity("base")
    return (store.get_session("base"), activity,
            [store.feature_vectors_for_query(q.id) for q in activity.queries],
            store.get_training_run("run"), store.predictions_for_run("run"),
            store.ab_test_results("ab"), store.daily_aggregates(T0.date(), LATER.date()))


def _factory() -> TelemetryFactory:
    return TelemetryFactory(seed=5)


def _query(**overrides: Any) -> Any:
    return _factory().query("base", **overrides)


def _feedback(**overrides: Any) -> Any:
    return _factory().feedback("base", None, **overrides)


def _trace(**overrides: Any) -> Any:
    return replace(_factory().trace("base", None), **overrides)


def _vector(embedding: Any) -> Any:
    return replace(_factory().vector("base-q", DIMENSION), embedding=embedding)


def _metrics(**overrides: Any) -> TrainingMetrics:
    return replace(TrainingMetrics("completed", LATER, 0.9, 0.1, 0.8, 10), **overrides)


CHECK_VIOLATIONS: dict[str, Callable[[Any], Any]] = {
    "unknown-query-type": lambda s: s.record_query(_query(query_type="chat")),
    "query-type-other-case": lambda s: s.record_query(_query(query_type="Search")),
    "negative-latency": lambda s: s.record_query(_query(latency_ms=-1)),
    "negative-tool-calls": lambda s: s.record_query(_query(tool_calls=-1)),
    "quality-above-one": lambda s: s.record_query(_query(result_quality_score=1.5)),
    "empty-error-category": lambda s: s.record_query(_query(error_category="")),
    "empty-query-id": lambda s: s.record_query(_query(id="")),
    "unknown-feedback-type": lambda s: s.record_feedback(_feedback(feedback_type="thumbs_sideways")),
    "rating-zero": lambda s: s.record_feedback(_feedback(rating=0)),
    "rating-six": lambda s: s.record_feedback(_feedback(rating=6)),
    "unknown-category": lambda s: s.record_feedback(_feedback(category="style")),
    "negative-steps": lambda s: s.record_trace(_trace(step_count=-1)),
    "coherence-below-zero": lambda s: s.record_trace(_trace(coherence_score=-0.1)),
    "empty-thinktool": lambda s: s.record_trace(_trace(thinktool_name="")),
    "session-ends-before-start": lambda s: s.end_session("base", T0 - timedelta(microseconds=1)),
    "run-completes-before-start": lambda s: s.update_training_run_results(
        "run", _metrics(completed_at=datetime(2000, 1, 1, tzinfo=T0.tzinfo))),
    "accuracy-above-one": lambda s: s.update_training_run_results("run", _metrics(accuracy=1.01)),
    "negative-loss": lambda s: s.update_training_run_results("run", _metrics(loss=-0.5)),
    "confidence-above-one": lambda s: s.insert_prediction(NewPrediction(
        "p2", "run", "no", 1.01, T0)),
    "empty-model-type": lambda s: s.insert_training_run(_factory().run(model_type="")),
    "empty-feature-set": lambda s: s.insert_feature_vector(replace(
        _vector((1.0,) * DIMENSION), feature_set="")),
    "empty-test-name": lambda s: s.create_ab_test(NewABTest("ab2", "", ("a", "b"), T0)),
    "winner-confidence-above-one": lambda s: s.finalize_ab_test("ab", "a", 1.5, LATER),
}


@pytest.mark.parametrize("call", CHECK_VIOLATIONS.values(), ids=CHECK_VIOLATIONS.keys())
@pytest.mark.operation("schema rules")
def test_schema_rules_refuse_bad_values(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "schema rules", lambda: call(store), ConstraintViolation,
                 ConstraintKind.CHECK)
    expect(_everything(store) == before, SPEC, "schema rules", "nothing stored changed")


@pytest.mark.operation("create_ab_test")
def test_two_equal_variants_are_a_unique_violation(store: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "create_ab_test",
                 lambda: store.create_ab_test(NewABTest("same", "colour", ("a", "a"), T0)),
                 ConstraintViolation, ConstraintKind.UNIQUE)
    expect(_everything(store) == before, SPEC, "create_ab_test", "nothing stored changed")


VALIDATION_ERRORS: dict[str, Callable[[Any], Any]] = {
    "naive-timestamp": lambda s: s.record_query(_query(timestamp=datetime(2026, 2, 10))),
    "tools-not-json": lambda s: s.record_query(_query(tools_used_json="[web_search]")),
    "tools-not-strings": lambda s: s.record_query(_query(tools_used_json="[1]")),
    "tools-an-object": lambda s: s.record_query(_query(tools_used_json='{"a": "b"}')),
    "quality-nan": lambda s: s.record_query(_query(result_quality_score=float("nan"))),
    "latency-as-text": lambda s: s.record_query(_query(latency_ms=cast(Any, "12"))),
    "step-types-nan": lambda s: s.record_trace(_trace(step_types_json="[NaN]")),
    "hyperparameters-not-json": lambda s: s.insert_training_run(_factory().run(
        hyperparameters_json="{")),
    "status-running": lambda s: s.update_training_run_results("run", _metrics(status="running")),
    "zero-vector": lambda s: s.insert_feature_vector(_vector((0.0,) * DIMENSION)),
    "vector-nan": lambda s: s.insert_feature_vector(_vector((float("nan"),) * DIMENSION)),
    "vector-infinite": lambda s: s.insert_feature_vector(_vector((float("inf"),) * DIMENSION)),
    "vector-beyond-float32": lambda s: s.insert_feature_vector(_vector((1e39,) * DIMENSION)),
    "vector-underflows-to-zero": lambda s: s.insert_feature_vector(_vector((1e-46,) * DIMENSION)),
    "vector-other-dimension": lambda s: s.insert_feature_vector(_vector((1.0,) * 3)),
    "vector-empty": lambda s: s.insert_feature_vector(_vector(())),
    "vector-as-text": lambda s: s.insert_feature_vector(_vector(cast(Any, "1.0"))),
    "search-other-dimension": lambda s: s.find_similar_queries((1.0,) * (DIMENSION + 1), 5),
    "search-zero-vector": lambda s: s.find_similar_queries((0.0,) * DIMENSION, 5),
    "search-limit-zero": lambda s: s.find_similar_queries((1.0,) * DIMENSION, 0),
    "limit-above-1000": lambda s: s.list_training_runs(None, 1001),
    "samples-limit-zero": lambda s: s.get_labeled_samples(0),
    "runs-page-without-limit": lambda s: s.training_runs_page(None, cast(Any, None)),
    "runs-page-cursor-naive": lambda s: s.training_runs_page(
        None, 10, RunCursor(T0.replace(tzinfo=None), "run")),
    "samples-page-cursor-as-tuple": lambda s: s.labeled_samples_page(
        10, cast(Any, (T0, "q"))),
    "unknown-export-format": lambda s: s.export_training_data(T0, LATER, "parquet"),
    "export-format-other-case": lambda s: s.export_training_data(T0, LATER, "CSV"),
    "days-as-datetimes": lambda s: s.batch_update_aggregates([T0]),
    "days-as-one-date": lambda s: s.batch_update_aggregates(cast(Any, date(2026, 2, 10))),
    "success-as-int": lambda s: s.record_ab_result("ab", "a", cast(Any, 1)),
    "winner-confidence-nan": lambda s: s.finalize_ab_test("ab", "a", float("nan"), LATER),
    "three-variants": lambda s: s.create_ab_test(NewABTest("ab3", "x", cast(Any, ("a", "b", "c")),
                                                           T0)),
}


@pytest.mark.parametrize("call", VALIDATION_ERRORS.values(), ids=VALIDATION_ERRORS.keys())
@pytest.mark.operation("input validation")
def test_invalid_arguments_raise_validation_error(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "input validation", lambda: call(store), ValidationError)
    expect(_everything(store) == before, SPEC, "input validation", "nothing stored changed")


def _record_secret(store: Any) -> list[str]:
    """Queries whose text is the secret in several spellings; returns the spellings."""
    factory = TelemetryFactory(seed=41)
    store.create_session(factory.session(id="private"))
    spellings = [SECRET, SECRET.lower(), f"  {SECRET.upper()}\t", SECRET.replace(" ", "  ")]
    for n, text in enumerate(spellings):
        query = store.record_query(factory.query("private", id=f"private-{n}", query_text=text))
        expect((query.query_hash, query.query_length) == (query_hash(text), len(text)), SPEC,
               "record_query", "the normalised text's SHA-256 and the text's length stored",
               query)
    return spellings


def _fragments(spellings: list[str]) -> set[bytes]:
    """Pieces of the text a store might keep: each spelling, its words, in UTF-8 and
    UTF-16 (SQLite's other text encoding)."""
    words = {word for text in spellings for word in text.split() if len(word) >= 6}
    return {piece.encode(encoding) for piece in (*spellings, *words)
            for encoding in ("utf-8", "utf-16-le")}


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("record_query")
def test_query_text_is_in_no_table(store: Any) -> None:
    """Every row of every table, read back through SQL: no query text, whole or in part."""
    found = _fragments(_record_secret(store))
    leaked = []
    for name, ddl in store.schema_ddl().items():
        if not ddl.lstrip().upper().startswith("CREATE TABLE"):
            continue
        for row in store.query(f'SELECT * FROM "{name}"'):
            text = repr(row).encode("utf-8")
            leaked += [f"{name}: {piece[:20]!r}" for piece in found
                       if piece in text or any(piece in bytes(v) for v in row
                                               if isinstance(v, bytes | memoryview))]
    expect(not leaked, SPEC, "record_query", "the query text in no stored row", leaked[:3])


@pytest.mark.requires(caps.FILE_STORAGE)
@pytest.mark.operation("record_query")
def test_query_text_is_in_no_byte_of_the_store(store: Any, fresh_location: str) -> None:
    """The database file and its journal, byte by byte, while the store is open (the WAL
    still holds the writes) and after it is closed."""
    found = _fragments(_record_secret(store))
    leaked = _files_holding(fresh_location, found)
    store.close()
    leaked += _files_holding(fresh_location, found)
    expect(not leaked, SPEC, "record_query", "the query text in no byte of the store's files",
           leaked[:3])


def _files_holding(location: str, pieces: set[bytes]) -> list[str]:
    base = Path(location)
    files = [path for path in base.parent.iterdir() if path.name.startswith(base.name)]
    return [f"{path.name}: {piece[:20]!r}" for path in files if path.is_file()
            for piece in pieces if piece in path.read_bytes()]


@pytest.mark.operation("export_anonymized")
def test_export_anonymized_carries_no_identifying_value(store: Any) -> None:
    """Ids, hashes, profiles and versions of the sessions and queries leave in no field;
    each row keeps only its UTC day of the instant."""
    factory = TelemetryFactory(seed=43)
    populate_session(store, factory, "who")
    _record_secret(store)
    activity = store.session_activity("who")
    session = store.get_session("who")
    identifying = {session.id, session.profile, session.client_version, session.os_family,
                   *(q.id for q in activity.queries), *(q.query_hash for q in activity.queries),
                   *(f.id for f in activity.feedback), "private", SECRET}
    exported = store.export_anonymized(T0 - timedelta(days=1), T0 + timedelta(days=2))
    expect(len(exported) == 6, SPEC, "export_anonymized", "the six queries exported",
           len(exported))
    leaked = [value for row in exported for value in vars(row).values()
              if isinstance(value, str) and value in identifying]
    expect(not leaked, SPEC, "export_anonymized", "no identifying value in the export", leaked)
    expect(all(type(row.day) is date for row in exported), SPEC, "export_anonymized",
           "the day, not the instant")


@pytest.mark.operation("record_query")
def test_text_fields_are_stored_verbatim(store: Any) -> None:
    """Every stored text field keeps what it was given: not trimmed, not re-encoded."""
    _seeded(store)
    factory = TelemetryFactory(seed=47)
    for n, text in enumerate(t for t in (*AWKWARD_STRINGS, *INJECTION_STRINGS) if t):
        query = store.record_query(factory.query("base", id=f"{text}-{n}", profile_used=text,
                                                 error_category=text))
        (stored,) = [q for q in store.session_activity("base").queries if q.id == query.id]
        expect(stored == query and (stored.profile_used, stored.error_category) == (text, text),
               SPEC, "record_query", f"text {n} back verbatim in every field", stored)


def valid_calls(store: Any) -> tuple[dict[str, ValidCall], Callable[[Any], Any]]:
    """A call of each operation that succeeds, fresh ids from ``n``, every optional argument
    given; and what a refused call must leave unchanged."""
    factory = TelemetryFactory(seed=37)
    _seeded(store)
    query_id = store.session_activity("base").queries[0].id
    fresh = itertools.count()

    def new_session() -> str:
        session_id = f"fresh-{next(fresh)}"
        store.create_session(factory.session(id=session_id, started_at=T0))
        return session_id

    def new_run() -> str:
        run_id = f"fresh-run-{next(fresh)}"
        store.insert_training_run(factory.run(id=run_id))
        return run_id

    def new_test() -> str:
        test_id = f"fresh-test-{next(fresh)}"
        store.create_ab_test(NewABTest(test_id, "colour", ("a", "b"), T0))
        return test_id

    def state(store: Any) -> Any:
        return (_everything(store), store.list_training_runs(None, 1000))

    vector = replace(factory.vector(query_id, DIMENSION), feature_set="fs")
    return {
        "create_session": lambda n: {"new": factory.session(id=f"new-{n}")},
        "end_session": lambda n: {"session_id": new_session(), "at": LATER},
        "get_session": lambda n: {"session_id": "base"},
        "record_query": lambda n: {"new": factory.query(
            "base", id=f"q-{n}", result_count=3, result_quality_score=0.5,
            error_category="timeout", profile_used="quick")},
        "record_feedback": lambda n: {"new": factory.feedback(
            "base", query_id, id=f"f-{n}", category="speed", context_hash="ab" * 32)},
        "record_trace": lambda n: {"new": replace(factory.trace("base", query_id),
                                                  id=f"t-{n}")},
        "session_activity": lambda n: {"session_id": "base"},
        "delete_session": lambda n: {"session_id": new_session()},
        "aggregated_metrics": lambda n: {"start": T0, "end": LATER},
        "batch_update_aggregates": lambda n: {"days": [T0.date()]},
        "daily_aggregates": lambda n: {"first": T0.date(), "last": LATER.date()},
        "export_anonymized": lambda n: {"start": T0, "end": LATER},
        "insert_training_run": lambda n: {"new": factory.run(id=f"r-{n}")},
        "get_training_run": lambda n: {"run_id": "run"},
        "list_training_runs": lambda n: {"model_type": "router", "limit": 10},
        "training_runs_page": lambda n: {"model_type": "router", "limit": 10,
                                         "after": RunCursor(LATER, "run")},
        "update_training_run_results": lambda n: {"run_id": new_run(), "metrics": _metrics()},
        "insert_feature_vector": lambda n: {"new": vector},
        "batch_insert_feature_vectors": lambda n: {"batch": [vector, vector]},
        "feature_vectors_for_query": lambda n: {"query_id": query_id},
        "find_similar_queries": lambda n: {"embedding": vector.embedding, "limit": 5},
        "insert_prediction": lambda n: {"new": NewPrediction(f"p-{n}", "run", "yes", 0.5, T0,
                                                             "cd" * 32)},
        "batch_insert_predictions": lambda n: {"batch": [
            NewPrediction(f"pb-{n}-{k}", "run", "yes", 0.5, T0, "cd" * 32) for k in range(2)]},
        "update_prediction_ground_truth": lambda n: {"prediction_id": "pred",
                                                     "actual_value": "no"},
        "predictions_for_run": lambda n: {"run_id": "run"},
        "calculate_model_accuracy": lambda n: {"run_id": "run"},
        "create_ab_test": lambda n: {"new": NewABTest(f"ab-{n}", "size", ("x", "y"), T0)},
        "record_ab_result": lambda n: {"test_id": "ab", "variant": "a", "success": True},
        "ab_test_results": lambda n: {"test_id": "ab"},
        "finalize_ab_test": lambda n: {"test_id": new_test(), "winner": "b", "confidence": 0.9,
                                       "at": LATER},
        "export_training_data": lambda n: {"start": T0, "end": LATER, "format": "jsonl"},
        "get_labeled_samples": lambda n: {"limit": 10},
        "labeled_samples_page": lambda n: {"limit": 10, "after": SampleCursor(LATER, query_id)},
        "get_model_performance": lambda n: {"model_version": "v1"},
        "compare_models": lambda n: {"version_a": "v1", "version_b": "v1"},
        "prune_old_data": lambda n: {"before": T0},
    }, state


@pytest.mark.parametrize("operation", swept_operations(TelemetryStore))
def test_no_raw_exception_from_any_argument(store: Any, operation: str) -> None:
    """Each argument and record field at its extremes and of the wrong kind, one at a time."""
    calls, state = valid_calls(store)
    check_operation(SPEC, store, TelemetryStore, operation, calls[operation], state)
