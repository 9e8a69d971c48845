"""Stores whose SQLite connections run with other settings than their spec states."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storecheck.reference_impl.app_meta import SqliteAppMetaSplit
from storecheck.reference_impl.conversations import SqliteConversations
from storecheck.reference_impl.engine.connection import ConnectionRules
from storecheck.reference_impl.extraction import SqliteExtraction
from storecheck.reference_impl.session_history import SqliteSessionHistory
from storecheck.reference_impl.telemetry import SqliteTelemetry

from tests.mutants import sqlite_mutant_backends
from tests.mutants.session_history import FirstConnectionOnlyDatabase


class EventsFileAtNormal(SqliteAppMetaSplit):
    """The production layout's event file written with the application file's
    ``synchronous=NORMAL``: a power cut can lose events the caller saw committed."""

    event_rules = ConnectionRules()


class SynchronousOff(SqliteTelemetry):
    """``synchronous=OFF`` to speed up the telemetry writes: a power cut can damage the
    file."""

    rules = ConnectionRules(synchronous="OFF")


class RollbackJournal(SqliteExtraction):
    """The default rollback journal instead of the write-ahead log: readers wait for
    writers."""

    rules = ConnectionRules(journal_mode="delete")


class ForeignKeysOnce(SqliteConversations):
    """Foreign keys on the connection the store opened with only (the session_history
    mutant's database, on conversations)."""

    database_class = FirstConnectionOnlyDatabase


class ReportsTheSettingsItMeant(SqliteSessionHistory):
    """Runs with ``synchronous=OFF`` and reports the settings it was meant to have, not
    the ones it reads back."""

    rules = ConnectionRules(synchronous="OFF")

    def connection_settings(self) -> Mapping[str, Mapping[str, str]]:
        return {"main": {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"}}


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "app_meta_events_file_at_normal": (EventsFileAtNormal, "acid"),
    "telemetry_synchronous_off": (SynchronousOff, "acid"),
    "extraction_rollback_journal": (RollbackJournal, "acid"),
    "conversations_foreign_keys_once": (ForeignKeysOnce, "acid"),
    "session_history_reports_the_settings_it_meant": (ReportsTheSettingsItMeant, "acid"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
