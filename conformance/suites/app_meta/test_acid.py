"""``acid``: a re-chunk and an append are all or nothing, readers never see half of either,
an ``atomic()`` block spans the application's tables and the event store, and an append
killed midway leaves whole batches only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    REFUSED_AT,
    REFUSED_BATCH,
    expect,
    expect_error,
    kill_at_random_moments,
    kill_midway,
    read_while,
)
from storecheck.conformance.errors import (
    ConstraintKind,
    ConstraintViolation,
    NotFound,
    StoreError,
    ValidationError,
)
from storecheck.conformance.nesting import NestingSuite
from storecheck.conformance.specs.app_meta import (
    SPEC,
    NewChunk,
    NewDocument,
    NewEvent,
    NewKnowledgeBase,
    NewPipeline,
    NewRun,
)
from storecheck.conformance.suites.app_meta.feed import whole_feed
from storecheck.conformance.suites.app_meta.test_migration import write_some
from storecheck.conformance.suites.app_meta.workers import (
    append_until_killed,
    blocks_until_killed,
    stream_events,
)
from storecheck.fixtures.app_meta import T0, small_world, snapshot_all

pytestmark = pytest.mark.acid
BATCH = 100
FEED_LIMIT = 1000
KILL_WITHIN_S = 0.1
"""Kills land at a moment drawn up to this long after the worker's first block: many blocks
in, at any point of one."""


def _chunks(generation: int, size: int = BATCH) -> list[NewChunk]:
    return [NewChunk(f"g{generation}-c{n}", f"generation {generation} part {n}", n)
            for n in range(size)]


def _document(store: Any) -> None:
    """``doc`` with generation 0 of its chunks, beside ``other`` with one chunk."""
    store.create_knowledge_base(NewKnowledgeBase("kb", "docs", "mini", T0))
    for document_id in ("doc", "other"):
        store.add_document(NewDocument(document_id, "kb", "Guide", "/g.md", "ab" * 32, 1, T0))
    store.replace_chunks("doc", _chunks(0), T0)
    store.replace_chunks("other", [NewChunk("other-c0", "another document's chunk")], T0)


CHUNK_FAULTS: dict[str, tuple[Callable[[NewChunk], NewChunk], ConstraintKind]] = {
    "a chunk id another document's chunk holds (UNIQUE)": (
        lambda c: replace(c, id="other-c0"), ConstraintKind.UNIQUE),
    "a negative token count (CHECK)": (lambda c: replace(c, token_count=-1), ConstraintKind.CHECK),
    "an empty chunk id (CHECK)": (lambda c: replace(c, id=""), ConstraintKind.CHECK),
}


@pytest.mark.operation("replace_chunks")
@pytest.mark.parametrize("fault", CHUNK_FAULTS, ids=list(CHUNK_FAULTS))
def test_a_re_chunk_with_one_bad_chunk_keeps_the_old_chunks(store: Any, fault: str) -> None:
    """Chunk 557 of 600 breaks a rule: the error, and the document keeps its old chunks
    and its old count (a delete committed before the inserts would leave none, a commit
    per chunk of 500 the first 500)."""
    _document(store)
    before = snapshot_all(store)
    change, kind = CHUNK_FAULTS[fault]
    chunks = _chunks(1, REFUSED_BATCH)
    chunks[REFUSED_AT - 1] = change(chunks[REFUSED_AT - 1])
    expect_error(SPEC, "replace_chunks", lambda: store.replace_chunks("doc", chunks, T0),
                 ConstraintViolation, kind)
    expect(snapshot_all(store) == before, SPEC, "replace_chunks",
           f"the old {BATCH} chunks and the count kept when chunk {REFUSED_AT} is refused")


EVENT_FAULTS: dict[str, tuple[Callable[[NewEvent], NewEvent], type[StoreError],
                             ConstraintKind | None]] = {
    "an event id another event holds (UNIQUE)": (
        lambda e: replace(e, event_id="w0-1"), ConstraintViolation, ConstraintKind.UNIQUE),
    "event data that is not JSON (Validation)": (
        lambda e: replace(e, data_json="{"), ValidationError, None),
    "a naive timestamp (Validation)": (
        lambda e: replace(e, timestamp=T0.replace(tzinfo=None)), ValidationError, None),
}


@pytest.mark.operation("append_events")
@pytest.mark.parametrize("fault", EVENT_FAULTS, ids=list(EVENT_FAULTS))
def test_an_append_with_one_bad_event_stores_none(store: Any, fault: str) -> None:
    store.append_events("stream-0", "Stream", 0, stream_events(0, 3, 0))
    before = snapshot_all(store)
    change, error, kind = EVENT_FAULTS[fault]
    events = stream_events(1, REFUSED_BATCH, 0)
    events[REFUSED_AT - 1] = change(events[REFUSED_AT - 1])
    expect_error(SPEC, "append_events",
                 lambda: store.append_events("stream-1", "Stream", 0, events), error, kind)
    expect(snapshot_all(store) == before and store.aggregate_version("stream-1") == 0, SPEC,
           "append_events", f"nothing of the batch stored when event {REFUSED_AT} is refused")
    expect_error(SPEC, "load_aggregate", lambda: store.load_aggregate("stream-1"), NotFound)
    stored = store.append_events("stream-1", "Stream", 0, stream_events(1, 2, 0))
    expect([e.sequence_number for e in stored] == [1, 2], SPEC, "append_events",
           "the stream starts at 1 after the refused batch (no version used up)",
           [e.sequence_number for e in stored])


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("replace_chunks")
def test_a_reader_never_sees_part_of_a_re_chunk(store: Any, store_profile: Any) -> None:
    _document(store)
    torn: list[str] = []

    def read() -> None:
        chunks = store.document_chunks("doc")
        generations = {chunk.id.split("-")[0] for chunk in chunks}
        if len(chunks) != BATCH or len(generations) != 1:
            torn.append(f"{len(chunks)} chunks of generations {sorted(generations)}")

    def rechunk() -> None:
        for generation in range(1, store_profile.items + 1):
            store.replace_chunks("doc", _chunks(generation), T0)

    read_while(read, rechunk)
    expect(not torn, SPEC, "replace_chunks",
           f"every read to find one whole generation of {BATCH} chunks", torn[:3])


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("append_events")
def test_a_reader_never_sees_part_of_an_append(store: Any, store_profile: Any) -> None:
    torn: list[str] = []

    def read() -> None:
        stream = len(store.read_events("stream-0"))
        feed = len(store.read_feed(0, FEED_LIMIT))  # a whole page: the feed may go on
        if stream % BATCH or (feed < FEED_LIMIT and feed % BATCH):
            torn.append(f"stream {stream}, feed {feed} events")

    def append() -> None:
        for n in range(store_profile.items):
            store.append_events("stream-0", "Stream", n * BATCH,
                                stream_events(0, BATCH, n * BATCH))

    read_while(read, append)
    expect(not torn, SPEC, "append_events",
           f"the stream and the feed in whole batches of {BATCH}", torn[:3])


class _Abort(Exception):
    pass


@pytest.mark.requires(caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_an_atomic_block_spans_the_application_tables_and_the_event_store(store: Any) -> None:
    """A run created and its events appended in one block: both kept, or (the block
    raises) neither, in either layout."""
    small_world(store, "tx")
    before = snapshot_all(store)
    with pytest.raises(_Abort), store.atomic():
        store.create_run(NewRun("tx-r-9", "tx-p-2", "tx-kb-1"))
        store.append_events("run-tx-r-9", "Run", 0, [NewEvent("tx-r-9-started", "Started",
                                                              "{}", T0)])
        store.create_pipeline(NewPipeline("tx-p-9", "later", "{}", T0))
        raise _Abort
    expect(snapshot_all(store) == before and store.aggregate_version("run-tx-r-9") == 0, SPEC,
           "atomic", "nothing of the rolled-back block kept, in either table set")
    with store.atomic():
        store.create_run(NewRun("tx-r-9", "tx-p-2", "tx-kb-1"))
        store.append_events("run-tx-r-9", "Run", 0, [NewEvent("tx-r-9-started", "Started",
                                                              "{}", T0)])
    expect("tx-r-9" in {run.id for run in store.list_runs("tx-p-2")}
           and store.aggregate_version("run-tx-r-9") == 1, SPEC, "atomic",
           "the committed block's run and event both kept")


@pytest.mark.requires(caps.CRASH_DURABLE)
@pytest.mark.operation("append_events")
def test_an_append_killed_midway_leaves_whole_batches(
        backend: Any, fresh_location: str, open_store: Any) -> None:
    """A process appending batches of 100 is SIGKILLed: the stream holds whole batches with
    no gap, every stored event verifies, and the store appends on from there."""
    open_store().close()
    kill_midway(SPEC, "append_events", append_until_killed,
                (backend.backend, fresh_location), within_s=0.4)
    store = open_store()
    expect(store.verify_integrity() == [], SPEC, "append_events", "no damage after the kill",
           store.verify_integrity())
    events = store.read_events("killed")
    numbers = [e.sequence_number for e in events]
    expect(numbers == list(range(1, len(numbers) + 1)) and len(numbers) % BATCH == 0, SPEC,
           "append_events", f"whole batches of {BATCH} without a gap after the kill",
           f"{len(numbers)} events")
    version = len(numbers)
    store.append_events("killed", "Stream", version, stream_events(9, 1, version))
    expect(store.aggregate_version("killed") == version + 1, SPEC, "append_events",
           "appends go on after the kill")


@pytest.mark.requires(caps.CRASH_DURABLE, caps.TRANSACTIONS)
@pytest.mark.operation("atomic")
def test_blocks_killed_midway_are_whole_after_reopening(
        backend: Any, fresh_location: str, open_store: Any, store_profile: Any) -> None:
    """A process committing blocks that append an event and put a setting is SIGKILLed at a
    random moment, again and again; reopened, the store holds each block's event and
    setting both or neither.  The production layout keeps them in two files, each with its
    own commit: a crash between the two tears the block unless the store repairs it.

    A black box: no hook reaches between a store's two commits, so the kills are many (the
    profile's ``kills``, :func:`kill_at_random_moments`): a window of a tenth of a block is
    hit with probability 90 % at the quick profile, 99 % at the default, 99.99 % at the
    thorough."""
    open_store().close()
    kills = store_profile.kills
    kill_at_random_moments(SPEC, "atomic", blocks_until_killed,
                           lambda round_: (backend.backend, fresh_location, round_), kills,
                           KILL_WITHIN_S)
    store = open_store()
    with_event = {event.aggregate_id for event in whole_feed(store)
                  if event.aggregate_id.startswith("killed-")}
    with_setting = {setting.key for setting in store.list_settings()
                    if setting.key.startswith("killed-")}
    torn = sorted(with_event ^ with_setting)
    expect(not torn, SPEC, "atomic", f"after {kills} kills mid-block, every block's event and "
           f"setting both stored or neither ({len(with_setting)} whole blocks)",
           f"{len(torn)} torn: " + ", ".join(
               f"{name} has its {'event' if name in with_event else 'setting'} only"
               for name in torn[:5]))


class TestNesting(NestingSuite):
    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)
