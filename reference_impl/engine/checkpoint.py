"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL
threshold, so one write in a few hundred pays for copying the WAL into the
database file and its fsync: that write sets the p99.  A background thread
with its own connection does the same work with ``PASSIVE`` checkpoints,
which never block readers or writers.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable

NUDGE_EVERY_COMMITS = 64


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 every_commits: int = NUDGE_EVERY_COMMITS) -> None:
        self._connect = connect
        self._every = every_commits
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """Count a write commit; every so many, wake the checkpoint thread."""
        self._commits += 1  # an approximate count is enough to pace checkpoints
        if self._commits < self._every:
            return
        self._commits = 0
        with self._lock:
            if self._stopping:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wal-checkpoint",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                # Busy means another process is checkpointing: the next nudge tries again.
                with contextlib.suppress(sqlite3.OperationalError):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)
