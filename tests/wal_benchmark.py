"""The WAL's size and create_session's latency under a steady write load.

    .venv/bin/python -m tests.wal_benchmark [creates] [rounds]

One process creating sessions back to back, then eight processes at once
(each an eighth of the creates), on the reference store: the peak size of the
``-wal`` file (sampled every 50 creates), the database file's size, and the
median and p99 of one ``create_session``.  The bound the engine keeps is
``checkpoint.WAL_BOUND_BYTES``.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from typing import Any

from storecheck.fixtures.session_history import SessionFactory
from storecheck.reference_impl.engine.checkpoint import WAL_BOUND_BYTES, wal_bytes
from storecheck.reference_impl.session_history import SqliteSessionHistory


def _writer(path: str, creates: int, seed: int, results: Queue[Any]) -> None:
    store = SqliteSessionHistory(path)
    factory = SessionFactory(seed=seed)
    workspace = store.get_or_create_workspace(f"/bench/{seed}", factory.clock.now()).id
    latencies, peak = [], 0
    for n in range(creates):
        started = time.perf_counter()
        store.create_session(factory.session(workspace))
        latencies.append(time.perf_counter() - started)
        if n % 50 == 0:
            peak = max(peak, wal_bytes(path))
    store.close()
    results.put((latencies, peak))


def run(processes: int, creates: int) -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="wal-bench-"), "history.db")
    SqliteSessionHistory(path).close()
    results: Queue[Any] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_writer,
                                       args=(path, creates // processes, seed, results))
               for seed in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for each, _ in outcomes for x in each)
    peak = max(p for _, p in outcomes)
    p99 = latencies[int(len(latencies) * 0.99)]
    return (f"{processes} process(es) x {creates // processes} creates: "
            f"median {statistics.median(latencies) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, "
            f"peak WAL {peak / 2**20:.1f} MiB (bound {WAL_BOUND_BYTES >> 20} MiB), "
            f"database {os.path.getsize(path) / 2**20:.1f} MiB")


def main() -> None:
    creates = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for _ in range(rounds):
        print(run(1, creates), flush=True)
        print(run(8, creates), flush=True)


if __name__ == "__main__":
    main()
