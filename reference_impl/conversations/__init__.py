"""The reference ``conversations`` store (seed 003) on SQLite."""

from storecheck.reference_impl.conversations.store import MIGRATIONS, SqliteConversations

__all__ = ["MIGRATIONS", "SqliteConversations"]
