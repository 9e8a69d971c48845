"""Keyset pages: a read asks for one row past the page, and that row tells whether
another page follows (a page of exactly ``limit`` rows may be the last)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
Place = TypeVar("Place")


def rows_to_read(limit: int) -> int:
    """How many rows a page of ``limit`` reads: one past it."""
    return limit + 1


def keyset_page(found: Sequence[Row], limit: int,
                place: Callable[[Row], Place]) -> tuple[tuple[Row, ...], Place | None]:
    """The page of ``found`` (read with :func:`rows_to_read`) and, when a row follows it,
    the place of its last row, from which the next page starts."""
    page = tuple(found[:limit])
    return page, (place(page[-1]) if len(found) > limit and page else None)
