"""The reference schema of a spec at a version, as SQLite holds it."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from storecheck.reference_impl.backend import REFERENCE_STORES


@cache
def reference_schema(spec: str, version: int) -> dict[str, str]:
    """Object name -> CREATE statement after migrating an empty file to ``version``."""
    store_class = dict(REFERENCE_STORES)[spec]
    with tempfile.TemporaryDirectory() as directory:
        store = store_class(str(Path(directory) / "reference.db"), schema_version=version)
        try:
            return dict(store.schema_ddl())
        finally:
            store.close()
