"""The ``extraction`` store's data export and import (the seed's "data export/import", line
475: with backup restore, its way back from a damaged database).

* ``export_data()`` is every row the store holds, as JSON Lines
  (:mod:`~storecheck.conformance.specs.json_lines`): the process sessions, then their
  state changes, then the extraction events, then the code blocks (parents before the rows
  that name them), each table's rows by ``id``.  A line is the row's record
  (:class:`ProcessSession`, :class:`StateChange`, :class:`ExtractionEvent`,
  :class:`CodeBlock`) with its table's name first: ``{"table":"process_sessions","id":1,
  ...}``, every field in the record's order, ids and digests included (:func:`export_lines`).
* ``import_data(data)`` puts an export back into a store that holds no row (else
  :class:`Conflict`: an import is a recovery, not a merge), in one transaction: every row
  with its id, or (one refused) none.  Its lines may come in any order: the rows are
  stored table by table in the export's order.  The whole text is read before anything
  is stored (:func:`~storecheck.conformance.specs.extraction_inputs.parse_export`): text
  that is not UTF-8, a line that is not a JSON object, an
  unknown table, a field missing, unknown, twice or of the wrong kind, an instant not
  spelled as the export spells it, JSON text (``metadata_json``, ``context_json``) that
  does not parse, or a code block whose digest is not its content's is a
  :class:`ValidationError` naming the line.  The storage's rules then hold as for every
  write (an empty agent name is CHECK, a second session id or row id UNIQUE, a state change
  of a session the data lacks FOREIGN KEY).  Afterwards the store reads back what the
  exporting store read (its export is the imported text, byte for byte), and the ids it
  assigns are greater than every imported one.  It returns how many rows of each table
  it stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Final

from storecheck.conformance.specs.extraction import (
    CodeBlock,
    ExtractionEvent,
    ImportCounts,
    ProcessSession,
    StateChange,
)
from storecheck.conformance.specs.json_lines import json_lines

ExportRecord = ProcessSession | StateChange | ExtractionEvent | CodeBlock
EXPORT_TABLES: Final[tuple[tuple[str, type[Any]], ...]] = (
    ("process_sessions", ProcessSession),
    ("process_state_changes", StateChange),
    ("extraction_events", ExtractionEvent),
    ("code_blocks", CodeBlock),
)
"""Each exported table with its record, in the export's order."""


def table_of(record: ExportRecord) -> str:
    return next(name for name, kind in EXPORT_TABLES if isinstance(record, kind))


def export_lines(records: Sequence[ExportRecord]) -> bytes:
    """The export of ``records`` (given in the export's order), one line each."""
    return b"".join(json_lines(("table", *(f.name for f in fields(record))),
                               [(table_of(record), *(getattr(record, f.name)
                                                     for f in fields(record)))])
                    for record in records)


def counted(records: Sequence[ExportRecord]) -> ImportCounts:
    """How many of ``records`` belong to each table."""
    tables = [table_of(record) for record in records]
    return ImportCounts(*(tables.count(name) for name, _ in EXPORT_TABLES))


__all__ = ["EXPORT_TABLES", "ExportRecord", "counted", "export_lines",
           "table_of"]
