"""Stores that let a hostile argument through: a raw exception, or a value misread.

Each is a shape real stores ship: a ``str`` handed to ``tuple()`` or ``list()``
where a list was meant (stored letter by letter), a timestamp converted to UTC
before it is checked, date arithmetic on caller input before validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from storecheck.conformance.specs.conversations import Job, Learning
from storecheck.conformance.specs.session_history import NewSession, Session, Workspace
from storecheck.reference_impl.conversations import SqliteConversations, queries, rows
from storecheck.reference_impl.engine.timestamps import to_text
from storecheck.reference_impl.session_history import SqliteSessionHistory

from tests.mutants import sqlite_mutant_backends


class RuntimeMixFromAnyIterable(SqliteSessionHistory):
    """Normalises the runtime mix with ``sorted(set(...))`` before the rules see it:
    ``"claude"`` becomes its letters, a dict its keys."""

    def create_session(self, new: NewSession) -> Session:
        mix: Any = new.runtime_mix  # hostile input is of any type, whatever the record says
        if not isinstance(mix, int) and mix is not None:
            new = replace(new, runtime_mix=tuple(sorted(set(new.runtime_mix))))
        return super().create_session(new)


class TimestampConvertedBeforeChecking(SqliteSessionHistory):
    """Converts ``at`` to UTC first: a naive datetime is read as local time, and an aware
    one at the edge of the calendar overflows."""

    def touch_workspace(self, workspace_id: int, at: datetime) -> Workspace:
        if isinstance(at, datetime):
            at = at.astimezone(UTC)
        return super().touch_workspace(workspace_id, at)


class TagsFromAnyIterable(SqliteConversations):
    """``list(tags)`` before the rules: ``"perf"`` is stored as the tags p, e, r, f."""

    def create_learning(self, category: str, content: str, tags: Sequence[str],
                        confidence: float, at: datetime,
                        conversation_id: str | None = None) -> Learning:
        if isinstance(tags, str | dict):
            tags = list(tags)
        return super().create_learning(category, content, tags, confidence, at, conversation_id)


class PurgeCutoffUnchecked(SqliteConversations):
    """Date arithmetic straight on the arguments: a huge day count overflows ``timedelta``."""

    def purge_conversations(self, older_than_days: int, now: datetime) -> int:
        cutoff = to_text((now - timedelta(days=older_than_days)).astimezone(UTC))
        with self._tx("purge_conversations", older_than_days) as conn:
            return int(conn.execute("DELETE FROM conversations WHERE created_at < ?",
                                    (cutoff,)).rowcount)


class LeaseEndUnchecked(SqliteConversations):
    """The lease's end computed from the arguments as given: at the end of the calendar
    (or with an infinite lease) the arithmetic overflows."""

    def dequeue(self, worker: str, now: datetime, lease_seconds: float) -> Job | None:
        stamp = to_text(now.astimezone(UTC))
        until = to_text((now + timedelta(seconds=lease_seconds)).astimezone(UTC))
        with self._tx("dequeue", worker) as conn:
            conn.execute(queries.EXPIRE_EXHAUSTED, {"now": stamp})
            row = conn.execute(queries.CLAIM_NEXT,
                               {"worker": worker, "until": until, "now": stamp}).fetchone()
        return None if row is None else rows.job(row)


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "runtime_mix_from_any_iterable": (RuntimeMixFromAnyIterable, "badinput"),
    "timestamp_converted_before_checking": (TimestampConvertedBeforeChecking, "badinput"),
    "tags_from_any_iterable": (TagsFromAnyIterable, "badinput"),
    "purge_cutoff_unchecked": (PurgeCutoffUnchecked, "badinput"),
    "lease_end_unchecked": (LeaseEndUnchecked, "badinput"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
