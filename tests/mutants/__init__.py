"""Deliberately broken variants of the reference stores, one module per spec."""

from __future__ import annotations

from dataclasses import replace

from storecheck.reference_impl.engine import Migration


def edit_migration(migrations: tuple[Migration, ...], version: int, direction: str, old: str,
                   new: str) -> tuple[Migration, ...]:
    """The migrations with one text replaced in one file (``direction`` is "up" or "down")."""
    edited = []
    for migration in migrations:
        if migration.version == version:
            text = getattr(migration, direction)
            if old not in text:
                raise AssertionError(f"mutant edit not applicable to {version}.{direction}: {old!r}")
            migration = replace(migration, **{direction: text.replace(old, new)})
        edited.append(migration)
    return tuple(edited)
