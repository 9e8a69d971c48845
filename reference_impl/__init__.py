"""Reference implementations: the SQLite engine layer and one package per store."""

from storecheck.reference_impl.backend import SQLITE_BACKEND, SqliteBackend, sqlite_backend

__all__ = ["SQLITE_BACKEND", "SqliteBackend", "sqlite_backend"]
