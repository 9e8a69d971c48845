"""The reference ``extraction`` store (seed 002) on SQLite."""

from storecheck.reference_impl.extraction.store import MIGRATIONS, SqliteExtraction

__all__ = ["MIGRATIONS", "SqliteExtraction"]
