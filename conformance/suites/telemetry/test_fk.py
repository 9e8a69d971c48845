"""``fk``: every event, vector and prediction needs its parent; deleting a session and
pruning take every child (those of other sessions that name its queries included) and
nothing else."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs.telemetry import FOREIGN_KEYS, SPEC, DeletedRows
from storecheck.fixtures.telemetry import DIMENSION, T0, TelemetryFactory, populate_session
from storecheck.reference_impl.schemas import reference_schema

pytestmark = pytest.mark.fk
CUTOFF = T0 + timedelta(days=1)


@pytest.mark.operation("record_query")
def test_every_child_needs_its_parent(store: Any) -> None:
    """A missing parent, or the parent's id in another case, is a FOREIGN_KEY violation,
    and the refused row is nowhere."""
    factory = TelemetryFactory()
    (query_id, _) = populate_session(store, factory, "real")
    store.insert_training_run(factory.run(id="run"))
    refused = {
        "record_query": lambda: store.record_query(factory.query("REAL")),
        "record_feedback": lambda: store.record_feedback(factory.feedback("ghost", None)),
        "record_feedback ": lambda: store.record_feedback(factory.feedback("real", "ghost-q")),
        "record_trace": lambda: store.record_trace(replace(factory.trace("real", None),
                                                           query_id=query_id.upper())),
        "record_trace ": lambda: store.record_trace(factory.trace("ghost", None)),
        "insert_feature_vector": lambda: store.insert_feature_vector(
            factory.vector("ghost-q", DIMENSION)),
        "insert_prediction": lambda: store.insert_prediction(factory.prediction("RUN")),
    }
    before = store.session_activity("real")
    for operation, call in refused.items():
        expect_error(SPEC, operation.strip(), call, ConstraintViolation,
                     ConstraintKind.FOREIGN_KEY)
    expect(store.session_activity("real") == before, SPEC, "record_query",
           "no refused event stored")
    expect(store.predictions_for_run("run") == [], SPEC, "insert_prediction",
           "no refused prediction stored")
    expect_error(SPEC, "session_activity", lambda: store.session_activity("ghost"), NotFound)


@pytest.mark.operation("delete_session")
def test_delete_session_takes_every_child_and_nothing_else(store: Any) -> None:
    """Its queries, the feedback and traces of the session and those of other sessions
    that name its queries, and the vectors of its queries; another session keeps all."""
    factory = TelemetryFactory()
    doomed = populate_session(store, factory, "doomed")
    kept = populate_session(store, factory, "kept")
    # Rows of the kept session that name the doomed session's queries.
    store.record_feedback(factory.feedback("kept", doomed[1]))
    store.record_trace(factory.trace("kept", doomed[0]))
    kept_before = store.session_activity("kept")
    deleted = store.delete_session("doomed")
    expect(deleted == DeletedRows(1, 2, 2, 2, 2), SPEC, "delete_session",
           "1 session, 2 queries, 2 feedback (one of the other session), 2 traces (one of the "
           "other session), 2 vectors", deleted)
    expect_error(SPEC, "delete_session", lambda: store.get_session("doomed"), NotFound)
    for query_id in doomed:
        expect(store.feature_vectors_for_query(query_id) == [], SPEC, "delete_session",
               f"no vector of {query_id} left")
    after = store.session_activity("kept")
    expect(after.queries == kept_before.queries
           and after.feedback == kept_before.feedback[:1]
           and after.traces == kept_before.traces[:1], SPEC, "delete_session",
           "the other session keeps its own rows, and only those naming the doomed queries go",
           after)
    expect(all(store.feature_vectors_for_query(query_id) for query_id in kept), SPEC,
           "delete_session", "the other session's vectors kept")
    expect_error(SPEC, "delete_session", lambda: store.delete_session("doomed"), NotFound)


@pytest.mark.operation("prune_old_data")
def test_prune_takes_every_child_of_every_pruned_session_and_nothing_else(store: Any) -> None:
    """Sessions that ended before the cutoff go whole; one that ended at the cutoff, one
    still running, runs, predictions, tests and daily aggregates stay."""
    factory = TelemetryFactory()
    ended = {"old-a": T0 + timedelta(hours=1), "old-b": CUTOFF - timedelta(microseconds=1),
             "at-cutoff": CUTOFF, "running": None}
    queries = {session_id: populate_session(store, factory, session_id, at)
               for session_id, at in ended.items()}
    store.record_feedback(factory.feedback("running", queries["old-a"][0]))
    store.insert_training_run(factory.run(id="run"))
    store.insert_prediction(factory.prediction("run"))
    store.batch_update_aggregates([T0.date()])
    aggregates = store.daily_aggregates(T0.date(), T0.date())
    deleted = store.prune_old_data(CUTOFF)
    expect(deleted == DeletedRows(2, 4, 3, 2, 4), SPEC, "prune_old_data",
           "2 sessions, 4 queries, 3 feedback (one of a running session), 2 traces, 4 vectors "
           "(ended_at < cutoff)", deleted)
    for session_id in ("old-a", "old-b"):
        expect_error(SPEC, "prune_old_data", partial(store.get_session, session_id), NotFound)
    for session_id in ("at-cutoff", "running"):
        activity = store.session_activity(session_id)
        expect(len(activity.queries) == 2 and len(activity.traces) == 1
               and all(store.feature_vectors_for_query(q) for q in queries[session_id]),
               SPEC, "prune_old_data", f"{session_id} kept whole", activity)
    expect(len(store.session_activity("running").feedback) == 1, SPEC, "prune_old_data",
           "the running session's own feedback kept, the one naming a pruned query gone")
    expect(len(store.predictions_for_run("run")) == 1
           and store.daily_aggregates(T0.date(), T0.date()) == aggregates, SPEC,
           "prune_old_data", "predictions and daily aggregates kept")
    again = store.prune_old_data(CUTOFF)
    expect(again == DeletedRows(0, 0, 0, 0, 0), SPEC, "prune_old_data", "nothing left to prune",
           again)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("prune_old_data")
def test_orphan_scan_from_the_reference_fk_graph_finds_nothing(store: Any) -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, max(store.schema_versions())).values())
    expect(set(graph) == set(FOREIGN_KEYS), SPEC, "schema",
           "the reference DDL's foreign keys to be the spec's", graph)
    factory = TelemetryFactory()
    for n, at in enumerate((T0 + timedelta(hours=1), None, T0 + timedelta(hours=2))):
        populate_session(store, factory, f"s{n}", at)
    store.record_trace(factory.trace("s1", store.session_activity("s0").queries[0].id))
    store.prune_old_data(CUTOFF)
    store.delete_session("s1")
    for key in graph:
        (count,) = store.query(sqlschema.orphan_scan(key, store.sql_dialect))[0]
        expect(count == 0, SPEC, "prune_old_data",
               f"no {key.child_table} row whose {key.parent_table} is gone", count)


@pytest.mark.operation("batch_insert_feature_vectors")
@pytest.mark.parametrize("first, later", [("FOREIGN_KEY", "CHECK"), ("CHECK", "FOREIGN_KEY")])
def test_a_vector_batch_reports_its_first_bad_vector(store: Any, first: str, later: str) -> None:
    """Vector 3 of 8 breaks one rule, vector 7 another: the batch reports vector 3's, in
    either order.  A batch written as one statement gets this wrong by itself: SQL checks
    every row's CHECK before the statement's FOREIGN KEYs."""
    factory = TelemetryFactory()
    (query_id, _) = populate_session(store, factory, "real")
    before = store.feature_vectors_for_query(query_id)
    batch = [factory.vector(query_id, DIMENSION) for _ in range(8)]
    broken = {"FOREIGN_KEY": lambda vector: replace(vector, query_id="ghost-q"),
              "CHECK": lambda vector: replace(vector, feature_set="")}
    batch[2] = broken[first](batch[2])
    batch[6] = broken[later](batch[6])
    expect_error(SPEC, "batch_insert_feature_vectors",
                 lambda: store.batch_insert_feature_vectors(batch),
                 ConstraintViolation, ConstraintKind[first])
    after = store.feature_vectors_for_query(query_id)
    expect(after == before, SPEC, "batch_insert_feature_vectors",
           "nothing of the refused batch stored", after)


@pytest.mark.operation("batch_insert_predictions")
@pytest.mark.parametrize("first, later", [("FOREIGN_KEY", "CHECK"), ("CHECK", "FOREIGN_KEY")])
def test_a_prediction_batch_reports_its_first_bad_prediction(store: Any, first: str,
                                                             later: str) -> None:
    """Prediction 3 of 8 breaks one rule, prediction 7 another: the batch reports
    prediction 3's, in either order, and stores none of the eight."""
    factory = TelemetryFactory()
    store.insert_training_run(factory.run(id="run"))
    batch = [factory.prediction("run") for _ in range(8)]
    broken = {"FOREIGN_KEY": lambda prediction: replace(prediction, run_id="ghost-run"),
              "CHECK": lambda prediction: replace(prediction, confidence=-0.5)}
    batch[2] = broken[first](batch[2])
    batch[6] = broken[later](batch[6])
    expect_error(SPEC, "batch_insert_predictions",
                 lambda: store.batch_insert_predictions(batch),
                 ConstraintViolation, ConstraintKind[first])
    after = store.predictions_for_run("run")
    expect(after == [], SPEC, "batch_insert_predictions",
           "nothing of the refused batch stored", after)
