"""Backups whose files are sound SQLite databases but not the store's schema, or not the
store's at all: what a restore must refuse before it replaces anything.

Each damage edits a copy of one backup file in place and returns what it did, or None
when the file has no table it applies to.  The table is found by shape, not by name (the
first table, in name order, with two columns of one declared type besides its key), so
the damages hold whatever a backend calls its tables, as long as its backups are SQLite
files (the ``file_storage`` capability).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

Column = tuple[str, str]
"""A column's name and declared type."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    """Name, declared type and whether it is (part of) the key, in the table's order."""
    return [(row[1], row[2], bool(row[5]))
            for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _pair(conn: sqlite3.Connection) -> tuple[str, str, str] | None:
    """The first table with two non-key columns of one declared type, and the two."""
    # Ordinary tables only: a full-text index's virtual table and its shadow tables are
    # the store's to rebuild, not rows a restore copies.
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
        "AND name NOT LIKE 'sqlite%' AND name <> 'schema_migrations' ORDER BY name")]
    for table in tables:
        by_type: dict[str, str] = {}
        for name, declared, key in _columns(conn, table):
            if key:
                continue
            if declared in by_type:
                return table, by_type[declared], name
            by_type[declared] = name
    return None


def _rebuild(conn: sqlite3.Connection, table: str, columns: list[Column]) -> None:
    """``table`` made anew with ``columns`` (constraints gone), its rows copied by name."""
    kept = [name for name, _ in columns
            if name in {old for old, _, _ in _columns(conn, table)}]
    shadow = table + "__rebuilt"
    conn.execute("PRAGMA legacy_alter_table = ON")
    conn.execute(f"CREATE TABLE {_quoted(shadow)} ("
                 + ", ".join(f"{_quoted(name)} {declared}" for name, declared in columns) + ")")
    names = ", ".join(_quoted(name) for name in kept)
    conn.execute(f"INSERT INTO {_quoted(shadow)} ({names}) SELECT {names} FROM {_quoted(table)}")
    conn.execute(f"DROP TABLE {_quoted(table)}")
    conn.execute(f"ALTER TABLE {_quoted(shadow)} RENAME TO {_quoted(table)}")


def _edited(path: Path, edit: Callable[[sqlite3.Connection, str, str, str], str]) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        found = _pair(conn)
        if found is None:
            return None
        with conn:
            return edit(conn, *found)


def columns_reordered(path: Path) -> str | None:
    """Two columns of one type trade places, each keeping its values: a restore that copies
    by position puts each value in the other's column."""
    def edit(conn: sqlite3.Connection, table: str, first: str, second: str) -> str:
        order = [(name, declared) for name, declared, _ in _columns(conn, table)]
        names = [name for name, _ in order]
        i, j = names.index(first), names.index(second)
        order[i], order[j] = order[j], order[i]
        _rebuild(conn, table, order)
        return f"{table}: {first} and {second} trade places"
    return _edited(path, edit)


def columns_renamed(path: Path) -> str | None:
    """Two columns of one type trade names, the values staying in place: a restore that
    copies by name puts each value in the other's column."""
    def edit(conn: sqlite3.Connection, table: str, first: str, second: str) -> str:
        conn.execute("PRAGMA legacy_alter_table = ON")
        spare = first + "__renamed"
        for old, new in ((first, spare), (second, first), (spare, second)):
            conn.execute(f"ALTER TABLE {_quoted(table)} RENAME COLUMN {_quoted(old)} "
                         f"TO {_quoted(new)}")
        return f"{table}: {first} and {second} trade names"
    return _edited(path, edit)


def column_dropped(path: Path) -> str | None:
    def edit(conn: sqlite3.Connection, table: str, first: str, second: str) -> str:
        _rebuild(conn, table, [(name, declared) for name, declared, _ in _columns(conn, table)
                               if name != second])
        return f"{table}: {second} dropped"
    return _edited(path, edit)


def column_added(path: Path) -> str | None:
    def edit(conn: sqlite3.Connection, table: str, first: str, second: str) -> str:
        conn.execute(f"ALTER TABLE {_quoted(table)} ADD COLUMN restored_note TEXT")
        return f"{table}: a column restored_note added"
    return _edited(path, edit)


def column_retyped(path: Path) -> str | None:
    def edit(conn: sqlite3.Connection, table: str, first: str, second: str) -> str:
        columns = [(name, "BLOB" if name == second else declared)
                   for name, declared, _ in _columns(conn, table)]
        _rebuild(conn, table, columns)
        return f"{table}: {second} retyped BLOB"
    return _edited(path, edit)


SCHEMA_DAMAGES = (columns_reordered, columns_renamed, column_dropped, column_added,
                  column_retyped)


def foreign_database(path: Path) -> str:
    """Another application's SQLite file, with a migration record at the version the
    store's file had: a restore that reads only the version takes it."""
    try:
        with closing(sqlite3.connect(path)) as conn:
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                                   ).fetchone()[0]
    except sqlite3.Error:
        version = 1
    path.unlink()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES ('not a store of any spec')")
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES (?)", (version,))
    return f"another application's database, its migration record at version {version}"


def text_rewritten(path: Path, old: str, new: str) -> int:
    """Every text cell of every table holding ``old`` made to hold ``new`` instead, as a
    disk's or a person's edit would, with nothing else of the row touched; how many cells
    changed.  Found by value, not by table or column name."""
    changed = 0
    with closing(sqlite3.connect(path)) as conn, conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
        for table in tables:
            for column, declared, _ in _columns(conn, table):
                if "TEXT" not in declared.upper():
                    continue
                changed += conn.execute(
                    f"UPDATE {_quoted(table)} SET {_quoted(column)} = "
                    f"replace({_quoted(column)}, ?, ?) WHERE instr({_quoted(column)}, ?) > 0",
                    (old, new, old)).rowcount
    return changed
