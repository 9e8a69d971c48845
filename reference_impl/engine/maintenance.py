"""Backup and health figures for a :class:`~.connection.Database`."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storecheck.reference_impl.engine.connection import Database

_BACKUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BackupRefused(ValueError):
    """The backup name would leave the configured backup directory."""


@dataclass(frozen=True)
class Health:
    file_bytes: int
    wal_bytes: int
    page_size: int
    page_count: int
    freelist_count: int
    quick_check: str
    """``"ok"`` or the first problem SQLite reports."""

    @property
    def ok(self) -> bool:
        return self.quick_check == "ok"


def backup(database: Database, directory: Path, name: str) -> Path:
    """Copy the live database into ``directory/name`` with the online backup API.

    Only a bare file name is accepted, so a backup can never be written
    outside the directory the store was configured with; the path is handed to
    ``sqlite3.connect``, never formatted into SQL.
    """
    if not _BACKUP_NAME.match(name) or name in {".", ".."}:
        raise BackupRefused(f"backup name {name!r} must be a bare file name")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if target.exists():
        raise BackupRefused(f"backup {target.name!r} already exists")
    source = database.connection()
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
    return target


def health(database: Database) -> Health:
    """The file's figures; a damaged file reports its damage in ``quick_check`` (and -1
    for the figures it could not read) instead of raising."""
    conn = database.connection()

    def pragma(name: str) -> int:
        try:
            return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
        except sqlite3.DatabaseError:
            return -1

    try:
        check = str(conn.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        check = f"unreadable: {exc}"
    wal = f"{database.path}-wal"
    return Health(
        file_bytes=os.path.getsize(database.path),
        wal_bytes=os.path.getsize(wal) if os.path.exists(wal) else 0,
        page_size=pragma("page_size"),
        page_count=pragma("page_count"),
        freelist_count=pragma("freelist_count"),
        quick_check=check,
    )


def integrity_problems(database: Database) -> list[str]:
    """Every line of ``PRAGMA integrity_check`` that is not ``ok``, or why it could not run."""
    try:
        rows = database.connection().execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"integrity_check could not read the file: {exc}"]
    return [str(row[0]) for row in rows if row[0] != "ok"]
