"""Seed 001's backup, restore and health: the ``app_meta`` store's maintenance operations.

Asked of stores declaring ``backup_restore`` (a store whose data is not in
files of its own, such as a schema in a shared server, leaves it out).

The seed's ``SqlService`` backs up "using SQLite's VACUUM INTO" into a
``backups/`` directory it creates, on "configurable backup intervals" (1 h by
default) "with size validation", and reports "database size tracking and pool
status".  Decisions the seed leaves open:

* **Where.**  Backups go to one directory the store owns, the location's path
  plus ``.backups``, and nowhere else: no operation takes a path.  A backup's
  name is made from its instant (:func:`backup_name`), so two backups in one
  microsecond are a :class:`Conflict`, and no caller string reaches the file
  system or the SQL.  (The real application formats the target path into the
  ``VACUUM INTO`` statement: a directory whose path holds a quote breaks it.)
* **What.**  A backup is a consistent snapshot of every file of the store (the
  production layout's event file too, as ``<name>.events``): it holds every
  write committed before :meth:`AppMetaMaintenance.backup` began and each
  ``atomic()`` block whole or not at all, even while writers run.
* **Size validation.**  A backup file whose size is not its page count times its
  page size was cut short or grown behind the store's back; it is refused on
  restore like a file that fails SQLite's integrity check.
* **Restore** verifies before it replaces anything: every file of the backup
  passes the integrity and size checks (else :class:`StorageFailed` with cause
  ``CORRUPT``); it was written by a store of this spec (else ``FOREIGN``: another
  application's database may carry a migration record at the store's version);
  its schema version is the store's (else :class:`Conflict`; migrate first); and
  every file's schema is the one that version defines, table by table and column
  by column (name, type, place, constraints), index by index (else ``CORRUPT``: a
  backup whose columns traded places or names would put values in the wrong
  columns); and every event it holds matches its checksum (else ``CORRUPT``:
  restored, a damaged event would fail every later read of its stream).  Rows are
  restored by column name.  Refused, it changes nothing.
  Accepted, the store reads back exactly what it held when the backup was taken.
* **Scheduling** is :meth:`AppMetaMaintenance.backup_due`: due when no backup
  exists or the newest is at least ``interval`` old; ``interval`` must lie in
  [:data:`MIN_BACKUP_INTERVAL`, :data:`MAX_BACKUP_INTERVAL`].
* **Health** reports each file (size, WAL size, pages, ``quick_check``) and the
  connection pool: connections open, in a transaction, and waiting for the
  write lock.  Damage is reported in ``quick_check``, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

BACKUP_INTERVAL: Final = timedelta(hours=1)
"""The seed's ``SqlConfig.backup_interval`` default."""
MIN_BACKUP_INTERVAL: Final = timedelta(minutes=1)
MAX_BACKUP_INTERVAL: Final = timedelta(days=30)
BACKUPS_SUFFIX: Final = ".backups"
_NAME_FORMAT: Final = "app_meta_%Y%m%dT%H%M%S%fZ.db"
_NAME: Final = re.compile(r"app_meta_\d{8}T\d{12}Z\.db")


def backup_name(at: datetime) -> str:
    """The file name of a backup taken at ``at`` (in UTC, to the microsecond), the year in
    four digits (``strftime`` writes year 1 as ``1``, a name :func:`backup_instant` would
    not know)."""
    utc = at.astimezone(UTC)
    return f"app_meta_{utc.year:04d}" + utc.strftime(_NAME_FORMAT.removeprefix("app_meta_%Y"))


def backup_instant(name: str) -> datetime | None:
    """When the backup called ``name`` was taken, or None if no backup has that name."""
    if not _NAME.fullmatch(name):
        return None
    return datetime.strptime(name, _NAME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Backup:
    name: str
    """A file name in the backup directory, from :func:`backup_name`."""
    taken_at: datetime
    schema_version: int
    """The store's schema version in the backup; 0 if the backup cannot be read."""
    size_bytes: int
    """All of the backup's files."""


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


class AppMetaMaintenance(Protocol):
    """Backup, restore and health, for stores declaring ``backup_restore``."""

    def backup(self, at: datetime) -> Backup:
        """A consistent copy of the store named ``backup_name(at)`` in the backup
        directory (made if missing); :class:`Conflict` if that name exists."""

    def list_backups(self) -> list[Backup]:
        """The backups in the directory, oldest first; other files there are ignored."""

    def backup_due(self, at: datetime, interval: timedelta) -> bool:
        """Whether a backup is due at ``at``: no backup exists, or the newest is at least
        ``interval`` old; an ``interval`` outside [:data:`MIN_BACKUP_INTERVAL`,
        :data:`MAX_BACKUP_INTERVAL`] is a :class:`ValidationError`."""

    def restore(self, name: str) -> Backup:
        """Verify the backup ``name`` and put it in place of the store's data (see the
        module docstring); :class:`NotFound` if there is no such backup."""

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
