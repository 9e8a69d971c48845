"""The reference schema as the PostgreSQL reference creates it, read from a scratch schema."""

from __future__ import annotations

from storecheck.reference_impl.postgres import server
from storecheck.reference_impl.postgres.backend import POSTGRES_BACKEND


def reference_schema_on_server(spec: str, version: int) -> dict[str, str]:
    database = server.run_database()
    location = server.location_conninfo(database.conninfo, database.new_schema(f"reference_{spec}"))
    try:
        store = POSTGRES_BACKEND.open(spec, location, schema_version=version)
        try:
            return dict(store.schema_ddl())
        finally:
            store.close()
    finally:
        database.drop_schema(server.schema_of(location))
