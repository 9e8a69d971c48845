"""``migration``: 001 the seed's tables, 002 the seed's two views and the indexes the ML
reads and retention need, up and down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect
from storecheck.conformance.errors import NotFound
from storecheck.conformance.migration_checks import MigrationSuite
from storecheck.conformance.specs.telemetry import SPEC, NewABTest, TrainingMetrics
from storecheck.fixtures.telemetry import DIMENSION, T0, TelemetryFactory, populate_session

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]
VIEWS = {"v_training_data_export", "v_model_performance"}
INDEXES_002 = {"idx_runs_type_started", "idx_runs_started", "idx_runs_version",
               "idx_vectors_query", "idx_predictions_run", "idx_feedback_timestamp",
               "idx_feedback_query_type",
               "idx_traces_query", "idx_sessions_ended"}


def snapshot_all(store: Any) -> dict[str, Any]:
    """Everything the spec can read back at every schema version (the views of 002 are
    read by the export and performance operations, checked at the newest version only).
    Every session :func:`write_some` makes has a run of the same suffix, so the runs list
    them all."""
    runs = store.list_training_runs(None, 1000)
    suffixes = sorted(run.id.removeprefix("m-run-") for run in runs)
    activity = {suffix: store.session_activity(f"m-{suffix}") for suffix in suffixes}
    return {
        "sessions": [store.get_session(f"m-{suffix}") for suffix in suffixes],
        "activity": activity,
        "vectors": {q.id: store.feature_vectors_for_query(q.id)
                    for a in activity.values() for q in a.queries},
        "runs": runs,
        "predictions": {run.id: (store.predictions_for_run(run.id),
                                 store.calculate_model_accuracy(run.id)) for run in runs},
        "tests": [store.ab_test_results(f"m-test-{suffix}") for suffix in suffixes],
        "aggregates": store.daily_aggregates(T0.date(), T0.date() + timedelta(days=2)),
        "metrics": store.aggregated_metrics(T0, T0 + timedelta(days=2)),
    }


def _exists(store: Any, session_id: str) -> bool:
    try:
        store.get_session(session_id)
    except NotFound:
        return False
    return True


def write_some(store: Any, seed: int) -> None:
    """Three sessions (two ended) with their events and vectors, a run with a labelled
    prediction, and an A/B test with a result, each under ids of the seed."""
    factory = TelemetryFactory(seed=seed)
    for n in range(3):
        suffix = f"{seed}-{n}"
        if _exists(store, f"m-{suffix}"):
            continue
        populate_session(store, factory, f"m-{suffix}", T0 + timedelta(hours=n) if n else None)
        run = store.insert_training_run(factory.run(id=f"m-run-{suffix}"))
        prediction = store.insert_prediction(factory.prediction(run.id))
        store.update_prediction_ground_truth(prediction.id, "yes")
        if n:
            store.update_training_run_results(run.id, TrainingMetrics(
                "completed", factory.now(), 0.5, 0.25, 0.5, 10))
        store.create_ab_test(NewABTest(f"m-test-{suffix}", "colour", ("a", "b"), T0))
        store.record_ab_result(f"m-test-{suffix}", "ab"[n % 2], True)
    store.batch_update_aggregates([T0.date(), T0.date() + timedelta(days=1)])


class TestMigration(MigrationSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("migrate")
def test_migration_002_down_removes_its_views_and_indexes_and_keeps_every_row(
    open_store: Any,
) -> None:
    store = open_store()
    write_some(store, 9)
    before = snapshot_all(store)
    exported = store.export_training_data(T0, T0 + timedelta(days=2), "csv")
    added = VIEWS | INDEXES_002
    expect(added <= set(store.schema_ddl()), SPEC, "migrate",
           "002's two views and nine indexes at version 2",
           sorted(added - set(store.schema_ddl())))
    store.migrate(1)
    left = added & set(store.schema_ddl())
    expect(not left, SPEC, "migrate", "none of 002's views and indexes at version 1",
           sorted(left))
    expect(snapshot_all(store) == before, SPEC, "migrate", "every row kept by 002 down")
    store.insert_feature_vector(TelemetryFactory(seed=4).vector(
        before["activity"]["9-0"].queries[0].id, DIMENSION))
    store.prune_old_data(T0 + timedelta(days=1))
    store.migrate(2)
    expect(store.export_training_data(T0, T0 + timedelta(days=2), "csv").row_count
           == exported.row_count - 4, SPEC, "migrate",
           "the views back at version 2, over the rows pruned at version 1")
