"""``app_meta`` latency targets (seed 001) and the workloads that measure them.

Seed 001 names no latency figure (only WAL and pool settings), so every row is
a project target set by seed 003's rule, "queries < 100ms, writes < 50ms" on
10,000+ rows, held at p99.  The event store adds its own rows: an append, the
read of a 1,000-event aggregate, a feed page of 500 and a snapshot load.

The dataset of ``size`` rows (10,000 for the table, 1,000 beside it for the
scaling checks) holds ``size`` settings; ``size // 10`` documents of ten chunks
each (``size`` chunks) in knowledge bases of ten documents; ``size`` documents without
chunks in archive bases of 100; and ``size + 1,000``
events: one long stream of ``size`` events with a snapshot 100 events before
its head, and one stream of 1,000 events.

The 1,000-event read and the 500-event feed page are timed as targets only: each
call returns the same rows at both sizes and costs 10 to 30 ms, so a scaling row
would spend seconds to show what the 10-event feed page at the head and the
snapshot load show in milliseconds.

``load_aggregate`` on the long stream is the issue's scaling check: at 1,000
and at 10,000 events it returns the snapshot and the same 100 later events, so
its cost must follow those 100, not the stream's length.  ``list_knowledge_bases``
is left out of the scaling table: listing every base grows with the bases.

Floors (the same SQL on a bare connection) exist where the reference's SQL runs
on the location's file alone: in the production layout the event tables live in
another file, so its event rows have no floor.  Event reads verify a SHA-256
checksum per event and build a record from eleven columns, which the bare SQL
does not; their rows allow that work (``VERIFIED``).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from storecheck.conformance.latency import PROJECT_TARGET, LatencyTarget
from storecheck.conformance.scaling import LARGE, Growth
from storecheck.conformance.specs.app_meta import NewChunk, NewDocument, NewEvent, NewKnowledgeBase
from storecheck.fixtures.app_meta import T0
from storecheck.reference_impl.app_meta.catalog import SELECT_SETTING
from storecheck.reference_impl.app_meta.events import (
    READ_FEED,
    READ_SNAPSHOT,
    READ_STREAM,
    STREAM_HEAD,
)

DATASET: Final = LARGE
CHUNKS_PER_DOCUMENT: Final = 10
DOCUMENTS_PER_BASE: Final = 10
ARCHIVED_PER_ROW: Final = 1
"""Documents without chunks per row of the dataset, in archive bases of
:data:`ARCHIVED_PER_BASE`: most of a desktop app's documents are old ones nobody reindexes,
and without them a whole scan of the documents (a forgotten index on their base) costs less
than the call around it, and hides in the growth from 1,000 to 10,000 rows."""
ARCHIVED_PER_BASE: Final = 100
BATCH: Final = 100
"""Events appended per call while seeding."""
AFTER_SNAPSHOT: Final = 100
LONG: Final = "stream-long"
THOUSAND: Final = "stream-1000"
FEED_PAGE: Final = 500
QUERY: Final = f"{PROJECT_TARGET}: seed 003's rule, queries < 100ms on 10k+ rows"
WRITE: Final = f"{PROJECT_TARGET}: seed 003's rule, writes < 50ms on 10k+ rows"
VERIFIED: Final = 12.0
"""Floor multiple for event reads: a checksum verified and a record built per event."""
NOW: Final = T0 + timedelta(days=30)


@dataclass
class Dataset:
    settings: int
    documents: int
    middle_position: int
    """A position in the middle of the long stream: feed pages of 500 start after it."""
    head_position: int
    """Ten events before the dataset's last: where a processor that keeps up reads."""


def _event(n: int) -> NewEvent:
    return NewEvent(f"ev-{n}", "ItemChanged", f'{{"n": {n}, "name": "item {n}"}}',
                    T0 + timedelta(milliseconds=n), '{"source": "bench"}', f"trace-{n % 97}",
                    "user-1")


def _append_stream(store: Any, aggregate_id: str, count: int, first_event: int,
                   transactional: bool) -> list[int]:
    positions: list[int] = []
    for start in range(0, count, BATCH):
        def write(start: int = start) -> None:
            events = [_event(first_event + n) for n in range(start, min(start + BATCH, count))]
            stored = store.append_events(aggregate_id, "Item", start, events)
            positions.extend(event.position for event in stored)
        if transactional:
            with store.atomic():
                write()
        else:
            write()
    return positions


def load(store: Any, transactional: bool, calls: int, size: int = DATASET) -> Dataset:
    """``size`` settings, chunks and long-stream events (see the module's docstring)."""
    documents = size // CHUNKS_PER_DOCUMENT

    def in_blocks(count: int, per_block: int, write: Callable[[int], None]) -> None:
        for first in range(0, count, per_block):
            block = range(first, min(first + per_block, count))
            if transactional:
                with store.atomic():
                    for n in block:
                        write(n)
            else:
                for n in block:
                    write(n)

    in_blocks(size, BATCH, lambda n: store.put_setting(f"setting.{n:06d}", n, T0))

    def document(n: int) -> None:
        if n % DOCUMENTS_PER_BASE == 0:
            store.create_knowledge_base(NewKnowledgeBase(
                _base(n // DOCUMENTS_PER_BASE), f"base {n // DOCUMENTS_PER_BASE}", "MiniLM", T0,
                status=("active", "inactive")[n // DOCUMENTS_PER_BASE % 2]))
        store.add_document(NewDocument(_document(n), _base(n // DOCUMENTS_PER_BASE),
                                       f"doc {n}", f"/docs/{n}.md", f"hash-{n}", 1000 + n, T0))
        store.replace_chunks(_document(n), _chunks(n, 0), T0)

    in_blocks(documents, BATCH // CHUNKS_PER_DOCUMENT, document)

    def archived(n: int) -> None:
        base = f"archive-{n // ARCHIVED_PER_BASE:05d}"
        if n % ARCHIVED_PER_BASE == 0:
            store.create_knowledge_base(NewKnowledgeBase(base, f"archive {base}", "MiniLM", T0,
                                                         status="inactive"))
        store.add_document(NewDocument(f"archived-{n:06d}", base, f"old doc {n}",
                                       f"/archive/{n}.md", f"archived-hash-{n}", 500, T0))

    in_blocks(size * ARCHIVED_PER_ROW, BATCH, archived)
    long = _append_stream(store, LONG, size, 0, transactional)
    store.save_snapshot(LONG, size - AFTER_SNAPSHOT, '{"n": 0}', T0)
    thousand = _append_stream(store, THOUSAND, 1_000, size, transactional)
    return Dataset(size, documents, long[len(long) // 2], thousand[-11])


def _base(n: int) -> str:
    return f"kb-{n:05d}"


def _document(n: int) -> str:
    return f"doc-{n:05d}"


def _chunks(n: int, generation: int) -> list[NewChunk]:
    return [NewChunk(f"chunk-{n}-{generation}-{k}", f"text {k} of document {n}", 40 + k)
            for k in range(CHUNKS_PER_DOCUMENT)]


Workload = Callable[[Any, Dataset, int], Any]
Floor = Callable[[sqlite3.Connection, Dataset, int], Any]
_fresh = itertools.count()
"""New ids: a workload is called again with the same ``i`` (warm-up, each target)."""


def _spread(data_count: int, i: int) -> int:
    return (i * 7919) % data_count


def _append(store: Any, data: Dataset, i: int) -> Any:
    n = next(_fresh)
    return store.append_events(f"bench-{n}", "Item", 0, [_event(-1 - n)])


def _read_thousand(store: Any, data: Dataset, i: int) -> Any:
    return store.read_events(THOUSAND)


def _read_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(READ_STREAM, (THOUSAND, 1)).fetchall()
    conn.execute("COMMIT")


def _load_long(store: Any, data: Dataset, i: int) -> Any:
    return store.load_aggregate(LONG)


def _load_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(STREAM_HEAD, (LONG, LONG)).fetchone()
    version = conn.execute(READ_SNAPSHOT, (LONG,)).fetchone()[2]
    conn.execute(READ_STREAM, (LONG, version + 1)).fetchall()
    conn.execute("COMMIT")


def _feed_page(store: Any, data: Dataset, i: int) -> Any:
    return store.read_feed(data.middle_position, FEED_PAGE)


def _feed_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(READ_FEED, (data.middle_position, FEED_PAGE)).fetchall()
    conn.execute("COMMIT")


def _feed_head(store: Any, data: Dataset, i: int) -> Any:
    return store.read_feed(data.head_position, 10)


def _version(store: Any, data: Dataset, i: int) -> Any:
    return store.aggregate_version(LONG)


def _checkpoint(store: Any, data: Dataset, i: int) -> Any:
    return store.set_checkpoint(f"processor-{next(_fresh)}", data.middle_position, NOW)


def _get_setting(store: Any, data: Dataset, i: int) -> Any:
    return store.get_setting(f"setting.{_spread(data.settings, i):06d}")


def _get_setting_floor(conn: sqlite3.Connection, data: Dataset, i: int) -> None:
    conn.execute("BEGIN")
    conn.execute(SELECT_SETTING, (f"setting.{_spread(data.settings, i):06d}",)).fetchone()
    conn.execute("COMMIT")


def _put_setting(store: Any, data: Dataset, i: int) -> Any:
    return store.put_setting(f"setting.{_spread(data.settings, i):06d}", f"value {i}", NOW)


def _get_base(store: Any, data: Dataset, i: int) -> Any:
    return store.get_knowledge_base(_base(_spread(data.documents // DOCUMENTS_PER_BASE, i)))


def _list_bases(store: Any, data: Dataset, i: int) -> Any:
    return store.list_knowledge_bases(("active", "inactive")[i % 2])


def _list_documents(store: Any, data: Dataset, i: int) -> Any:
    return store.list_documents(_base(_spread(data.documents // DOCUMENTS_PER_BASE, i)))


def _chunks_of(store: Any, data: Dataset, i: int) -> Any:
    return store.document_chunks(_document(_spread(data.documents, i)))


def _replace_chunks(store: Any, data: Dataset, i: int) -> Any:
    n = _spread(data.documents, i)
    return store.replace_chunks(_document(n), _chunks(n, next(_fresh) + 1), NOW)


def _add_document(store: Any, data: Dataset, i: int) -> Any:
    n = next(_fresh)
    return store.add_document(NewDocument(f"new-doc-{n}", _base(0), f"new {n}", f"/new/{n}.md",
                                          f"hash-new-{n}", 10, NOW))


KEYED = "a lookup by key through the primary key or a unique index: log n"
WRITES = "an insert or an update by key updates each index at log n"

SCALING: Final[tuple[tuple[Growth, Workload], ...]] = (
    (Growth("append_events (1, new aggregate)", 2.5, WRITES), _append),
    (Growth("load_aggregate (snapshot + 100)", 2.5, "the snapshot by key and the 100 events "
            "after it through the stream's index, whatever the stream's length"), _load_long),
    (Growth("read_feed (10, at the head)", 2.5, "a processor that keeps up seeks to its "
            "position through the primary key, however long the feed"), _feed_head),
    (Growth("aggregate_version", 2.5, "the stream's head, the last entry of its index"),
     _version),
    (Growth("set_checkpoint", 2.5, WRITES), _checkpoint),
    (Growth("get_setting", 2.5, KEYED), _get_setting),
    (Growth("put_setting", 2.5, WRITES), _put_setting),
    (Growth("get_knowledge_base", 2.5, KEYED), _get_base),
    (Growth("list_documents (10)", 2.5, "one base's documents through an index on kb_id"),
     _list_documents),
    (Growth("document_chunks (10)", 2.5, "one document's chunks through the unique index on "
            "(document_id, chunk_index)"), _chunks_of),
    (Growth("replace_chunks (10)", 2.5, WRITES), _replace_chunks),
    (Growth("add_document", 2.5, WRITES), _add_document),
)

TARGETS: Final[tuple[tuple[LatencyTarget, Workload, Floor | None], ...]] = (
    (LatencyTarget("append_events (1)", DATASET, 99, 50, WRITE), _append, None),
    (LatencyTarget("read_events (1,000)", DATASET, 99, 100, QUERY, VERIFIED), _read_thousand,
     _read_floor),
    (LatencyTarget("read_feed (500)", DATASET, 99, 100, QUERY, VERIFIED), _feed_page,
     _feed_floor),
    (LatencyTarget("load_aggregate (snapshot + 100)", DATASET, 99, 100, QUERY, VERIFIED),
     _load_long, _load_floor),
    (LatencyTarget("set_checkpoint", DATASET, 99, 50, WRITE), _checkpoint, None),
    (LatencyTarget("get_setting", DATASET, 99, 100, QUERY), _get_setting, _get_setting_floor),
    (LatencyTarget("put_setting", DATASET, 99, 50, WRITE), _put_setting, None),
    (LatencyTarget("list_knowledge_bases (500)", DATASET, 99, 100, QUERY), _list_bases, None),
    (LatencyTarget("document_chunks (10)", DATASET, 99, 100, QUERY), _chunks_of, None),
    (LatencyTarget("replace_chunks (10)", DATASET, 99, 50, WRITE), _replace_chunks, None),
)
