"""``concurrency``: worker processes adding to one session's totals, and threads sharing
one store saving overlapping code blocks."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import expect, run_threads, run_workers, start_time
from storecheck.conformance.lock_wait import LockWaitSuite
from storecheck.conformance.specs.extraction import SPEC, NewProcessSession
from storecheck.conformance.suites.extraction.test_migration import snapshot_all, write_some
from storecheck.conformance.suites.extraction.workers import add_progress
from storecheck.fixtures.extraction import T0, ExtractionFactory

pytestmark = pytest.mark.concurrency


class TestLockWait(LockWaitSuite):
    """First in the module: a store whose writers give up at the lock fails here before
    the longer races run."""

    spec = SPEC
    snapshot = staticmethod(snapshot_all)
    write = staticmethod(write_some)


@pytest.mark.requires(caps.MULTI_PROCESS)
@pytest.mark.operation("record_progress")
def test_worker_processes_lose_no_addition(
    backend: Any, fresh_location: str, open_store: Any, store_profile: Any
) -> None:
    store = open_store()
    store.create_session(NewProcessSession("codex", "shared", T0))
    per_worker = store_profile.items * 10
    start = start_time()
    errors = run_workers(add_progress, [(backend.backend, fresh_location, w, per_worker, start)
                                        for w in range(store_profile.processes)])
    flat = [e for batch in errors for e in batch]
    expect(not flat, SPEC, "record_progress", "no error to reach a writer", flat[:3])
    calls = store_profile.processes * per_worker
    session = store.get_session("shared")
    totals = (session.total_lines_processed, session.total_extraction_events,
              session.total_feedback_outcomes)
    expect(totals == (calls, 2 * calls, 3 * calls), SPEC, "record_progress",
           f"{calls} additions of (1, 2, 3) counted", totals)


@pytest.mark.operation("save_code_block")
def test_threads_saving_overlapping_blocks_store_each_content_once(
    store: Any, store_profile: Any
) -> None:
    """Every thread saves the same contents in its own order: each content is stored once,
    every thread gets that one block back, and exactly one thread created it."""
    contents = [f"def shared_{n}():\n    return {n}\n" for n in range(store_profile.items * 4)]
    threads = store_profile.threads * 3
    saved: dict[str, list[Any]] = defaultdict(list)
    errors: list[str] = []

    def save(thread: int) -> None:
        factory = ExtractionFactory(seed=thread)
        order = list(contents)
        random.Random(thread).shuffle(order)
        for content in order:
            try:
                saved[content].append(store.save_code_block(
                    factory.code_block("codex", f"t{thread}", content=content)))
            except Exception as exc:
                errors.append(f"t{thread}: {type(exc).__name__}: {exc}")

    run_threads(save, [(t,) for t in range(threads)])
    expect(not errors, SPEC, "save_code_block", "no error to reach a thread", errors[:3])
    wrong = {content[:20]: (len({s.block.id for s in results}), sum(s.created for s in results))
             for content, results in saved.items()
             if len({s.block.id for s in results}) != 1 or sum(s.created for s in results) != 1}
    expect(not wrong, SPEC, "save_code_block",
           "one block id per content and one creator", list(wrong.items())[:3])
    stored = store.code_blocks("codex", None, 1000)
    expect(len(stored) == len(contents), SPEC, "code_blocks",
           f"{len(contents)} stored blocks", len(stored))

