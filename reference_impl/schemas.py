"""The reference schema of a spec at a version, in a dialect the reference runs on."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from storecheck.reference_impl.backend import REFERENCE_STORES

DIALECTS = ("sqlite", "postgres")


@cache
def reference_schema(spec: str, version: int, dialect: str = "sqlite") -> dict[str, str]:
    """Object name -> CREATE statement after migrating an empty location to ``version``.

    ``sqlite``: as SQLite stores it.  ``postgres``: the reference migrations
    translated for PostgreSQL and applied to a scratch schema, read back the way
    the PostgreSQL reference store reports its own schema (so both renderings
    come from one server and one catalog query).
    """
    if dialect == "postgres":
        from storecheck.reference_impl.postgres.schemas import reference_schema_on_server

        return reference_schema_on_server(spec, version)
    if dialect != "sqlite":
        raise LookupError(f"no reference schema in dialect {dialect!r}; the reference runs on "
                          f"{' and '.join(DIALECTS)}")
    store_class = dict(REFERENCE_STORES)[spec]
    with tempfile.TemporaryDirectory() as directory:
        store = store_class(str(Path(directory) / "reference.db"), schema_version=version)
        try:
            return dict(store.schema_ddl())
        finally:
            store.close()
