"""Deliberately broken variants of the reference stores, one module per spec."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from storecheck.reference_impl.backend import SqliteBackend, sqlite_backend
from storecheck.reference_impl.engine import Migration


def sqlite_mutant_backends(mutants: dict[str, tuple[type[Any], str]]) -> dict[str, SqliteBackend]:
    """One backend per mutant store class, named as ``--store=tests.mutants.<module>:<name>``
    finds it in the module's globals."""
    return {name: sqlite_backend(f"mutant-{name}", ((store.spec, store),))
            for name, (store, _) in mutants.items()}


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
