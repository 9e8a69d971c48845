"""``fk``: documents, chunks, runs and schedules need their parents; deleting a knowledge
base takes its documents and chunks and nothing else; a pipeline or knowledge base that
runs or schedules name is refused; every rule holds on every connection."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps, sqlschema
from storecheck.conformance.checks import expect, expect_error, run_threads
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound
from storecheck.conformance.specs.app_meta import (
    FOREIGN_KEYS,
    SPEC,
    DeletedKnowledgeBase,
    NewChunk,
    NewDocument,
    NewKnowledgeBase,
    NewPipeline,
    NewRun,
    NewSchedule,
)
from storecheck.fixtures.app_meta import T0, small_world, snapshot_all
from storecheck.reference_impl.schemas import reference_schema

pytestmark = pytest.mark.fk


def _kb_with_documents(store: Any, kb_id: str, documents: int, chunks: int) -> None:
    store.create_knowledge_base(NewKnowledgeBase(kb_id, kb_id, "mini", T0))
    for d in range(documents):
        document_id = f"{kb_id}-d-{d}"
        store.add_document(NewDocument(document_id, kb_id, "t", "/t", "ab" * 32, 1, T0))
        store.replace_chunks(document_id, [NewChunk(f"{document_id}-c-{c}", f"chunk {c}")
                                           for c in range(chunks)], T0)


@pytest.mark.operation("add_document")
def test_children_need_their_parents(store: Any) -> None:
    """Each child names a missing parent (or one differing only in case): refused with
    ConstraintViolation(FOREIGN_KEY), nothing stored."""
    small_world(store, "fk")
    before = snapshot_all(store)
    refused = [  # operation, its call given the parent's id, an existing parent's id
        ("add_document", lambda kb: store.add_document(
            NewDocument("orphan-d", kb, "t", "/t", "ab" * 32, 1, T0)), "fk-kb-1"),
        ("create_run", lambda p: store.create_run(NewRun("orphan-r", p)), "fk-p-1"),
        ("create_run", lambda kb: store.create_run(NewRun("orphan-r", "fk-p-1", kb)), "fk-kb-1"),
        ("create_schedule", lambda p: store.create_schedule(
            NewSchedule("orphan-s", "orphan", "0 3 * * *", p, T0)), "fk-p-1"),
    ]
    for operation, call, parent in refused:
        for missing in ("nobody", parent.upper()):
            expect_error(SPEC, operation, partial(call, missing),
                         ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect_error(SPEC, "replace_chunks",
                 lambda: store.replace_chunks("FK-D-1", [NewChunk("x", "x")], T0), NotFound)
    expect(snapshot_all(store) == before, SPEC, "add_document",
           "nothing stored by the refused children")


@pytest.mark.operation("delete_knowledge_base")
def test_deleting_a_knowledge_base_takes_its_documents_and_chunks_and_nothing_else(
        store: Any) -> None:
    _kb_with_documents(store, "gone", 3, 4)
    _kb_with_documents(store, "kept", 2, 2)
    _kb_with_documents(store, "GONE", 1, 1)  # the same id in other case: another base
    deleted = store.delete_knowledge_base("gone")
    expect(deleted == DeletedKnowledgeBase(3, 12), SPEC, "delete_knowledge_base",
           "3 documents and 12 chunks reported deleted", deleted)
    expect_error(SPEC, "get_knowledge_base", lambda: store.get_knowledge_base("gone"), NotFound)
    for d in range(3):
        expect_error(SPEC, "get_document", partial(store.get_document, f"gone-d-{d}"), NotFound)
        expect_error(SPEC, "document_chunks", partial(store.document_chunks, f"gone-d-{d}"),
                     NotFound)
    kept = {kb: [(d.id, d.chunk_count, len(store.document_chunks(d.id)))
                 for d in store.list_documents(kb)] for kb in ("kept", "GONE")}
    expect(kept == {"kept": [("kept-d-0", 2, 2), ("kept-d-1", 2, 2)],
                    "GONE": [("GONE-d-0", 1, 1)]}, SPEC, "delete_knowledge_base",
           "the other bases' documents and chunks untouched", kept)
    expect_error(SPEC, "delete_knowledge_base", lambda: store.delete_knowledge_base("gone"),
                 NotFound)


@pytest.mark.operation("delete_pipeline")
def test_a_pipeline_or_base_that_runs_or_schedules_name_is_refused_whole(store: Any) -> None:
    """The seed's keys have no action: deleting a pipeline with runs (or schedules), or a
    knowledge base a run names, is refused; nothing of it goes, not even its chunks."""
    small_world(store, "fk")
    before = snapshot_all(store)
    for pipeline in ("fk-p-1", "fk-p-2"):  # runs and a schedule; a failed run and a schedule
        expect_error(SPEC, "delete_pipeline", partial(store.delete_pipeline, pipeline),
                     ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect_error(SPEC, "delete_knowledge_base", lambda: store.delete_knowledge_base("fk-kb-1"),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    expect(snapshot_all(store) == before, SPEC, "delete_pipeline",
           "the refused deletions changed nothing")
    store.create_pipeline(NewPipeline("fk-p-3", "only a schedule", "{}", T0))
    store.create_schedule(NewSchedule("fk-s-3", "weekly", "0 3 * * 1", "fk-p-3", T0))
    expect_error(SPEC, "delete_pipeline", partial(store.delete_pipeline, "fk-p-3"),
                 ConstraintViolation, ConstraintKind.FOREIGN_KEY)
    store.create_pipeline(NewPipeline("fk-p-4", "free", "{}", T0))
    store.delete_pipeline("fk-p-4")
    expect_error(SPEC, "get_pipeline", partial(store.get_pipeline, "fk-p-4"), NotFound)


@pytest.mark.operation("delete_knowledge_base")
def test_every_connection_enforces_the_keys(store: Any, store_profile: Any) -> None:
    """Threads (each with its own connection where the store pools them) add a child of a
    missing parent and delete a base with its documents: every one is refused or
    cascades.  A pool that sets the foreign-key rule on its first connection only lets
    the others store orphans."""
    threads = max(4, store_profile.threads)
    for t in range(threads):
        _kb_with_documents(store, f"thread-{t}", 2, 2)
    problems: list[str] = []
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        barrier.wait()
        try:
            store.add_document(NewDocument(f"orphan-{t}", f"missing-{t}", "t", "/t",
                                           "ab" * 32, 1, T0))
            problems.append(f"thread {t}: a document of a missing base was stored")
        except ConstraintViolation as exc:
            if exc.kind is not ConstraintKind.FOREIGN_KEY:
                problems.append(f"thread {t}: {exc}")
        deleted = store.delete_knowledge_base(f"thread-{t}")
        if deleted != DeletedKnowledgeBase(2, 4):
            problems.append(f"thread {t}: deleted {deleted}")
        for d in range(2):
            try:
                store.get_document(f"thread-{t}-d-{d}")
                problems.append(f"thread {t}: document {d} outlived its base")
            except NotFound:
                pass

    run_threads(work, [(t,) for t in range(threads)])
    expect(not problems, SPEC, "delete_knowledge_base",
           "every thread's orphan refused and every base deleted with its children",
           problems[:4])
    left = store.list_knowledge_bases(None)
    expect(left == [], SPEC, "delete_knowledge_base", "no base left", left)


@pytest.mark.requires(caps.SQL_INTROSPECTION)
@pytest.mark.operation("delete_knowledge_base")
def test_orphan_scan_from_the_reference_fk_graph_finds_nothing(store: Any) -> None:
    graph = sqlschema.foreign_keys(reference_schema(SPEC, max(store.schema_versions())).values())
    expect(set(graph) == set(FOREIGN_KEYS), SPEC, "schema",
           "the reference DDL's foreign keys to be the spec's", graph)
    for n in range(3):
        _kb_with_documents(store, f"scan-{n}", 2, 3)
    store.delete_knowledge_base("scan-1")
    store.delete_document("scan-2-d-0")
    for key in graph:
        (count,) = store.query(sqlschema.orphan_scan(key, store.sql_dialect))[0]
        expect(count == 0, SPEC, "delete_knowledge_base",
               f"no {key.child_table} row whose {key.parent_table} is gone", count)
