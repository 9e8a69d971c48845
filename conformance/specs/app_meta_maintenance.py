"""Seed 001's backup, restore and health: the ``app_meta`` store's maintenance operations.

Asked of stores declaring ``backup_restore``.  Backup and restore follow the rules every
spec with backups shares (:mod:`storecheck.conformance.specs.backups`); this module adds
what is ``app_meta``'s own.

The seed's ``SqlService`` backs up "using SQLite's VACUUM INTO" into a
``backups/`` directory it creates, on "configurable backup intervals" (1 h by
default) "with size validation", and reports "database size tracking and pool
status".  Decisions the seed leaves open:

* **Where.**  The backup directory is the store's own, and no operation takes a path.
  (The real application formats the target path into the ``VACUUM INTO`` statement:
  a directory whose path holds a quote breaks it.)
* **What.**  A backup holds every file of the store: the production layout's event file
  too, as ``<name>.events``.
* **Size validation** is restore's size check: a backup file whose size is not its page
  count times its page size is refused like a file that fails SQLite's integrity check.
* **Restore** verifies, besides what every spec's restore verifies, that every event the
  backup holds matches its checksum (else :class:`StorageFailed` with cause ``CORRUPT``:
  restored, a damaged event would fail every later read of its stream).
* **Scheduling** is :meth:`AppMetaMaintenance.backup_due`: due when no backup
  exists or the newest is at least ``interval`` old; ``interval`` must lie in
  [:data:`MIN_BACKUP_INTERVAL`, :data:`MAX_BACKUP_INTERVAL`].
* **Health** reports each file (size, WAL size, pages, ``quick_check``) and the
  connection pool: connections open, in a transaction, and waiting for the
  write lock.  Damage is reported in ``quick_check``, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from storecheck.conformance.specs import backups
from storecheck.conformance.specs.app_meta import SPEC
from storecheck.conformance.specs.backups import BACKUPS_SUFFIX as BACKUPS_SUFFIX, Backup as Backup

BACKUP_INTERVAL: Final = timedelta(hours=1)
"""The seed's ``SqlConfig.backup_interval`` default."""
MIN_BACKUP_INTERVAL: Final = timedelta(minutes=1)
MAX_BACKUP_INTERVAL: Final = timedelta(days=30)


def backup_name(at: datetime) -> str:
    """The file name of an ``app_meta`` backup taken at ``at``
    (:func:`storecheck.conformance.specs.backups.backup_name`)."""
    return backups.backup_name(SPEC, at)


def backup_instant(name: str) -> datetime | None:
    """When the ``app_meta`` backup called ``name`` was taken, or None if no backup has
    that name."""
    return backups.backup_instant(SPEC, name)


@dataclass(frozen=True)
class FileHealth:
    file: str
    """``"app_meta"``, or ``"events"`` for the production layout's event file."""
    size_bytes: int
    wal_bytes: int
    page_size: int
    page_count: int
    freelist_count: int
    quick_check: str
    """``"ok"`` or the first problem found."""


@dataclass(frozen=True)
class PoolStatus:
    open: int
    """Connections the store holds open."""
    in_use: int
    """Of those, connections inside a transaction now."""
    waiting: int
    """Callers waiting for the write lock now."""


@dataclass(frozen=True)
class Health:
    files: tuple[FileHealth, ...]
    pool: PoolStatus
    last_backup: datetime | None


class AppMetaMaintenance(backups.Backups, Protocol):
    """Backup, restore, scheduling and health, for stores declaring ``backup_restore``."""

    def backup_due(self, at: datetime, interval: timedelta) -> bool:
        """Whether a backup is due at ``at``: no backup exists, or the newest is at least
        ``interval`` old; an ``interval`` outside [:data:`MIN_BACKUP_INTERVAL`,
        :data:`MAX_BACKUP_INTERVAL`] is a :class:`ValidationError`."""

    def health(self) -> Health:
        """Each file's size, WAL size, pages and ``quick_check``, the connection pool and
        the newest backup's time; damage is reported in ``quick_check``, never raised."""


__all__ = [
    "BACKUPS_SUFFIX",
    "BACKUP_INTERVAL",
    "MAX_BACKUP_INTERVAL",
    "MIN_BACKUP_INTERVAL",
    "AppMetaMaintenance",
    "Backup",
    "FileHealth",
    "Health",
    "PoolStatus",
    "backup_instant",
    "backup_name",
]
