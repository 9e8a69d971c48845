"""What the reference stores' operations need from a database connection.

The operations are written once, in SQLite's SQL, against these two
protocols: :class:`sqlite3.Connection` satisfies them as it is, and the
PostgreSQL engine's connection translates each statement before running it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
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


def qualified(columns: str, table: str) -> str:
    """A column list (``"a, b"``) with each column named through ``table`` (``t.a, t.b``),
    for a statement that joins another table holding columns of the same names."""
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


def placeholders(count: int) -> str:
    """``?, ?, ...`` for an IN list of ``count`` values: only the count shapes the SQL."""
    return ", ".join(["?"] * count)


@contextmanager
def savepoint(run: Callable[[str], object], name: str) -> Iterator[None]:
    """A nested transaction: undone alone when the block raises (same SQL on both engines)."""
    run(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        run(f"ROLLBACK TO SAVEPOINT {name}")
        run(f"RELEASE SAVEPOINT {name}")
        raise
    else:
        run(f"RELEASE SAVEPOINT {name}")


@contextmanager
def nested_savepoint(local: Any, run: Callable[[str], object]) -> Iterator[None]:
    """A savepoint named after ``local.depth`` (the thread's transaction nesting),
    with the depth raised while it is open."""
    depth: int = local.depth
    local.depth = depth + 1
    try:
        with savepoint(run, f"sp{depth}"):
            yield
    finally:
        local.depth = depth


@contextmanager
def spec_errors(
    driver_error: type[Exception],
    translate: Callable[[Any, str, str, Any], Exception],
    spec: str,
    operation: str,
    value: Any = None,
) -> Iterator[None]:
    """Driver errors raised inside come out as the spec's errors where there is one."""
    try:
        yield
    except driver_error as exc:
        mapped = translate(exc, spec, operation, value)
        if mapped is exc:
            raise
        raise mapped from exc
