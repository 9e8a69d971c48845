"""Backup and restore, shared by the specs whose seeds ask for them (``app_meta``,
``extraction``).

Asked of stores declaring ``backup_restore`` (a store whose data is not in
files of its own, such as a schema in a shared server, leaves it out).  A spec
module states what is its own (which files, which contents a restore verifies);
the rules below hold for every spec:

* **Where.**  Backups go to one directory the store owns, the location's path
  plus :data:`BACKUPS_SUFFIX`, and nowhere else: no operation takes a path.  A
  backup's name is made from the spec and its instant (:func:`backup_name`), so
  two backups in one microsecond are a :class:`Conflict`, and no caller string
  reaches the file system or the SQL.
* **What.**  A backup is a consistent snapshot of every file of the store: it
  holds every write committed before :meth:`Backups.backup` began and each
  ``atomic()`` block whole or not at all, even while writers run.
* **Restore** verifies before it replaces anything: every file of the backup
  passes SQLite's integrity check and its size is its page count times its page
  size (else :class:`StorageFailed` with cause ``CORRUPT``: a file cut short or
  grown behind the store's back); it was written by a store of this spec (else
  ``FOREIGN``: another application's database may carry a migration record at
  the store's version); its schema version is the store's (else
  :class:`Conflict`; migrate first); every file's schema is the one that version
  defines, table by table and column by column (name, type, place, constraints),
  index by index, trigger by trigger (else ``CORRUPT``: a backup whose columns
  traded places or names would put values in the wrong columns); and the
  contents the spec names verify (else ``CORRUPT``).  Rows are restored by column
  name.  Refused, it changes nothing.  Accepted, the store reads back exactly
  what it held when the backup was taken, and goes on from there: ids and
  positions the store assigns next follow the restored ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

BACKUPS_SUFFIX: Final = ".backups"
_INSTANT_FORMAT: Final = "%Y%m%dT%H%M%S%fZ.db"
_INSTANT: Final = r"\d{8}T\d{12}Z\.db"


def backup_name(spec: str, at: datetime) -> str:
    """The file name of a backup of a ``spec`` store taken at ``at`` (in UTC, to the
    microsecond), the year in four digits (``strftime`` writes year 1 as ``1``, a name
    :func:`backup_instant` would not know)."""
    utc = at.astimezone(UTC)
    return f"{spec}_{utc.year:04d}" + utc.strftime(_INSTANT_FORMAT.removeprefix("%Y"))


def backup_instant(spec: str, name: str) -> datetime | None:
    """When the backup of a ``spec`` store called ``name`` was taken, or None if no backup
    of that spec has that name."""
    if not re.fullmatch(re.escape(spec) + "_" + _INSTANT, name):
        return None
    return datetime.strptime(name.removeprefix(spec + "_"), _INSTANT_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Backup:
    name: str
    """A file name in the backup directory, from :func:`backup_name`."""
    taken_at: datetime
    schema_version: int
    """The store's schema version in the backup; 0 if the backup cannot be read."""
    size_bytes: int
    """All of the backup's files."""


class Backups(Protocol):
    """Backup and restore, for stores declaring ``backup_restore``."""

    def backup(self, at: datetime) -> Backup:
        """A consistent copy of the store named ``backup_name(spec, at)`` in the backup
        directory (made if missing); :class:`Conflict` if that name exists."""

    def list_backups(self) -> list[Backup]:
        """The backups in the directory, oldest first; other files there are ignored."""

    def restore(self, name: str) -> Backup:
        """Verify the backup ``name`` and put it in place of the store's data (see
        :mod:`storecheck.conformance.specs.backups`); :class:`NotFound` if there is no such
        backup, :class:`ValidationError` if no backup of the spec could have that name."""


__all__ = ["BACKUPS_SUFFIX", "Backup", "Backups", "backup_instant", "backup_name"]
