"""The reference ``app_meta`` store (seed 001) on SQLite, in the seed's two layouts."""

from storecheck.reference_impl.app_meta.store import SqliteAppMeta, SqliteAppMetaSplit

__all__ = ["SqliteAppMeta", "SqliteAppMetaSplit"]
