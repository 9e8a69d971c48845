"""extraction data export and import as a first version of each would be written."""

from __future__ import annotations

import json
from dataclasses import astuple, fields
from typing import Any

from storecheck.conformance.errors import Conflict
from storecheck.conformance.specs.extraction import ImportCounts
from storecheck.conformance.specs.extraction_export import (
    EXPORT_TABLES,
    counted,
    table_of,
)
from storecheck.conformance.specs.extraction_inputs import parse_export
from storecheck.reference_impl.extraction import SqliteExtraction
from storecheck.reference_impl.extraction.export import (
    _COLUMNS,
    HOLDS_A_ROW,
    INSERT_ROW,
    _stored,
)

from tests.mutants import sqlite_mutant_backends


def _rendered(records: list[Any], **dumps: Any) -> bytes:
    return b"".join(
        (json.dumps({"table": table_of(r), **{f.name: _value(getattr(r, f.name))
                                               for f in fields(r)}}, **dumps) + "\n").encode()
        for r in records)


def _value(value: object) -> object:
    stored = _stored(value)
    return stored.replace(" ", "T") + "Z" if isinstance(stored, str) and stored[4:5] == "-" \
        and stored[10:11] == " " else stored


class ExportByTime(SqliteExtraction):
    """Each table's rows newest first, as the reads list them, not by id."""

    def export_data(self) -> bytes:
        records = parse_export(super().export_data())
        order = {name: n for n, (name, _) in enumerate(EXPORT_TABLES)}
        def newest_first(record: Any) -> tuple[int, float]:
            at = getattr(record, "timestamp", None) or record.started_at
            return order[table_of(record)], -at.timestamp()
        return _rendered(sorted(records, key=newest_first), separators=(",", ":"),
                         ensure_ascii=False)


class ExportAsciiOnly(SqliteExtraction):
    """``json.dumps`` with its defaults: non-ASCII escaped, spaces after separators."""

    def export_data(self) -> bytes:
        return _rendered(parse_export(super().export_data()))


class ExportWithoutStateChanges(SqliteExtraction):
    """The state history left out: it is "only a log"."""

    def export_data(self) -> bytes:
        kept = [line for line in super().export_data().splitlines(keepends=True)
                if not line.startswith(b'{"table":"process_state_changes"')]
        return b"".join(kept)


class ImportChecksLinesAsItStoresThem(SqliteExtraction):
    """Each line read, checked and stored in turn: a bad line leaves the ones before it."""

    def import_data(self, data: bytes) -> ImportCounts:
        parse_export(data[:0] if isinstance(data, bytes) else data)  # a wrong kind refused
        with self._tx("import_data") as conn:
            if conn.execute(HOLDS_A_ROW).fetchone()[0]:
                raise Conflict(self.spec, "import_data", "the store holds rows")
        stored = []
        for line in data.splitlines(keepends=True):
            record = parse_export(line)[0]
            with self._tx("import_data") as conn:
                conn.execute(INSERT_ROW[table_of(record)], tuple(map(_stored, astuple(record))))
            stored.append(record)
        return counted(stored)


class ImportRowByRow(SqliteExtraction):
    """Every row its own commit, the whole text checked first: a row the storage refuses
    leaves the rows before it."""

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        order = {name: n for n, (name, _) in enumerate(EXPORT_TABLES)}
        for record in sorted(records, key=lambda r: order[table_of(r)]):
            with self._tx("import_data") as conn:
                conn.execute(INSERT_ROW[table_of(record)], tuple(map(_stored, astuple(record))))
        return counted(records)


class ImportIntoAnyStore(SqliteExtraction):
    """No look for rows already there: an import merges."""

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        order = {name: n for n, (name, _) in enumerate(EXPORT_TABLES)}
        with self._tx("import_data") as conn:
            for record in sorted(records, key=lambda r: order[table_of(r)]):
                conn.execute(INSERT_ROW[table_of(record)], tuple(map(_stored, astuple(record))))
        return counted(records)


class ImportInLineOrder(SqliteExtraction):
    """Rows stored in the order of the lines: a state change before its session fails."""

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        with self._tx("import_data") as conn:
            if conn.execute(HOLDS_A_ROW).fetchone()[0]:
                raise Conflict(self.spec, "import_data", "the store holds rows")
            for record in records:
                conn.execute(INSERT_ROW[table_of(record)], tuple(map(_stored, astuple(record))))
        return counted(records)


class ImportWithNewIds(SqliteExtraction):
    """The rows stored without their ids, each given the next one."""

    def import_data(self, data: bytes) -> ImportCounts:
        records = parse_export(data)
        order = {name: n for n, (name, _) in enumerate(EXPORT_TABLES)}
        with self._tx("import_data") as conn:
            if conn.execute(HOLDS_A_ROW).fetchone()[0]:
                raise Conflict(self.spec, "import_data", "the store holds rows")
            for record in sorted(records, key=lambda r: order[table_of(r)]):
                table = table_of(record)
                columns = _COLUMNS[table][0].removeprefix("id, ")
                values = tuple(map(_stored, astuple(record)))[1:]
                conn.execute(f"INSERT INTO {table} ({columns}) VALUES "
                             f"({', '.join('?' * len(values))})", values)
        return counted(records)


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "export_by_time": (ExportByTime, "model"),
    "export_ascii_only": (ExportAsciiOnly, "badinput"),
    "export_without_state_changes": (ExportWithoutStateChanges, "model"),
    "import_checks_lines_as_it_stores_them": (ImportChecksLinesAsItStoresThem, "badinput"),
    "import_row_by_row": (ImportRowByRow, "acid"),
    "import_into_any_store": (ImportIntoAnyStore, "badinput"),
    "import_in_line_order": (ImportInLineOrder, "badinput"),
    "import_with_new_ids": (ImportWithNewIds, "model"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
