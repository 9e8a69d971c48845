"""Deliberately broken variants of the reference stores, one module per spec."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from storecheck.reference_impl.backend import SqliteBackend, sqlite_backend
from storecheck.reference_impl.engine import Migration
from storecheck.reference_impl.engine.connection import Database

T = TypeVar("T")
R = TypeVar("R")


def mutant_name(module: str, name: str) -> str:
    """The backend name of mutant ``name`` of ``tests.mutants.<module>``: unique among all
    the mutants, so that one run may check mutants of several modules side by side."""
    return f"mutant-{module.rsplit('.', 1)[-1]}-{name}"


def sqlite_mutant_backends(mutants: dict[str, tuple[type[Any], str]],
                           module: str) -> dict[str, SqliteBackend]:
    """One backend per mutant store class of ``module``, found by
    ``--store=tests.mutants.<module>:<name>`` in the module's globals.  Each class is made
    a global of the module it names under its own name, so that a worker process can
    unpickle it: a class made by ``type()`` in a comprehension is otherwise found nowhere,
    and a check that starts a worker would fail on the pickling, not on the mutant's flaw."""
    for store, _ in mutants.values():
        home = sys.modules[store.__module__]
        if getattr(home, store.__qualname__, None) is not store:
            if hasattr(home, store.__qualname__) or "<" in store.__qualname__:
                raise AssertionError(f"mutant class {store.__qualname__} of {store.__module__} "
                                     "cannot be found by its name: give it one of its own")
            setattr(home, store.__qualname__, store)
    return {name: sqlite_backend(mutant_name(module, name), ((store.spec, store),))
            for name, (store, _) in mutants.items()}


def on_database(store: type[Any], database: type[Any], module: str) -> type[Any]:
    """``store`` with its files opened by ``database`` (a broken engine), a class of
    ``module`` (:func:`sqlite_mutant_backends` makes it a global there)."""
    return type(f"{database.__name__}{store.__name__}", (store,),
                {"database_class": database, "__module__": module})


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


class NoRetryDatabase(Database):
    """The engine without its busy retry: a statement that meets a lock fails at once."""

    @staticmethod
    def _retry_busy(step: Any, first_attempt: float | None = None) -> Any:
        return step()


def per_chunk(batch: Sequence[T], write: Callable[[Sequence[T]], list[R]],
              size: int = 500) -> list[R]:
    """``batch`` written ``size`` items to a call of ``write`` (each its own transaction):
    the chunked-commit bug, where a batch refused past its first chunk keeps that chunk."""
    stored: list[R] = []
    for first in range(0, len(batch), size):
        stored += write(batch[first:first + size])
    return stored
