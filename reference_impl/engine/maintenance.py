"""Backup and health figures for a :class:`~.connection.Database`."""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from storecheck.reference_impl.engine.checkpoint import wal_bytes
from storecheck.reference_impl.engine.connection import Database

_BACKUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class BackupRefused(ValueError):
    """The backup would leave its directory, overwrite a file or write through a link."""


class BackupExists(BackupRefused):
    """A file (or a link) already has the backup's name."""


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


def backup(database: Database, directory: Path, name: str, *,
           directory_may_be_link: bool = False) -> Path:
    """Copy the live database into ``directory/name``, a file this call creates.

    A backup can never be written outside the directory: the name must be a
    bare file name (matched whole, so a trailing newline is refused too), and
    :func:`write_new_file` refuses a linked directory, an existing file or a
    planted link.
    """
    if not _BACKUP_NAME.fullmatch(name) or name in {".", ".."}:
        raise BackupRefused(f"backup name {name!r} must be a bare file name")
    return write_new_file(directory, name, image(database.path),
                          directory_may_be_link=directory_may_be_link)


def read_only(path: str | Path) -> sqlite3.Connection:
    """A plain connection that can only read the file (a backup, or a store's file from
    outside the store's own connections)."""
    return sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)


def image(path: str) -> bytes:
    """The file's last committed state, through the online backup API, from a connection
    of its own (the backup API cannot read through a connection inside a write
    transaction: hold one on the store's connection to keep writers out meanwhile)."""
    source = read_only(path)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        data = bytearray(copy.serialize())
        # Header bytes 18-19 say "WAL" as the source's do; a copy at rest is a rollback-
        # journal file (1, 1), so reading it never leaves -wal and -shm files beside it.
        data[18:20] = b"\x01\x01"
        return bytes(data)
    finally:
        copy.close()
        source.close()


def write_new_file(directory: Path, name: str, data: bytes, *,
                   directory_may_be_link: bool = False) -> Path:
    """Write ``data`` to ``directory/name``, a file this call creates and syncs.

    The directory may not be a symbolic link unless ``directory_may_be_link``;
    the file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so an existing
    file or a link planted at the name (dangling or not) is refused, and the
    bytes are written through that one descriptor, so nothing can swap the
    path in between.
    """
    if directory.is_symlink() and not directory_may_be_link:
        raise BackupRefused(f"backup directory {directory} is a link to "
                            f"{os.readlink(directory)}; refusing to write through it")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise BackupExists(f"backup {name!r} already exists (or a link has that name)") from None
    try:
        with os.fdopen(descriptor, "wb", closefd=False) as out:
            out.write(data)
            out.flush()
            os.fsync(descriptor)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        os.close(descriptor)
    return target


def copy_problems(path: Path) -> list[str]:
    """Why the SQLite file at ``path`` is not a whole, sound copy (empty if it is): its
    integrity check, and its size against its page count times its page size."""
    if path.is_symlink() or not path.is_file():
        return [f"{path.name} is not a regular file"]
    conn = read_only(path)
    try:
        page_size, page_count = (int(conn.execute(f"PRAGMA {name}").fetchone()[0])
                                 for name in ("page_size", "page_count"))
        problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    except sqlite3.DatabaseError as exc:
        return [f"{path.name} cannot be read as SQLite: {exc}"]
    finally:
        conn.close()
    size = path.stat().st_size
    if size != page_size * page_count:
        problems.append(f"{path.name} holds {size} bytes, not its {page_count} pages of "
                        f"{page_size}")
    return problems


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
    return Health(
        file_bytes=os.path.getsize(database.path),
        wal_bytes=wal_bytes(database.path),
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
