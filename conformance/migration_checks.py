"""The migration checks, shared by every spec's ``test_migration`` module.

A spec supplies how to write some data and how to read everything back
(``snapshot``); the checks do the rest through the ``migrations`` contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import SpecData, expect, run_workers
from storecheck.reference_impl.engine import Database
from storecheck.reference_impl.schemas import reference_schema


def migrate_concurrently(backend: Any, spec: str, location: str, start_at: float) -> str:
    """Worker process: open at the empty schema, wait for the common start, migrate up."""
    store = backend.open(spec, location, schema_version=0)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        store.migrate(max(store.schema_versions()))
        return "ok"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.close()


class MigrationSuite(SpecData):
    """Every spec's migration checks; a suite module subclasses it as ``TestMigration``."""

    @pytest.mark.operation("migrate")
    def test_empty_to_latest_to_empty_to_latest(self, open_store: Callable[..., Any]) -> None:
        store = open_store(schema_version=0)
        versions = list(store.schema_versions())
        expect(store.schema_version() == 0, self.spec, "migrate", "version 0 on an empty location",
               store.schema_version())
        for _ in range(2):
            store.migrate(versions[-1])
            expect(store.schema_version() == versions[-1], self.spec, "migrate",
                   f"version {versions[-1]} after migrating up", store.schema_version())
            self.write(store, 1)
            store.migrate(0)
            expect(store.schema_version() == 0, self.spec, "migrate",
                   "version 0 after migrating down", store.schema_version())

    @pytest.mark.operation("migrate")
    def test_data_written_at_each_version_survives_up_and_down(
        self, open_store: Callable[..., Any]
    ) -> None:
        store = open_store(schema_version=0)
        versions = list(store.schema_versions())
        for index, version in enumerate(versions[:-1]):
            store.migrate(version)
            self.write(store, version)
            before = self.snapshot(store)
            store.migrate(versions[index + 1])
            expect(self.snapshot(store) == before, self.spec, "migrate",
                   f"data written at version {version} unchanged after going up to "
                   f"{versions[index + 1]}")
            store.migrate(version)
            expect(self.snapshot(store) == before, self.spec, "migrate",
                   f"data written at version {version} unchanged after going back down")

    @pytest.mark.operation("migrate")
    def test_rerunning_migrations_is_a_no_op(self, open_store: Callable[..., Any]) -> None:
        store = open_store()
        self.write(store, 3)
        before = (self.snapshot(store), [(m.version, m.name) for m in store.migration_history()])
        store.migrate(max(store.schema_versions()))
        store.close()
        again = open_store()
        after = (self.snapshot(again), [(m.version, m.name) for m in again.migration_history()])
        expect(after == before, self.spec, "migrate", "re-running migrations to change nothing")

    @pytest.mark.requires(caps.FAULT_INJECTION)
    @pytest.mark.operation("migrate")
    def test_a_migration_failing_midway_leaves_the_previous_version(
        self, backend: Any, open_store: Callable[..., Any]
    ) -> None:
        store = open_store(schema_version=0)
        versions = list(store.schema_versions())
        for previous, step in zip([0, *versions[:-1]], versions, strict=True):
            store.migrate(previous)
            if previous:
                self.write(store, previous)
            before = self.snapshot(store) if previous else None
            with pytest.raises(Exception):  # noqa: B017 - the backend's own failure type
                store.migrate(step, fail_after_statements=1)
            expect(store.schema_version() == previous, self.spec, "migrate",
                   f"version {previous} after step {step} failed", store.schema_version())
            if previous:
                expect(self.snapshot(store) == before, self.spec, "migrate",
                       f"data at version {previous} intact after step {step} failed")
            if caps.SQL_INTROSPECTION in backend.capabilities:
                drift = sqlschema.schema_drift(reference_schema(self.spec, previous, store.sql_dialect),
                                               store.schema_ddl(), store.sql_dialect)
                expect(not drift, self.spec, "migrate",
                       f"the version {previous} schema after step {step} failed", drift)
            store.migrate(step)
            expect(store.schema_version() == step, self.spec, "migrate",
                   f"step {step} to apply cleanly after the failed attempt")

    @pytest.mark.requires(caps.MULTI_PROCESS)
    @pytest.mark.operation("migrate")
    def test_two_processes_migrating_at_once_apply_each_step_once(
        self, backend: Any, fresh_location: str, open_store: Callable[..., Any]
    ) -> None:
        location = fresh_location
        open_store(schema_version=0).close()
        start = time.time() + 1.5
        results = run_workers(migrate_concurrently,
                              [(backend.backend, self.spec, location, start) for _ in range(2)])
        expect(results == ["ok", "ok"], self.spec, "migrate", "both processes to succeed", results)
        store = open_store()
        history = [m.version for m in store.migration_history()]
        expect(history == list(store.schema_versions()), self.spec, "migrate",
               "each version applied exactly once", history)

    @pytest.mark.requires(caps.SQL_INTROSPECTION)
    @pytest.mark.operation("migrate")
    def test_schema_at_each_version_matches_the_reference(
        self, open_store: Callable[..., Any]
    ) -> None:
        store = open_store(schema_version=0)
        versions = list(store.schema_versions())
        for version in [*versions, *reversed(versions[:-1]), 0]:
            store.migrate(version)
            drift = sqlschema.schema_drift(reference_schema(self.spec, version, store.sql_dialect),
                                           store.schema_ddl(), store.sql_dialect)
            expect(not drift, self.spec, "migrate", f"the reference schema at version {version}",
                   drift)

    @pytest.mark.operation("migrate")
    def test_an_older_location_opened_without_a_version_upgrades_and_keeps_its_data(
        self, open_store: Callable[..., Any]
    ) -> None:
        store = open_store(schema_version=0)
        versions = list(store.schema_versions())
        store.migrate(versions[0])
        self.write(store, 5)
        before = self.snapshot(store)
        store.close()
        reopened = open_store()
        expect(reopened.schema_version() == versions[-1], self.spec, "migrate",
               f"a location left at version {versions[0]} upgraded to {versions[-1]} when opened "
               "without a version", reopened.schema_version())
        expect(self.snapshot(reopened) == before, self.spec, "migrate",
               f"the data written at version {versions[0]} intact after the upgrade on open")

    @pytest.mark.requires(caps.FILE_STORAGE, caps.SQL_INTROSPECTION)
    @pytest.mark.operation("migrate")
    def test_a_tampered_migration_history_is_refused(
        self, store: Any, fresh_location: str, open_store: Callable[..., Any]
    ) -> None:
        """A changed checksum, then an unknown version row, in the migrations table: opening
        must refuse either, change nothing, and open again once the record is restored."""
        if store.sql_dialect != "sqlite" or not _has_sqlite_history(fresh_location):
            pytest.skip("the store keeps no schema_migrations table in a SQLite file: "
                        "there is no record for this check to edit")
        self.write(store, 6)
        before = self.snapshot(store)
        versions = list(store.schema_versions())
        store.close()
        tampering = (
            ("a changed checksum for version 1",
             "UPDATE schema_migrations SET checksum = 'edited-' || checksum WHERE version = 1",
             "UPDATE schema_migrations SET checksum = substr(checksum, 8) WHERE version = 1"),
            (f"an unknown version {versions[-1] + 1}",
             "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
             f"VALUES ({versions[-1] + 1}, 'from_the_future', 'x', '2099-01-01')",
             f"DELETE FROM schema_migrations WHERE version = {versions[-1] + 1}"),
        )
        for what, tamper, restore in tampering:
            _edit_history(fresh_location, tamper)
            try:
                open_store().close()
            except Exception as exc:  # the backend's own error type: any refusal will do
                refusal: Exception | None = exc
            else:
                refusal = None
            expect(refusal is not None and str(refusal) != "", self.spec, "migrate",
                   f"opening a location with {what} in its migration history to be refused "
                   "with an error that says so", refusal)
            _edit_history(fresh_location, restore)
            again = open_store()
            expect(self.snapshot(again) == before and again.schema_version() == versions[-1],
                   self.spec, "migrate", f"the store unchanged by the refused open ({what})")
            again.close()


def _has_sqlite_history(location: str) -> bool:
    database = Database(location)
    try:
        found = database.connection().execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone()
        return found is not None
    finally:
        database.close()


def _edit_history(location: str, statement: str) -> None:
    """Edit the migrations table the way a person with the file would: outside the store."""
    database = Database(location)
    try:
        with database.atomic() as conn:
            conn.execute(statement)
    finally:
        database.close()
