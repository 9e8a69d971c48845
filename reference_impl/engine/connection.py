"""The one place that owns the SQLite connection rules.

Every connection the reference opens comes from :class:`Database`:

* WAL journal, ``synchronous=NORMAL``, ``foreign_keys=ON`` on **every**
  connection (the pragma is per connection, so setting it once is a bug);
* autocommit at the driver level, transactions started explicitly:
  ``BEGIN IMMEDIATE`` for writes so a writer never has to upgrade a read lock
  (the cause of SQLITE_BUSY that ``busy_timeout`` cannot wait out);
* a busy timeout plus a jittered retry of ``BEGIN`` until a deadline, after
  which the caller gets the spec's :class:`Busy`, never "database is locked";
* one connection per thread; nested :meth:`Database.atomic` calls become
  savepoints;
* a failure of the storage itself (disk full, a damaged file, an unreachable
  or read-only location) comes out as the spec's :class:`StorageFailed`.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from storecheck.conformance.errors import (
    Busy,
    ConstraintKind,
    ConstraintViolation,
    StorageCause,
    StorageFailed,
)
from storecheck.reference_impl.engine.checkpoint import RESTART_WAL_BYTES, Checkpointer
from storecheck.reference_impl.engine.sql import nested_savepoint

BUSY_TIMEOUT_MS = 2_000
LOCK_DEADLINE_S = 60.0
NO_PAGE_LIMIT = 0xFFFF_FFFE
STATED_PRAGMAS = ("journal_mode", "synchronous", "foreign_keys")
"""The settings a store states for each of its files (capability ``stated_settings``)."""

_CONSTRAINT_PREFIXES = (
    ("FOREIGN KEY constraint failed", ConstraintKind.FOREIGN_KEY),
    ("UNIQUE constraint failed", ConstraintKind.UNIQUE),
    ("CHECK constraint failed", ConstraintKind.CHECK),
    ("NOT NULL constraint failed", ConstraintKind.NOT_NULL),
)
_STORAGE_CAUSES = {
    sqlite3.SQLITE_FULL: StorageCause.DISK_FULL,
    sqlite3.SQLITE_CORRUPT: StorageCause.CORRUPT,
    sqlite3.SQLITE_NOTADB: StorageCause.CORRUPT,
    sqlite3.SQLITE_CANTOPEN: StorageCause.CANNOT_OPEN,
    sqlite3.SQLITE_PERM: StorageCause.CANNOT_OPEN,
    sqlite3.SQLITE_READONLY: StorageCause.READ_ONLY,
    sqlite3.SQLITE_IOERR: StorageCause.IO_ERROR,
}


@dataclass(frozen=True)
class ConnectionRules:
    """The PRAGMAs applied to each new connection; a field per rule so tests can vary one."""

    journal_mode: str = "wal"
    synchronous: str = "NORMAL"
    foreign_keys: bool = True
    busy_timeout_ms: int = BUSY_TIMEOUT_MS
    secure_delete: bool = False
    background_checkpoint: bool = True
    """Checkpoint the WAL from a background thread instead of inside commits."""
    read_only: bool = False
    """Open the file for reading only and change nothing in it, not even the journal mode
    (to look at a location before deciding that it is ours)."""
    lock_deadline_s: float = LOCK_DEADLINE_S
    """How long a transaction keeps retrying for the write lock before the caller gets
    :class:`Busy`."""
    cache_kib: int | None = None
    """The page cache of each connection in KiB (``PRAGMA cache_size = -N``); None keeps
    SQLite's default (2 MiB)."""
    mmap_bytes: int = 0
    """How much of the file each connection reads through a memory map (``mmap_size``)."""
    temp_store: str = "DEFAULT"
    """Where temporary tables and sort spills live: DEFAULT (a file), MEMORY."""


@dataclass(frozen=True)
class Pool:
    open: int
    in_use: int
    waiting: int


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def translate(exc: sqlite3.Error, spec: str, operation: str, value: Any = None) -> Exception:
    """The spec error for a driver error, or the driver error itself if it has none."""
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        for prefix, kind in _CONSTRAINT_PREFIXES:
            if message.startswith(prefix):
                return ConstraintViolation(spec, operation, kind, message, value)
    if is_busy(exc):
        return Busy(spec, operation, message, value)
    cause = storage_cause(exc)
    if cause is not None:
        return StorageFailed(spec, operation, cause, message, value)
    return exc


def storage_cause(exc: sqlite3.Error) -> StorageCause | None:
    """How the storage failed, if the driver error says it did."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else _STORAGE_CAUSES.get(code & 0xFF)


def plain_session(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection to the file with none of the store's rules but the busy timeout:
    transactions only where a statement begins one, usable from any thread (for the
    isolation measurement, which drives each session from a thread of its own)."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=busy_timeout_ms / 1000)


class Database:
    """Per-thread connections to one SQLite file under :class:`ConnectionRules`."""

    def __init__(self, path: str, rules: ConnectionRules | None = None) -> None:
        self.path = path
        self.rules = rules or ConnectionRules()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._waiting = 0
        self._max_pages: int | None = None
        self._checkpointer = (
            Checkpointer(self._connect, path)
            if self.rules.background_checkpoint and not self.rules.read_only else None
        )

    # -- connections ---------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"database {self.path} is closed")
            conn = self._connect()
            self._local.conn = conn
            self._local.depth = 0
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"file:{urllib.parse.quote(self.path)}?mode=ro" if self.rules.read_only else self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.rules.busy_timeout_ms / 1000,
            cached_statements=256,
            uri=self.rules.read_only,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.rules.busy_timeout_ms)}")
        if self.rules.read_only:
            return conn
        self._retry_busy(lambda: self._set_journal_mode(conn))
        conn.execute(f"PRAGMA synchronous = {_pragma_word(self.rules.synchronous)}")
        conn.execute(f"PRAGMA foreign_keys = {'ON' if self.rules.foreign_keys else 'OFF'}")
        conn.execute(f"PRAGMA secure_delete = {'ON' if self.rules.secure_delete else 'OFF'}")
        if self.rules.cache_kib is not None:
            conn.execute(f"PRAGMA cache_size = {-int(self.rules.cache_kib)}")
        if self.rules.mmap_bytes:
            conn.execute(f"PRAGMA mmap_size = {int(self.rules.mmap_bytes)}")
        if self.rules.temp_store != "DEFAULT":
            conn.execute(f"PRAGMA temp_store = {_pragma_word(self.rules.temp_store)}")
        if self._max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {self._max_pages}")
        if self.rules.background_checkpoint:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            # Cut a restarted WAL back to the restart size, so the file's size tells the
            # checkpointer when the log has grown past it again.
            conn.execute(f"PRAGMA journal_size_limit = {RESTART_WAL_BYTES}")
        return conn

    def _set_journal_mode(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA journal_mode = {_pragma_word(self.rules.journal_mode)}")

    def limit_growth(self, extra_bytes: int | None) -> None:
        """Refuse writes that would grow the file by more than ``extra_bytes`` from now
        (SQLite's page-count limit, set on every connection); None lifts the limit."""
        conn = self.connection()
        if extra_bytes is None:
            pages = NO_PAGE_LIMIT
        else:
            page_size, page_count = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                                     for name in ("page_size", "page_count"))
            pages = int(page_count) + max(extra_bytes, 0) // int(page_size)
        self._max_pages = None if extra_bytes is None else pages
        with self._all_lock:
            for each in self._all:
                each.execute(f"PRAGMA max_page_count = {int(pages)}")

    def set_lock_wait(self, busy_timeout_s: float, deadline_s: float) -> None:
        """Wait up to ``busy_timeout_s`` per attempt at the write lock and retry until
        ``deadline_s`` after the first, on every connection, those open already included."""
        busy_timeout_ms = max(1, round(busy_timeout_s * 1000))
        self.rules = replace(self.rules, busy_timeout_ms=busy_timeout_ms,
                             lock_deadline_s=deadline_s)
        with self._all_lock:
            for each in self._all:
                each.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")

    def settings(self) -> dict[str, str]:
        """The durability settings the calling thread's connection runs with, read back."""
        conn = self.connection()
        return {name: str(conn.execute(f"PRAGMA {name}").fetchone()[0]).lower()
                for name in STATED_PRAGMAS}

    def pool(self) -> Pool:
        """The connections open, those inside a transaction, and the callers waiting to
        begin one (for the write lock, mostly), now."""
        with self._all_lock:
            return Pool(len(self._all), sum(conn.in_transaction for conn in self._all),
                        self._waiting)

    def close(self) -> None:
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def checkpoint_truncate(self, attempts: int = 50) -> None:
        """Copy the whole WAL into the database file and truncate the WAL to zero bytes.

        Needed where deleted data must leave the files (right-to-delete); it can
        only finish when no reader holds an old snapshot, so it is retried briefly.
        """
        conn = self.connection()
        for _ in range(attempts):
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.01)
        raise sqlite3.OperationalError(f"{self.path}: WAL checkpoint kept being blocked by readers")

    # -- transactions --------------------------------------------------------

    def nesting(self) -> int:
        """How many :meth:`atomic` blocks the calling thread has open, one inside another."""
        return int(getattr(self._local, "depth", 0) or 0)

    @contextmanager
    def atomic(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint inside the thread's open transaction.

        ``write=True`` starts with ``BEGIN IMMEDIATE``; read-only work uses a
        deferred ``BEGIN`` so that several SELECTs see one snapshot.
        """
        conn = self.connection()
        if self._local.depth:
            with nested_savepoint(self._local, conn.execute):
                yield conn
            return
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        with self._all_lock:
            self._waiting += 1
        first_attempt = time.monotonic()
        try:
            conn.execute(begin)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self._retry_busy(lambda: conn.execute(begin), first_attempt)
        finally:
            with self._all_lock:
                self._waiting -= 1
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                try:
                    conn.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    self._retry_busy(lambda: conn.execute("COMMIT"))
            except sqlite3.Error:
                # A refused COMMIT (a deferred foreign key, a full disk) leaves the
                # transaction open; the connection must not carry it into its next use.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if write and self._checkpointer is not None:
                self._checkpointer.committed(conn)
        finally:
            self._local.depth = 0

    def _retry_busy(self, step: Any, first_attempt: float | None = None) -> Any:
        """Run ``step``, retrying with jittered backoff while the file is locked, until the
        lock deadline has passed since ``first_attempt`` (by default, now)."""
        since = time.monotonic() if first_attempt is None else first_attempt
        deadline = since + self.rules.lock_deadline_s
        delay = 0.001
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.05)


def _pragma_word(word: str) -> str:
    """PRAGMA values cannot be bound as parameters; allow only bare words."""
    if not word.isalnum():
        raise ValueError(f"invalid PRAGMA value {word!r}")
    return word
