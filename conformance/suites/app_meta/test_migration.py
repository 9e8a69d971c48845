"""``migration``: 001 the application's tables (and, in one file, the event store), 002 the
models table holding the bundled model, up and down."""

from __future__ import annotations

from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect
from storecheck.conformance.migration_checks import MigrationSuite
from storecheck.conformance.specs.app_meta import (
    BUNDLED_MODELS,
    SPEC,
    NewChunk,
    NewEvent,
    NewModel,
)
from storecheck.fixtures.app_meta import T0, has_models, small_world, snapshot_all

pytestmark = [pytest.mark.migration, pytest.mark.requires(caps.MIGRATIONS)]


def write_some(store: Any, seed: int) -> None:
    """A small world under the seed's ids (settings, a knowledge base with a chunked
    document, pipelines with runs and a schedule, a tool, a flow), and two events more on
    one aggregate, appended at its current version so a location whose event file outlived
    its application tables (the production layout) takes them too."""
    small_world(store, f"w{seed}")
    aggregate = "w-aggregate"
    version = store.aggregate_version(aggregate)
    store.append_events(aggregate, "Document", version, [
        NewEvent(f"w-{seed}-{version}-{n}", "Edited", f'{{"n": {n}}}', T0) for n in range(2)])
    store.set_checkpoint("w-indexer", store.read_feed(0, 1000)[-1].position, T0)
    if has_models(store):
        store.register_model(NewModel(f"w{seed}-model", "bge-small", "embedding", "huggingface",
                                      '{"repo_id": "BAAI/bge-small-en"}', "available", T0, 384))


class TestMigration(MigrationSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


@pytest.mark.operation("migrate")
def test_migration_002_holds_the_bundled_model_and_down_removes_only_models(
        open_store: Any) -> None:
    store = open_store()
    write_some(store, 4)
    expect(set(BUNDLED_MODELS) <= set(store.list_models(None)), SPEC, "migrate",
           "the bundled model present at version 2", store.list_models(None))
    before = snapshot_all(store)
    store.migrate(1)
    after = snapshot_all(store)
    expect(after == {**before, "models": []}, SPEC, "migrate",
           "every row but the models kept by 002 down")
    store.migrate(2)
    expect(store.list_models(None) == list(BUNDLED_MODELS), SPEC, "migrate",
           "002 up again holds the bundled model only (the registered one went with 1)",
           store.list_models(None))
    store.replace_chunks("w4-d-1", [NewChunk("w4-c-new", "again")], T0)
