"""extraction backup and restore done as a first version of each would be, or nearly."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from storecheck.conformance.errors import NotFound
from storecheck.conformance.specs.backups import Backup, backup_instant, backup_name
from storecheck.conformance.specs.common import Validator
from storecheck.reference_impl.extraction import SqliteExtraction

from tests.mutants import sqlite_mutant_backends


class BackupCopiesTheFileWithoutItsWal(SqliteExtraction):
    """The database file copied as it lies on disk: the commits still in the write-ahead
    log are not in it."""

    def backup(self, at: datetime) -> Backup:
        name = backup_name(self.spec, Validator(self.spec, "backup").timestamp("at", at))
        self.backup_directory.mkdir(exist_ok=True)
        shutil.copyfile(self.path, self.backup_directory / name)
        return self._described(name)


class RestoreCopiesTheFileOver(SqliteExtraction):
    """The backup copied over the store's file with the backup API, unverified: a damaged
    backup replaces good data."""

    def restore(self, name: str) -> Backup:
        v = Validator(self.spec, "restore")
        name = v.text("name", name)
        if backup_instant(self.spec, name) is None:
            raise v.fail("not a backup's name", name)
        path = self.backup_directory / name
        if not path.is_file():
            raise NotFound(self.spec, "restore", "no such backup", name)
        with self._storage("restore", name), closing(sqlite3.connect(path)) as source, \
                closing(sqlite3.connect(self.path)) as target:
            source.backup(target)
        return self._described(name)


class RestoreByColumnPlace(SqliteExtraction):
    """Each table's rows copied with ``SELECT *``, by the columns' places, the backup's
    schema unverified."""

    def _verify_schema(self, database: Any, path: Any, name: str) -> None:
        pass

    def _replace_tables(self, database: Any) -> None:
        with database.atomic() as conn:
            for table in ("code_blocks", "extraction_events", "process_state_changes",
                          "process_sessions"):
                conn.execute(f'DELETE FROM main."{table}"')
                conn.execute(f'INSERT INTO main."{table}" SELECT * FROM restored."{table}"')


class RestoreTrustsTheVersionRecord(SqliteExtraction):
    """Any file whose migration record has the store's version is taken for a backup of
    the store: another application's database is reported as a damaged backup."""

    def _refuse_foreign(self, path: Path, name: str) -> None:
        pass


class RestoreTakesCodeBlocksOnTrust(SqliteExtraction):
    """The backup's schema verified, its code blocks' digests not."""

    def _verify_contents(self, path: Path, name: str) -> None:
        pass


class RestoreCopiesTheTextIndexToo(SqliteExtraction):
    """Every table sqlite_master lists copied, the full-text index's own tables with the
    rows: the triggers index the restored events, and the copied index holds them again."""

    def _replace_tables(self, database: Any) -> None:
        with database.atomic() as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
            for table in tables:
                conn.execute(f'DELETE FROM main."{table}"')
                conn.execute(f'INSERT INTO main."{table}" SELECT * FROM restored."{table}"')


class RestoreMergesIntoTheStore(SqliteExtraction):
    """The backup's rows put back beside the store's (``INSERT OR IGNORE``): what was
    written after the backup stays."""

    def _replace_tables(self, database: Any) -> None:
        with database.atomic() as conn:
            for table in ("process_sessions", "process_state_changes", "extraction_events",
                          "code_blocks"):
                conn.execute(f'INSERT OR IGNORE INTO main."{table}" '
                             f'SELECT * FROM restored."{table}"')


MUTANTS: dict[str, tuple[type[Any], str]] = {
    "backup_copies_the_file_without_its_wal": (BackupCopiesTheFileWithoutItsWal, "acid"),
    "restore_copies_the_file_over": (RestoreCopiesTheFileOver, "badinput"),
    "restore_by_column_place": (RestoreByColumnPlace, "badinput"),
    "restore_trusts_the_version_record": (RestoreTrustsTheVersionRecord, "badinput"),
    "restore_takes_code_blocks_on_trust": (RestoreTakesCodeBlocksOnTrust, "badinput"),
    "restore_copies_the_text_index_too": (RestoreCopiesTheTextIndexToo, "acid"),
    "restore_merges_into_the_store": (RestoreMergesIntoTheStore, "acid"),
}
globals().update(sqlite_mutant_backends(MUTANTS, __name__))
