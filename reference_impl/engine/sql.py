"""What the reference stores' operations need from a database connection.

The operations are written once, in SQLite's SQL, against these two
protocols: :class:`sqlite3.Connection` satisfies them as it is, and the
PostgreSQL engine's connection translates each statement before running it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...


class Transactions(Protocol):
    """A database handing out transactions (nested ones as savepoints)."""

    def atomic(self, *, write: bool = True) -> AbstractContextManager[Connection]: ...
