"""The storage checks, shared by every spec's ``test_storage`` module.

What every store owes its caller when the storage under it misbehaves,
whatever the spec:

* its files stay bounded under a steady write load: the companions of the
  database file (``-wal``, ``-shm``, ``-journal``) never pass
  :data:`COMPANION_BOUND_BYTES` or four times the database file, whichever
  is larger;
* a full disk is ``StorageFailed(DISK_FULL)``, the failed block stored
  nothing, reads go on working, and the same open store writes again once
  space returns;
* a location holding something else (another application's database, bytes
  that are no database, a directory) is refused with ``StorageFailed`` naming
  the cause, and left byte for byte as it was;
* a damaged file is reported (``StorageFailed(CORRUPT)`` from the call that
  met the damage, problems from ``verify_integrity()``), never a driver's
  exception;
* a store on SQLite files runs each file's connections with the settings the
  spec states for that file (``files``: WAL, the ``synchronous`` level the seed
  asks for, foreign keys on), from every thread.

A spec's suite supplies ``write(store, seed)`` (some data through the spec),
``snapshot(store)`` (everything it can read back) and ``churn(store, index,
payload)`` (store a record holding ``payload`` and delete it again).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
from storecheck.conformance import capabilities as caps
from storecheck.conformance.checks import (
    SpecData,
    expect,
    expect_error,
    outcome,
    progress,
    run_threads,
)
from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.common import SQLITE_FILES

COMPANION_BOUND_BYTES = 64 * 1024 * 1024
CHURN_PAYLOAD_BYTES = 256 * 1024
COMPANIONS = ("-wal", "-shm", "-journal")
DISK_FULL_ATTEMPTS = 400
SYNCHRONOUS_LEVELS = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}


class StorageSuite(SpecData):
    """Every spec's storage checks; a suite module subclasses it as ``TestStorage``."""

    files: ClassVar[Mapping[str, Mapping[str, str]]] = SQLITE_FILES
    """The files a store on SQLite may keep and each one's settings, as the spec states."""

    @staticmethod
    def churn(store: Any, index: int, payload: str) -> None:
        raise NotImplementedError

    @pytest.mark.acid
    @pytest.mark.requires(caps.STATED_SETTINGS)
    @pytest.mark.operation("connection_settings")
    def test_every_file_runs_with_the_settings_its_spec_states(
        self, store: Any, backend: Any
    ) -> None:
        """After some writes, from this thread and from a new one (a connection each where
        the store keeps one per thread): the store reports its ``main`` file and no file
        the spec does not name, each with the settings the spec states for it; where it
        runs SQL on SQLite, its own PRAGMA reads agree with the report for ``main``."""
        self.write(store, 1)
        reports = {"this thread": store.connection_settings()}
        run_threads(lambda: reports.setdefault("a new thread", store.connection_settings()),
                    [()])
        for where, report in reports.items():
            expect("main" in report and set(report) <= set(self.files), self.spec,
                   "connection_settings", f"the files read back from {where} to be 'main' and "
                   f"any of {sorted(set(self.files) - {'main'})}", sorted(report))
            wrong = {f"{file}: {name}": f"{_shown(name, settings.get(name))}, not "
                     f"{_shown(name, wanted)}"
                     for file, settings in report.items()
                     for name, wanted in self.files[file].items()
                     if str(settings.get(name)).lower() != wanted}
            expect(not wrong, self.spec, "connection_settings",
                   f"every file's connection from {where} at the settings the spec states",
                   wrong)
        if (caps.SQL_INTROSPECTION in backend.capabilities
                and getattr(store, "sql_dialect", None) == "sqlite"):
            own = {name: str(store.query(f"PRAGMA {name}")[0][0]).lower()
                   for name in self.files["main"]}
            reported = {name: str(reports["this thread"]["main"].get(name)).lower()
                        for name in own}
            expect(own == reported, self.spec, "connection_settings",
                   "the settings the store reports for 'main' to be those its own query() "
                   "reads back", {"reported": reported, "query()": own})

    @pytest.mark.acid
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("storage")
    def test_files_stay_bounded_under_a_steady_write_load(
        self, store: Any, fresh_location: str, request: pytest.FixtureRequest
    ) -> None:
        """Twice the bound is written and deleted again; an unbounded write-ahead log
        would pass the bound halfway through."""
        rounds = 2 * COMPANION_BOUND_BYTES // CHURN_PAYLOAD_BYTES
        payload = "".join(chr(0x41 + i % 26) for i in range(CHURN_PAYLOAD_BYTES))
        worst = (0, 0)
        for index in range(rounds):
            self.churn(store, index, payload)
            sizes = _file_sizes(fresh_location)
            if sizes[1] - max(COMPANION_BOUND_BYTES, 4 * sizes[0]) > worst[1] - max(
                    COMPANION_BOUND_BYTES, 4 * worst[0]):
                worst = sizes
            if index % 128 == 0:
                progress(request.config, f"{self.spec} storage: churn {index}/{rounds}, "
                         f"files {sizes[0] >> 20} MiB + {sizes[1] >> 20} MiB")
        database, companions = worst
        expect(companions <= max(COMPANION_BOUND_BYTES, 4 * database), self.spec, "storage",
               f"the files beside the database to stay within "
               f"{COMPANION_BOUND_BYTES >> 20} MiB or 4x the database while "
               f"{rounds * CHURN_PAYLOAD_BYTES >> 20} MiB were written and deleted",
               f"{companions / 2**20:.1f} MiB beside a {database / 2**20:.1f} MiB database")

    @pytest.mark.acid
    @pytest.mark.requires(caps.STORAGE_LIMIT, caps.TRANSACTIONS)
    @pytest.mark.operation("storage")
    def test_a_full_disk_stores_nothing_of_the_failed_block_and_the_store_recovers(
        self, store: Any, backend: Any
    ) -> None:
        self.write(store, 1)
        stored = self.snapshot(store)
        store.limit_storage(64 * 1024)
        failure = None
        seed = 2
        for seed in range(2, 2 + DISK_FULL_ATTEMPTS):
            try:
                with store.atomic():
                    self.write(store, seed)
            except StorageFailed as exc:
                failure = exc
                break
            stored = self.snapshot(store)
        expect(failure is not None, self.spec, "storage",
               f"StorageFailed(disk full) within {DISK_FULL_ATTEMPTS} blocks of writes after "
               "limit_storage(64 KiB)")
        assert failure is not None
        expect(failure.cause is StorageCause.DISK_FULL, self.spec, failure.operation,
               "the cause of the failure to be disk full", failure.cause)
        expect(self.snapshot(store) == stored, self.spec, "storage",
               "nothing of the block that hit the full disk stored, everything before it kept")
        store.limit_storage(None)
        self.write(store, seed)
        expect(self.snapshot(store) != stored, self.spec, "storage",
               "the same open store to store the failed block once space returned")
        if caps.CRASH_DURABLE in backend.capabilities:
            problems = store.verify_integrity()
            expect(problems == [], self.spec, "storage", "a sound file after the full disk",
                   problems)

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE)
    @pytest.mark.operation("open")
    def test_a_location_holding_something_else_is_refused_untouched(
        self, fresh_location: str, open_store: Callable[..., Any]
    ) -> None:
        """Each refused within :data:`OPEN_DEADLINE_S`: a store that opens a named pipe
        for reading waits for a writer that never comes (the check then writes to it,
        so that the open ends, and fails)."""
        location = Path(fresh_location)
        for what, make, cause in (
            ("another application's SQLite database", _foreign_database, StorageCause.FOREIGN),
            ("a text file", _text_file, StorageCause.CORRUPT),
            ("a directory", _directory, StorageCause.CANNOT_OPEN),
            ("a named pipe", _named_pipe, StorageCause.CANNOT_OPEN),
        ):
            make(location)
            before = _fingerprint(location)
            error = expect_error(self.spec, "open",
                                 partial(_within_deadline, self.spec, what, location, open_store),
                                 StorageFailed)
            assert isinstance(error, StorageFailed)
            expect(error.cause is cause, self.spec, "open",
                   f"opening {what} refused as {cause.value}", error.cause)
            expect(str(location) in str(error), self.spec, "open",
                   f"the refusal of {what} to name the location", str(error))
            expect(_fingerprint(location) == before, self.spec, "open",
                   f"{what} left as it was by the refused open")
            _remove(location)

    @pytest.mark.badinput
    @pytest.mark.requires(caps.FILE_STORAGE, caps.CRASH_DURABLE)
    @pytest.mark.operation("open")
    def test_a_damaged_file_is_reported_never_raised_raw(
        self, fresh_location: str, open_store: Callable[..., Any]
    ) -> None:
        """The last third of the file's 4 KiB pages is overwritten, where the data written
        last lies (the schema and the migration record, written first, stay readable)."""
        store = open_store()
        for seed in range(1, 11):
            self.write(store, seed)
        store.close()
        data = bytearray(Path(fresh_location).read_bytes())
        page, pages = 4096, len(data) // 4096
        for number in range(pages * 2 // 3, pages):
            start = number * page
            data[start + 16:start + 400] = bytes(range(256)) + bytes(128)
        Path(fresh_location).write_bytes(bytes(data))
        opened = outcome(open_store)
        if opened.error is not None:
            expect(isinstance(opened.error, StorageFailed)
                   and opened.error.cause is StorageCause.CORRUPT, self.spec, "open",
                   "a damaged file refused as StorageFailed(corrupt)", opened.describe())
            return
        damaged = opened.value
        read = outcome(lambda: self.snapshot(damaged))
        if read.error is not None:
            expect(isinstance(read.error, StorageFailed)
                   and read.error.cause is StorageCause.CORRUPT, self.spec, "storage",
                   "reading a damaged file to raise StorageFailed(corrupt)", read.describe())
        problems = damaged.verify_integrity()
        expect(bool(problems), self.spec, "verify_integrity",
               "the damage reported as problems", problems)


def _file_sizes(location: str) -> tuple[int, int]:
    """The database file's size and its companions' together."""
    def size(path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0
    return size(location), sum(size(location + suffix) for suffix in COMPANIONS)


def _foreign_database(location: Path) -> None:
    conn = sqlite3.connect(location)
    try:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('kept as it was')")
        conn.commit()
    finally:
        conn.close()


def _text_file(location: Path) -> None:
    location.write_text("these are someone's notes, not a database\n" * 200, encoding="utf-8")


def _directory(location: Path) -> None:
    location.mkdir()
    (location / "inside.txt").write_text("kept", encoding="utf-8")


def _named_pipe(location: Path) -> None:
    os.mkfifo(location)


OPEN_DEADLINE_S = 5.0
"""How long refusing a location may take at most (it takes milliseconds; the margin is
for a loaded machine)."""


def _within_deadline(spec: str, what: str, location: Path, open_store: Callable[[], Any]) -> Any:
    """``open_store()`` in a thread of its own, failing the check if it has not returned
    within :data:`OPEN_DEADLINE_S`."""
    answer: list[Any] = []
    raised: list[BaseException] = []

    def opening() -> None:
        try:
            answer.append(outcome(open_store))
        except BaseException as exc:  # not a spec error: re-raised in the check's thread
            raised.append(exc)

    thread = threading.Thread(target=opening, daemon=True)
    thread.start()
    thread.join(OPEN_DEADLINE_S)
    if thread.is_alive():
        if stat.S_ISFIFO(os.stat(location).st_mode):
            # The waiting open gets a writer, and the end of what it wrote, and returns.
            descriptor = os.open(location, os.O_WRONLY | os.O_NONBLOCK)
            os.close(descriptor)
        thread.join(OPEN_DEADLINE_S)
        expect(False, spec, "open", f"opening {what} refused within {OPEN_DEADLINE_S:g} s",
               "it was still waiting")
    if raised:
        raise raised[0]
    (result,) = answer
    if result.error is not None:
        raise result.error
    return result.value


def _fingerprint(location: Path) -> tuple[tuple[str, str], ...]:
    """Names and content hashes of the location and whatever lies beside it."""
    found = []
    for path in sorted(location.parent.rglob("*")):
        if path.is_fifo():
            found.append((str(path.relative_to(location.parent)), "a named pipe"))
        elif path.is_file():
            found.append((str(path.relative_to(location.parent)),
                          hashlib.sha256(path.read_bytes()).hexdigest()))
    return tuple(found)


def _remove(location: Path) -> None:
    for path in sorted(location.parent.iterdir()):
        if path.is_dir():
            for inner in path.rglob("*"):
                inner.unlink()
            path.rmdir()
        else:
            path.unlink()


def _shown(name: str, value: object) -> str:
    """A setting as a person reads it: ``synchronous`` by its level's name."""
    if name == "synchronous" and str(value) in SYNCHRONOUS_LEVELS:
        return f"{value} ({SYNCHRONOUS_LEVELS[str(value)]})"
    return str(value)
