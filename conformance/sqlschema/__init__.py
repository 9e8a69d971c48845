"""Everything storecheck does with sqlglot, and the only package that imports it:
schemas as trees (FK graphs, orphan scans, schema drift) in :mod:`._schema`,
SQLite statements translated for PostgreSQL in :mod:`._postgres`.

SQL here is parsed and generated as syntax trees, so identifiers taken from a
schema are quoted by sqlglot and never pasted into SQL text.
"""

from __future__ import annotations

import logging

from storecheck.conformance.sqlschema._postgres import (
    FTS_TOKENS_FUNCTION,
    REWRITES,
    FtsTable,
    UnsupportedSql,
    fts_tables,
    to_postgres,
)
from storecheck.conformance.sqlschema._schema import (
    CheckConstraint,
    TableShape,
    check_constraints,
    foreign_keys,
    normalise,
    orphan_scan,
    schema_drift,
    table_shape,
)

# sqlglot logs "Unsupported property" for SQLite's STRICT; the tree keeps it anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

__all__ = [
    "FTS_TOKENS_FUNCTION",
    "REWRITES",
    "CheckConstraint",
    "FtsTable",
    "TableShape",
    "UnsupportedSql",
    "check_constraints",
    "foreign_keys",
    "fts_tables",
    "normalise",
    "orphan_scan",
    "schema_drift",
    "table_shape",
    "to_postgres",
]
