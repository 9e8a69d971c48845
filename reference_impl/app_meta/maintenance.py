"""Backup, restore and health of the reference ``app_meta`` store (both layouts).

Backup and restore are the engine's (:mod:`~storecheck.reference_impl.engine.backups`);
``app_meta`` adds its own verification (every event of a backup matches its checksum),
the backup schedule and the health report of each file and of the connection pool.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.app_meta import SPEC
from storecheck.conformance.specs.app_meta_inputs import check
from storecheck.conformance.specs.app_meta_maintenance import (
    MAX_BACKUP_INTERVAL,
    MIN_BACKUP_INTERVAL,
    FileHealth,
    Health,
    PoolStatus,
)
from storecheck.reference_impl.app_meta.events import SqliteAppMetaEvents, verified
from storecheck.reference_impl.app_meta.rows import EVENT_COLUMNS
from storecheck.reference_impl.engine.backups import BackingUpStore
from storecheck.reference_impl.engine.maintenance import health, read_only

HAS_EVENTS: Final = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
VERIFY_BATCH: Final = 1_000
"""Events read from a backup at a time while their checksums are verified."""


class SqliteAppMetaMaintenance(BackingUpStore, SqliteAppMetaEvents):
    """Implements :class:`~storecheck.conformance.specs.app_meta_maintenance.AppMetaMaintenance`."""

    def _verify_contents(self, path: Path, name: str) -> None:
        """StorageFailed(CORRUPT) unless every event in the backup file (if it holds the event
        store) matches its checksum: restored, a damaged event would fail every later read of
        its stream."""
        conn = read_only(path)
        try:
            if conn.execute(HAS_EVENTS).fetchone() is None:
                return
            found = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id")
            while batch := found.fetchmany(VERIFY_BATCH):
                try:
                    verified("restore", batch)
                except StorageFailed as exc:
                    raise StorageFailed(SPEC, "restore", StorageCause.CORRUPT,
                                        f"backup {path.name} failed verification: {exc.detail}",
                                        name) from exc
        finally:
            conn.close()

    def backup_due(self, at: datetime, interval: timedelta) -> bool:
        v = check("backup_due")
        at = v.timestamp("at", at)
        if not isinstance(interval, timedelta) or not (
                MIN_BACKUP_INTERVAL <= interval <= MAX_BACKUP_INTERVAL):
            raise v.fail(f"interval must be a timedelta from {MIN_BACKUP_INTERVAL} to "
                         f"{MAX_BACKUP_INTERVAL}", interval)
        backups = self.list_backups()
        # A difference, not a sum: the newest backup plus the interval may pass year 9999.
        return not backups or at - backups[-1].taken_at >= interval

    def health(self) -> Health:
        files = []
        for label, database, _ in self._files():
            figures = health(database)
            files.append(FileHealth(label, figures.file_bytes, figures.wal_bytes,
                                    figures.page_size, figures.page_count,
                                    figures.freelist_count, figures.quick_check))
        pools = [database.pool() for _, database, _ in self._files()]
        backups = self.list_backups()
        return Health(tuple(files), PoolStatus(sum(p.open for p in pools),
                                               sum(p.in_use for p in pools),
                                               sum(p.waiting for p in pools)),
                      backups[-1].taken_at if backups else None)
