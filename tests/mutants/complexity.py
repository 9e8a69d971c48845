"""Bugs that return the right rows at the wrong cost: only the scaling and floor checks see them.

Each meets the seeds' absolute targets on this machine: an index forgotten in
a migration, a filter or a cursor applied in the application over every row,
a tag search that walks the whole table, a page hydrated one row at a time.
"""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs import extraction_inputs, telemetry_inputs
from storecheck.conformance.specs.conversations import (
    JOB_STATUSES,
    ConversationCursor,
    ConversationPage,
    LearningHit,
    LearningQuery,
)
from storecheck.conformance.specs.extraction import (
    EventCursor,
    EventFilter,
    EventPage,
    ExtractionEvent,
)
from storecheck.conformance.specs.session_history import Cursor, SessionPage, SessionQuery
from storecheck.conformance.specs.telemetry import RunCursor, RunPage
from storecheck.conformance.specs.text_search import matches
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.conversations.learning_search import search_statement
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.extraction import SqliteExtraction, rows as row_codec
from storecheck.reference_impl.extraction.rows import EVENT_COLUMNS
from storecheck.reference_impl.session_history import SqliteSessionHistory
from storecheck.reference_impl.telemetry import SqliteTelemetry

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


class UploadsIndexForgotten(SqliteConversations):
    """The migrations never index uploads by conversation: each listing reads them all."""

    migrations = edit_migration(SqliteConversations.migrations, 2, "up",
                                "CREATE INDEX idx_uploads_conversation ON uploads(conversation_id);",
                                "")


class JobCountsCountedInPython(SqliteConversations):
    """The queue's counts are taken by reading every job's row and counting in the
    application, not by the database's GROUP BY."""

    def job_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(JOB_STATUSES, 0)
        with self._tx("job_counts", write=False) as conn:
            for row in conn.execute("SELECT * FROM jobs"):
                counts[row[4]] += 1
        return counts


# -- extraction -----------------------------------------------------------------


class RiskFilteredInPython(SqliteExtraction):
    """An agent's events at a risk level picked out in the application from all of the
    agent's events, newest first: right, but it reads every event of the agent."""

    def events_by_risk(self, agent_name: str, risk_level: str,
                       limit: int) -> list[ExtractionEvent]:
        with self._tx("events_by_risk", write=False) as conn:
            found = [row_codec.event(row) for row in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM extraction_events WHERE agent_name = ? "
                "ORDER BY timestamp DESC, id DESC", (agent_name,))]
        return [event for event in found if event.risk_level == risk_level][:limit]


class QueryPagedInPython(SqliteExtraction):
    """``query_events`` reads every event the filter matches, newest first, and cuts the page
    out after the cursor in the application: right, and the total is free, but each page
    costs the whole listing."""

    def query_events(self, where: EventFilter, limit: int,
                     after: EventCursor | None = None) -> EventPage:
        where, limit, after = extraction_inputs.event_query(where, limit, after)
        found: list[ExtractionEvent] = []
        with self._tx("query_events", write=False) as conn:
            for row in conn.execute(f"SELECT {EVENT_COLUMNS} FROM extraction_events "
                                    "ORDER BY timestamp DESC, id DESC"):
                event = row_codec.event(row)
                if all(wanted is None or getattr(event, name) == wanted
                       for name, wanted in vars(where).items()):
                    found.append(event)
        total = len(found)
        if after is not None:
            found = [e for e in found if (e.timestamp, e.id) < (after.timestamp, after.id)]
        page = tuple(found[:limit])
        return EventPage(page, total, EventCursor(page[-1].timestamp, page[-1].id)
                         if len(found) > limit else None)


class SearchScansEveryEvent(SqliteExtraction):
    """``search_events`` without the full-text index: every event of the filter read and
    matched in the application by the spec's rule, right and a whole scan each time."""

    def search_events(self, text: str, where: EventFilter, limit: int) -> list[ExtractionEvent]:
        text, where, limit = extraction_inputs.event_search(text, where, limit)
        found: list[ExtractionEvent] = []
        with self._tx("search_events", write=False) as conn:
            for row in conn.execute(f"SELECT {EVENT_COLUMNS} FROM extraction_events "
                                    "ORDER BY timestamp DESC, id DESC"):
                event = row_codec.event(row)
                content = " ".join(t for t in (event.matched_value, event.original_line) if t)
                if all(wanted is None or getattr(event, name) == wanted
                       for name, wanted in vars(where).items()) and matches(text, content):
                    found.append(event)
        return found[:limit]


# -- telemetry ------------------------------------------------------------------------


class RunsPagedInPython(SqliteTelemetry):
    """Every run read and ordered, then the page cut after the place in Python."""

    def training_runs_page(self, model_type: str | None, limit: int,
                           after: RunCursor | None = None) -> RunPage:
        model_type, limit, after = telemetry_inputs.runs_page(model_type, limit, after)
        runs = self.list_training_runs(model_type, None)
        if after is not None:
            runs = [r for r in runs if r.started_at < after.started_at
                    or (r.started_at == after.started_at and r.id > after.id)]
        page = tuple(runs[:limit])
        return RunPage(page, RunCursor(page[-1].started_at, page[-1].id)
                       if len(runs) > limit else None)


SESSION_HISTORY: dict[str, tuple[type[Any], str]] = {
    "messages_index_forgotten": (MessagesIndexForgotten, "latency"),
    "cursor_found_in_python": (CursorFoundInPython, "latency"),
    "filters_applied_in_python": (FiltersAppliedInPython, "latency"),
}
CONVERSATIONS: dict[str, tuple[type[Any], str]] = {
    "tag_search_walks_every_learning": (TagSearchWalksEveryLearning, "latency"),
    "list_hydrates_each_conversation": (ListHydratesEachConversation, "latency"),
    "uploads_index_forgotten": (UploadsIndexForgotten, "latency"),
    "job_counts_counted_in_python": (JobCountsCountedInPython, "latency"),
}
EXTRACTION: dict[str, tuple[type[Any], str]] = {
    "risk_filtered_in_python": (RiskFilteredInPython, "latency"),
    "query_paged_in_python": (QueryPagedInPython, "latency"),
    "search_scans_every_event": (SearchScansEveryEvent, "latency"),
}
TELEMETRY: dict[str, tuple[type[Any], str]] = {
    "runs_paged_in_python": (RunsPagedInPython, "latency"),
}
MUTANTS = {**SESSION_HISTORY, **CONVERSATIONS, **EXTRACTION, **TELEMETRY}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
