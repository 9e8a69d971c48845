"""The SQLite engine layer shared by every reference store."""

from storecheck.reference_impl.engine.connection import (
    ConnectionRules,
    Database,
    is_busy,
    translate,
)
from storecheck.reference_impl.engine.maintenance import (
    BackupExists,
    BackupRefused,
    Health,
    backup,
    copy_problems,
    health,
    integrity_problems,
)
from storecheck.reference_impl.engine.migrator import (
    AppliedMigration,
    ChecksumMismatch,
    InjectedFault,
    Migration,
    MigrationError,
    MigrationFailed,
    Migrator,
    load_migrations,
    split_statements,
)

__all__ = [
    "AppliedMigration",
    "BackupExists",
    "BackupRefused",
    "ChecksumMismatch",
    "ConnectionRules",
    "Database",
    "Health",
    "InjectedFault",
    "Migration",
    "MigrationError",
    "MigrationFailed",
    "Migrator",
    "backup",
    "copy_problems",
    "health",
    "integrity_problems",
    "is_busy",
    "load_migrations",
    "split_statements",
    "translate",
]
