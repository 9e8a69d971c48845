"""Data export and import of the reference ``extraction`` store
(:mod:`~storecheck.conformance.specs.extraction_export`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple
from datetime import datetime
from typing import Any, Final

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs.extraction import SPEC, ImportCounts
from storecheck.conformance.specs.extraction_export import (
    EXPORT_TABLES,
    ExportRecord,
    counted,
    export_lines,
    table_of,
)
from storecheck.conformance.specs.extraction_inputs import parse_export
from storecheck.reference_impl.engine.sql import Connection
from storecheck.reference_impl.engine.store import SqliteStore
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.extraction import rows
from storecheck.reference_impl.extraction.rows import (
    BLOCK_COLUMNS,
    CHANGE_COLUMNS,
    EVENT_COLUMNS,
    SESSION_COLUMNS,
)

_COLUMNS: Final[dict[str, tuple[str, Callable[[Any], ExportRecord]]]] = {
    "process_sessions": (SESSION_COLUMNS, rows.session),
    "process_state_changes": (CHANGE_COLUMNS, rows.change),
    "extraction_events": (EVENT_COLUMNS, rows.event),
    "code_blocks": (BLOCK_COLUMNS, rows.block),
}
"""Each table's columns, in its record's field order, and the record a row makes."""
READ_TABLE: Final = {table: f"SELECT {columns} FROM {table} ORDER BY id"
                     for table, (columns, _) in _COLUMNS.items()}
INSERT_ROW: Final = {table: f"INSERT INTO {table} ({columns}) VALUES "
                            f"({', '.join('?' * (columns.count(',') + 1))})"
                     for table, (columns, _) in _COLUMNS.items()}
HOLDS_A_ROW: Final = "SELECT " + " OR ".join(
    f"EXISTS (SELECT 1 FROM {table})" for table, _ in EXPORT_TABLES)


def _stored(value: object) -> object:
    if isinstance(value, datetime):
        return to_text(value)
    if isinstance(value, bool):
        return int(value)
    return value


class ExtractionExport(SqliteStore):
    """``export_data`` and ``import_data``: every row read and written by its columns' names,
    ids included."""

    def export_data(self) -> bytes:
        with self._tx("export_data", write=False) as conn:
            records = [_COLUMNS[table][1](row) for table, _ in EXPORT_TABLES
                       for row in conn.execute(READ_TABLE[table])]
        return export_lines(records)

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        order = {table: n for n, (table, _) in enumerate(EXPORT_TABLES)}
        # Parents first, whatever the lines' order: a state change names its session.
        stored = sorted(records, key=lambda record: order[table_of(record)])
        with self._tx("import_data") as conn:
            if conn.execute(HOLDS_A_ROW).fetchone()[0]:
                raise Conflict(SPEC, "import_data", "the store holds rows: an import goes into "
                               "an empty store")
            for record in stored:
                conn.execute(INSERT_ROW[table_of(record)], tuple(map(_stored, astuple(record))))
            self._after_import(conn)
        return counted(records)

    def _after_import(self, conn: Connection) -> None:
        """Make the ids assigned next follow the imported ones (SQLite's AUTOINCREMENT
        counter follows every explicit id by itself)."""
