"""The sqlglot layer: FK graph, orphan scans, schema drift named table by table."""

from __future__ import annotations

import sqlite3

from storecheck.conformance import sqlschema
from storecheck.conformance.specs.session_history import FOREIGN_KEYS, SPEC
from storecheck.reference_impl.schemas import reference_schema


def test_reference_fk_graph_is_the_specs() -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, 2).values())
    assert sorted(graph, key=repr) == sorted(FOREIGN_KEYS, key=repr)


def test_orphan_scan_counts_orphans() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid INTEGER REFERENCES p(id));"
        "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1), (2), (NULL), (3);"
    )
    (key,) = sqlschema.foreign_keys(["CREATE TABLE c (pid INTEGER, FOREIGN KEY (pid) REFERENCES p(id))"])
    assert key.on_delete == "NO ACTION"
    assert conn.execute(sqlschema.orphan_scan(key)).fetchone() == (2,)


def test_drift_is_named_object_by_object() -> None:
    reference = reference_schema(SPEC, 2)
    drifted = dict(reference)
    drifted["sessions"] = reference["sessions"].replace("CHECK(task <> '')", "CHECK(1)")
    drifted["instances"] = reference["instances"].replace(") STRICT", ")")
    del drifted["idx_sessions_created_id"]
    drifted["extra"] = "CREATE TABLE extra (x INTEGER)"
    problems = sqlschema.schema_drift(reference, drifted)
    assert "idx_sessions_created_id: missing (expected index)" in problems
    assert "extra: unexpected table" in problems
    assert any(p.startswith("sessions: constraint missing: CHECK (task <> '')") for p in problems)
    assert any(p.startswith("instances: table options") for p in problems)
    assert sqlschema.schema_drift(reference, reference) == []


def test_versions_differ_by_the_keyset_indexes() -> None:
    problems = sqlschema.schema_drift(reference_schema(SPEC, 2), reference_schema(SPEC, 1))
    assert sorted(problems) == [
        "idx_chat_messages_session_order: missing (expected index)",
        "idx_sessions_created_id: missing (expected index)",
        "idx_sessions_workspace_created: missing (expected index)",
    ]
