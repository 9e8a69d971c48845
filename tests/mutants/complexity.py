"""Bugs that return the right rows at the wrong cost: only the scaling and floor checks see them.

Each meets the seeds' absolute targets on this machine: an index forgotten in
a migration, a filter or a cursor applied in the application over every row,
a tag search that walks the whole table, a page hydrated one row at a time.
"""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs.app_meta import LoadedAggregate, StoredEvent
from storecheck.conformance.specs.conversations import (
    ConversationCursor,
    ConversationPage,
    LearningHit,
    LearningQuery,
)
from storecheck.conformance.specs.session_history import Cursor, SessionPage, SessionQuery
from storecheck.reference_impl.app_meta import SqliteAppMeta
from storecheck.reference_impl.app_meta.events import verified
from storecheck.reference_impl.app_meta.rows import EVENT_COLUMNS
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.conversations.learning_search import search_statement
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.session_history import SqliteSessionHistory

from tests.mutants import edit_migration, sqlite_mutant_backends

# -- session_history -----------------------------------------------------------


class MessagesIndexForgotten(SqliteSessionHistory):
    """The migrations never index chat_messages by session_id."""

    migrations = edit_migration(
        edit_migration(SqliteSessionHistory.migrations, 1, "up",
                       "CREATE INDEX idx_chat_messages_session ON chat_messages(session_id);", ""),
        2, "up", "CREATE INDEX idx_chat_messages_session_order ON chat_messages(session_id, "
        "timestamp);", "")


class CursorFoundInPython(SqliteSessionHistory):
    """The cursor's position is found by reading the list from its top in the application."""

    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        if isinstance(after, Cursor):
            with self._tx("search_sessions", write=False) as conn:
                position = (to_text(after.created_at), after.id)
                for row in conn.execute(
                        "SELECT created_at, id FROM sessions ORDER BY created_at DESC, id DESC"):
                    if tuple(row) <= position:
                        break
        return super().search_sessions(query, limit, after)


class FiltersAppliedInPython(SqliteSessionHistory):
    """Workspace and status are matched in the application over every session."""

    def search_sessions(self, query: SessionQuery, limit: int,
                        after: Cursor | None = None) -> SessionPage:
        if isinstance(query, SessionQuery) and query.workspace_id is not None:
            with self._tx("search_sessions", write=False) as conn:
                matched = [row[0] for row in conn.execute(
                    "SELECT id, workspace_id, status FROM sessions ORDER BY created_at DESC, id DESC")
                    if row[1] == query.workspace_id and query.status in (None, row[2])]
            if not matched:
                return SessionPage((), None)
        return super().search_sessions(query, limit, after)


# -- conversations -------------------------------------------------------------


class TagSearchWalksEveryLearning(SqliteConversations):
    """A tag filter is a correlated EXISTS, checked on each learning in created order."""

    def search_learnings(self, query: LearningQuery, limit: int) -> list[LearningHit]:
        if isinstance(query, LearningQuery) and query.tags and query.text is None:
            sql, params = search_statement(query, limit, self.text_index)
            for n in range(len(query.tags)):
                sql = sql.replace(
                    f"l.id IN (SELECT t.learning_id FROM learning_tags AS t WHERE t.tag = :tag{n})",
                    f"EXISTS (SELECT 1 FROM learning_tags AS t WHERE t.learning_id = l.id "
                    f"AND t.tag = :tag{n})")
            with self._tx("search_learnings", write=False) as conn:
                conn.execute(sql, params).fetchall()
        return super().search_learnings(query, limit)


class ListHydratesEachConversation(SqliteConversations):
    """Each conversation of a page is read again by id ("hydrated"): one query per row."""

    def list_conversations(self, limit: int,
                           after: ConversationCursor | None = None) -> ConversationPage:
        page = super().list_conversations(limit, after)
        return ConversationPage(tuple(self.get_conversation(item.id) for item in page.items),
                                page.next_cursor)


# -- app_meta ------------------------------------------------------------------


class LoadReplaysWholeStream(SqliteAppMeta):
    """The snapshot is loaded, and then every event of the stream is read and the ones it
    covers dropped in the application: right events, cost of the whole stream."""

    def load_aggregate(self, aggregate_id: str) -> LoadedAggregate:
        loaded = super().load_aggregate(aggregate_id)
        if loaded.snapshot is None:
            return loaded
        every = self.read_events(aggregate_id)
        return LoadedAggregate(loaded.aggregate_id, loaded.aggregate_type, loaded.version,
                               loaded.snapshot, tuple(event for event in every
                                                      if event.sequence_number
                                                      > loaded.snapshot.version))


class FeedPagedByOffset(SqliteAppMeta):
    """The feed's page found by counting the events up to the position (an OFFSET), not by
    seeking to it: equal on SQLite's gapless positions, and it reads every earlier event."""

    def read_feed(self, after_position: int, limit: int) -> list[StoredEvent]:
        with self._tx("read_feed", after_position, write=False) as conn:
            return verified("read_feed", conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id LIMIT ? OFFSET "
                "(SELECT count(*) FROM events WHERE id <= ?)", (limit, after_position)))


APP_META: dict[str, tuple[type[Any], str]] = {
    "load_replays_whole_stream": (LoadReplaysWholeStream, "latency"),
    "feed_paged_by_offset": (FeedPagedByOffset, "latency"),
}
SESSION_HISTORY: dict[str, tuple[type[Any], str]] = {
    "messages_index_forgotten": (MessagesIndexForgotten, "latency"),
    "cursor_found_in_python": (CursorFoundInPython, "latency"),
    "filters_applied_in_python": (FiltersAppliedInPython, "latency"),
}
CONVERSATIONS: dict[str, tuple[type[Any], str]] = {
    "tag_search_walks_every_learning": (TagSearchWalksEveryLearning, "latency"),
    "list_hydrates_each_conversation": (ListHydratesEachConversation, "latency"),
}
MUTANTS = {**SESSION_HISTORY, **CONVERSATIONS, **APP_META}
globals().update(sqlite_mutant_backends(MUTANTS))
