"""The manifest of capabilities a backend may declare.

Checks ask for capabilities by name, never for backend names: a check that
needs one the backend lacks is skipped with the reason, so a missing feature
is visible in the report instead of being counted as a pass.
"""

from __future__ import annotations

from typing import Final

TRANSACTIONS: Final = "transactions"
MIGRATIONS: Final = "migrations"
MULTI_PROCESS: Final = "multi_process"
CRASH_DURABLE: Final = "crash_durable"
SQL_INTROSPECTION: Final = "sql_introspection"
FTS: Final = "fts"
FAULT_INJECTION: Final = "fault_injection"
LATENCY_TARGETS: Final = "latency_targets"
FILE_STORAGE: Final = "file_storage"
FLOOR_BOUND: Final = "floor_bound"
STORAGE_LIMIT: Final = "storage_limit"
BACKUP_RESTORE: Final = "backup_restore"
IN_PROCESS: Final = "in_process"
LOCK_WAIT: Final = "lock_wait"
STATED_SETTINGS: Final = "stated_settings"

CAPABILITIES: Final[dict[str, str]] = {
    TRANSACTIONS: "store.atomic() groups operations into one transaction; nested calls are "
    "savepoints that roll back alone",
    MIGRATIONS: "the store has versioned schema migrations: schema_versions(), "
    "schema_version(), migrate(target) up and down",
    MULTI_PROCESS: "several processes may open the same location at once; the backend "
    "object pickles so a worker process can reopen it",
    CRASH_DURABLE: "committed data survives SIGKILL of the writing process and "
    "verify_integrity() reports on-disk damage",
    SQL_INTROSPECTION: "the store exposes its schema (schema_ddl()) and runs read-only SQL "
    "(query()) in a dialect named by sql_dialect",
    FTS: "ranked full-text search over the spec's searchable text",
    FILE_STORAGE: "the location is a file (with its -wal/-shm companions) whose bytes the "
    "harness may read: deleted text must be gone from them, vacuum must shrink them",
    LATENCY_TARGETS: "the backend is meant to serve real traffic, so the seeds' latency "
    "targets apply to it (a model or test double leaves this out)",
    FLOOR_BOUND: "the store runs the reference's SQL on a SQLite file, so each timed "
    "operation may cost at most its latency row's floor_multiple times that SQL run on a bare "
    "sqlite3 connection (the reference declares it; a store with layers of its own leaves it "
    "out)",
    STORAGE_LIMIT: "store.limit_storage(extra_bytes) makes the storage refuse to grow more "
    "than extra_bytes, as a full disk would (None lifts it), so the checks can drive the "
    "store into StorageFailed(DISK_FULL) and out again",
    BACKUP_RESTORE: "the store backs itself up into its own backup directory, restores a "
    "backup after verifying it, and reports the health of its files and connection pool (the "
    "spec's maintenance protocol, where it has one)",
    IN_PROCESS: "the store does its work in the calling thread (an embedded engine), so a "
    "timed call's time off the CPU that is not spent waiting for one is the store's own (I/O, "
    "a lock, a sleep) and the machine's load cannot excuse it; without it such time is taken "
    "to be another process slowed by the load as much as the calling thread was",
    LOCK_WAIT: "writers take one lock on the whole store, one at a time, and a writer that "
    "finds it taken waits (store.set_lock_wait(busy_timeout, deadline) sets how long) before "
    "it gives up with Busy",
    STATED_SETTINGS: "the store keeps its data in SQLite files and reads back, with "
    "store.connection_settings(), the durability settings (PRAGMAs) each file's connections "
    "run with, for the checks to compare with what the spec states",
    FAULT_INJECTION: "migrate(target, fail_after_statements=N) aborts a migration step "
    "after N statements, to prove a failed step leaves the previous version intact",
}


def describe(name: str) -> str:
    """One line explaining a capability, for skip reasons and reports."""
    return CAPABILITIES.get(name, "unknown capability")
