"""WAL checkpoints off the commit path, with the WAL's size bounded.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL
threshold, so one write in a few hundred pays for copying the WAL into the
database file and its fsync: that write sets the p99.  A background thread
with its own connection does the same work with ``PASSIVE`` checkpoints,
which never block readers or writers.

A PASSIVE checkpoint alone never lets the WAL shrink under a steady writer:
the WAL starts over from its beginning only when every frame in it has been
copied back, and a writer appends new frames while the copy runs, so the file
grows for as long as writes keep coming (3,000 session creates once left a
379 MB WAL beside a 3.5 MB database).  So the thread also

* runs a ``RESTART`` checkpoint when the WAL passes :data:`RESTART_WAL_BYTES`:
  it waits for the current writer, copies every frame, and makes the next
  writer start the WAL over; ``journal_size_limit`` (set per connection)
  then cuts the file back;
* runs a ``TRUNCATE`` checkpoint when writers have been idle for
  :data:`IDLE_SECONDS`, so a quiet store holds no WAL at all.

Both block writers only for one copy of at most the bound, a few times per
ten thousand commits, which keeps the p99 win of checkpointing off the
commit path (figures in the README).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable

NUDGE_EVERY_COMMITS = 64
SIZE_CHECK_EVERY_COMMITS = 8
RESTART_WAL_BYTES = 32 * 1024 * 1024
"""Past this size the next checkpoint makes writers start the WAL over."""
BACKPRESSURE_WAL_BYTES = 48 * 1024 * 1024
"""Past this size a committing writer restarts the WAL itself (checked every
:data:`SIZE_CHECK_EVERY_COMMITS` commits), so that it stays under
:data:`WAL_BOUND_BYTES` however fast the writers are."""
WAL_BOUND_BYTES = 64 * 1024 * 1024
"""What the WAL may never exceed under any write load."""
WAL_FRAME_HEADER_BYTES = 24
IDLE_SECONDS = 1.0
RESTART_ATTEMPTS = 200


def wal_bytes(database_path: str) -> int:
    """The size of the database's ``-wal`` file; 0 when there is none."""
    try:
        return os.path.getsize(f"{database_path}-wal")
    except OSError:
        return 0


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection], database_path: str,
                 every_commits: int = NUDGE_EVERY_COMMITS) -> None:
        self._connect = connect
        self._database_path = database_path
        self._every = every_commits
        self._commits = 0
        self._dirty = False
        self._wake = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def committed(self, conn: sqlite3.Connection) -> None:
        """Count a write commit made on ``conn``; wake the checkpoint thread every so many,
        or sooner when the WAL has passed the restart size (several processes writing large
        commits).  Past :data:`BACKPRESSURE_WAL_BYTES` the thread has fallen behind the
        writers, and the committing writer restarts the WAL itself before it goes on."""
        self._dirty = True
        self._commits += 1  # an approximate count is enough to pace checkpoints
        log_bytes = (wal_bytes(self._database_path)
                     if self._commits % SIZE_CHECK_EVERY_COMMITS == 0 else 0)
        if log_bytes > BACKPRESSURE_WAL_BYTES:
            self._restart(conn)
        if self._thread is not None and self._commits < self._every and (
                log_bytes <= RESTART_WAL_BYTES):
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
        frame_bytes = int(conn.execute("PRAGMA page_size").fetchone()[0]) + WAL_FRAME_HEADER_BYTES
        try:
            while True:
                nudged = self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                if self._stopping:
                    return
                if nudged:
                    frames = self._checkpoint(conn, "PASSIVE") or 0
                    if frames * frame_bytes > RESTART_WAL_BYTES:
                        self._restart(conn)
                elif self._dirty:
                    self._dirty = False
                    self._checkpoint(conn, "TRUNCATE")
        finally:
            conn.close()

    def _restart(self, conn: sqlite3.Connection) -> None:
        """A RESTART checkpoint, tried again while another checkpoint (this store's thread,
        another process's) holds the checkpoint lock."""
        for _ in range(RESTART_ATTEMPTS):
            if self._checkpoint(conn, "RESTART", complete=True) is not None or self._stopping:
                return
            time.sleep(0.005)

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection, mode: str, *, complete: bool = False) -> int | None:
        """Run one checkpoint: the number of frames in the WAL, or None if it could not run
        (another connection is checkpointing) or, with ``complete``, did not finish."""
        try:
            busy, frames, _ = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.OperationalError:
            return None
        if frames < 0 or (busy and complete):
            return None
        return int(frames)

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)
