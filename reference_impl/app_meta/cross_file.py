"""An ``atomic()`` block of the production layout, whole across its two files.

Between two SQLite files in WAL mode there is no atomic commit: a block commits the event
file, then the application file, and a crash between the two commits kept the block's
events without its application writes.  The block is made whole by an undo record:

1. Before the event file commits, the block's undo record is written beside it
   (``<location>.events.undo``, synced): the block's number, the last event position
   before the block, and the rows of ``aggregate_snapshots`` and ``event_checkpoints``
   the block changed, as they were before it.
2. The application file's transaction sets its ``user_version`` to the block's number:
   its commit is the block's.
3. The event file commits, then the application file, then the record is removed.

Whoever finds a record (the next open, and any access to the event file, which looks for
one inside its transaction) takes the application file's write lock, which a live writer
between its two commits still holds, so it waits for that writer instead of judging its
block.  Then a record whose block number the application file reached is stale (the
writer died after its second commit) and is removed; any other belongs to a block whose
second commit never happened, and the event file is put back as the record says.  A
reader never sees the events of a block whose application writes are not committed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from storecheck.reference_impl.engine.sql import Connection

UNDO_SUFFIX: Final = ".events.undo"
EVENTS_HEAD: Final = "SELECT COALESCE(max(id), 0) FROM events"
DROP_EVENTS_AFTER: Final = "DELETE FROM events WHERE id > ?"
CHANGES: Final = "SELECT total_changes()"
"""Rows the connection has changed since it opened: a block that changed none of the event
file's needs no undo record."""


@dataclass(frozen=True)
class UndoTable:
    """A table of the event file whose rows a block may change, keyed by one column."""

    name: str
    key: str
    columns: tuple[str, ...]
    read: str
    drop: str
    put_back: str


def _undo_table(name: str, key: str, *columns: str) -> UndoTable:
    listed = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    return UndoTable(name, key, columns,
                     f"SELECT {listed} FROM {name} WHERE {key} = ?",
                     f"DELETE FROM {name} WHERE {key} = ?",
                     f"INSERT OR REPLACE INTO {name} ({listed}) VALUES ({marks})")


SNAPSHOTS: Final = _undo_table("aggregate_snapshots", "aggregate_id", "aggregate_id",
                               "aggregate_type", "sequence_number", "snapshot_data",
                               "created_at")
CHECKPOINTS: Final = _undo_table("event_checkpoints", "processor_name", "processor_name",
                                 "last_processed_sequence", "updated_at")
UNDO_TABLES: Final = {table.name: table for table in (SNAPSHOTS, CHECKPOINTS)}


@dataclass
class OpenBlock:
    """What one outermost cross-file block must be able to take back, gathered as it runs."""

    events_after: int
    changes_at_start: int
    rows: dict[tuple[str, str], list[Any] | None] = field(default_factory=dict)
    """(table, key) -> the row's values before the block, or None where it had none."""

    def remember(self, conn: Connection, table: UndoTable, key: str) -> None:
        """The row of ``table`` at ``key`` as it is before its first change in the block."""
        if (table.name, key) not in self.rows:
            found = conn.execute(table.read, (key,)).fetchone()
            self.rows[(table.name, key)] = None if found is None else list(found)

    def changed_events(self, conn: Connection) -> bool:
        return int(conn.execute(CHANGES).fetchone()[0]) != self.changes_at_start


def open_block(events: Connection) -> OpenBlock:
    return OpenBlock(int(events.execute(EVENTS_HEAD).fetchone()[0]),
                     int(events.execute(CHANGES).fetchone()[0]))


def write_record(path: Path, number: int, block: OpenBlock) -> None:
    """The block's undo record, on disk before the event file commits."""
    record = {"block": number, "events_after": block.events_after,
              "rows": [[table, key, row] for (table, key), row in block.rows.items()]}
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    _sync_directory(path.parent)


def read_record(path: Path) -> dict[str, Any] | None:
    """The undo record at ``path``, or None if there is none; written whole under its name
    (a rename), so one that does not parse was damaged on disk: ValueError."""
    try:
        with open(path, encoding="utf-8") as found:
            record: dict[str, Any] = json.load(found)
    except FileNotFoundError:
        return None
    return record


def undo(events: Connection, record: dict[str, Any]) -> None:
    """The event file put back as it was before the record's block, inside ``events``'s
    write transaction."""
    events.execute(DROP_EVENTS_AFTER, (int(record["events_after"]),))
    for table_name, key, row in record["rows"]:
        table = UNDO_TABLES[table_name]
        if row is None:
            events.execute(table.drop, (key,))
        else:
            events.execute(table.put_back, row)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
