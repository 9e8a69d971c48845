"""The reference ``session_history`` store (seed 004) on SQLite."""

from storecheck.reference_impl.session_history.store import MIGRATIONS, SqliteSessionHistory

__all__ = ["MIGRATIONS", "SqliteSessionHistory"]
