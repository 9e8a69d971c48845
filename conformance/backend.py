"""The contract between the harness and an implementation of a store.

A *backend* is a factory: it names the specs it implements and the
capabilities it has, hands out fresh isolated locations, and opens a store of
a spec at a location.  The store it returns implements the spec's
``Protocol`` (see :mod:`storecheck.conformance.specs`) plus whichever of the
optional protocols below its capabilities promise.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from storecheck.conformance.capabilities import CAPABILITIES

__all__ = [
    "Backend",
    "CheckedAvailability",
    "EngineSessions",
    "FileBackend",
    "IntegrityVerifiable",
    "LockWaitTunable",
    "Migratable",
    "PartialImplementation",
    "SettingsReadable",
    "SqlIntrospectable",
    "StorageLimited",
    "Store",
    "Transactional",
    "lacking_operations",
    "unknown_capabilities",
]

LATEST = None
"""Pass as ``schema_version`` to open a store migrated to its newest schema."""


@runtime_checkable
class Store(Protocol):
    """What every opened store offers besides its spec's operations."""

    def close(self) -> None:
        """Release connections and handles; the location's data stays."""


@runtime_checkable
class Transactional(Protocol):
    """Capability ``transactions``."""

    def atomic(self) -> AbstractContextManager[None]:
        """Group the operations run inside into one all-or-nothing unit.

        Nested calls are savepoints: an exception leaving an inner block undoes
        that block only.  Every single operation is already atomic on its own.

        Isolation (checked by the ``isolation`` category): concurrent blocks, from
        threads sharing the store or from processes with a store each, are
        *serializable*.  Every block that commits sees, and leaves, what it would if
        the committed blocks had run one at a time in some order; so no lost update,
        no read skew, no write skew and no phantom.  A store may instead abort a
        block it cannot order: the block then raises
        :class:`~storecheck.conformance.errors.Busy` (from any operation inside it
        or from the commit as it ends), has written nothing, and the caller may run
        it again.  Busy is the only error concurrency alone may cause; a block
        never fails with Conflict or a constraint violation that a serial order
        would not also give it.
        """


@runtime_checkable
class Migratable(Protocol):
    """Capability ``migrations``."""

    def schema_versions(self) -> Sequence[int]:
        """Every version the store knows, ascending, without 0 (the empty schema)."""

    def schema_version(self) -> int:
        """The version the location is at now; 0 when no migration is applied."""

    def migrate(self, target: int, *, fail_after_statements: int | None = None) -> None:
        """Apply up or down migrations until the location is at ``target``.

        ``fail_after_statements`` (capability ``fault_injection``) makes the
        next step raise after that many statements, as a real failure would.
        """

    def migration_history(self) -> Sequence[Any]:
        """One entry per applied version (objects with ``version`` and ``name``)."""


@runtime_checkable
class SqlIntrospectable(Protocol):
    """Capability ``sql_introspection``."""

    sql_dialect: str
    """A sqlglot dialect name, e.g. ``"sqlite"`` or ``"postgres"``."""

    def schema_ddl(self) -> Mapping[str, str]:
        """Object name -> CREATE statement of every table, index and view of the spec's
        schema as the database holds it now (the migration bookkeeping excluded)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement and return its rows."""


@runtime_checkable
class EngineSessions(Protocol):
    """Optional beside ``sql_introspection``: plain sessions on the store's own engine, for
    measuring its isolation levels (Hermitage's anomaly table)."""

    def engine_session(self) -> Any:
        """A new DB-API 2 connection to the store's database, in driver-level autocommit
        (transactions begin only where a statement begins one), that the caller closes.
        The harness uses it only on a scratch table of its own, ``hermitage_test``."""


@runtime_checkable
class IntegrityVerifiable(Protocol):
    """Part of capability ``crash_durable``."""

    def verify_integrity(self) -> list[str]:
        """Problems found in the stored data's physical structure; empty when sound."""


@runtime_checkable
class StorageLimited(Protocol):
    """Capability ``storage_limit``."""

    def limit_storage(self, extra_bytes: int | None) -> None:
        """Refuse writes that would grow the stored data by more than ``extra_bytes`` from
        now, with ``StorageFailed(DISK_FULL)``; ``None`` lifts the limit.  The same open
        store works again once the limit is lifted."""


@runtime_checkable
class LockWaitTunable(Protocol):
    """Capability ``lock_wait``."""

    def set_lock_wait(self, busy_timeout: float, deadline: float) -> None:
        """From now on, an operation or ``atomic()`` block of this store that finds another
        writer holding the lock waits for it: each attempt up to ``busy_timeout`` seconds
        (the engine's own wait, SQLite's busy timeout), attempts repeated after jittered
        pauses until ``deadline`` seconds have passed since the first began.  Then the
        caller gets :class:`~storecheck.conformance.errors.Busy` and nothing of the
        operation or block is stored.  Applies to the store's connections in every
        thread, those open already included."""


@runtime_checkable
class SettingsReadable(Protocol):
    """Capability ``stated_settings``."""

    def connection_settings(self) -> Mapping[str, Mapping[str, str]]:
        """For each SQLite file the store keeps (``"main"``, and any other under the name
        its spec gives it, as app_meta's ``"events"``), the settings the calling thread's
        connection to that file runs with, read back from the connection now:
        ``journal_mode``, ``synchronous`` and ``foreign_keys``, each as the text of what
        its PRAGMA returns (``"wal"``, ``"1"``, ``"1"``)."""


class Backend(Protocol):
    """An implementation of one or more specs, as the harness sees it."""

    @property
    def name(self) -> str:
        """Short name shown in test ids and reports."""

    @property
    def specs(self) -> frozenset[str]:
        """The spec names this backend implements."""

    @property
    def capabilities(self) -> frozenset[str]:
        """Names from :data:`storecheck.conformance.capabilities.CAPABILITIES`."""

    def new_location(self, spec: str, workdir: Path) -> str:
        """A fresh, empty, isolated location for one check, inside ``workdir``."""

    def open(self, spec: str, location: str, *, schema_version: int | None = LATEST) -> Any:
        """Open a store of ``spec`` at ``location``.

        ``schema_version=None`` migrates to the newest schema; an integer opens
        the location at that version (``0``: no schema at all), which only
        backends with the ``migrations`` capability must honour.
        """

    def discard(self, location: str) -> None:
        """Remove everything stored at ``location``."""


@runtime_checkable
class CheckedAvailability(Protocol):
    """Optional for a backend that depends on something outside the run (a server)."""

    def unavailable(self) -> str | None:
        """Why no check can run here, or None.  Asked once per run, before the first
        check; a reason fails every check of the backend with it (or skips them under
        ``--store-skip-unavailable``).  Raise when the environment demands the backend
        whatever the flags."""


@runtime_checkable
class PartialImplementation(Protocol):
    """Optional for a backend that implements only some of a spec's operations (a store
    ported one operation at a time)."""

    @property
    def operations(self) -> frozenset[str] | None:
        """The operations its stores implement, by their method names, or None for all.

        A check that calls one it lacks is skipped ("needs ``create_session``, not
        implemented") and counted apart; the run ends with the list of what is missing
        and how many checks each blocks.  A store that lacks an operation its backend does
        not declare missing is refused at open."""


@dataclass(frozen=True)
class FileBackend:
    """Base for backends whose location is a file in a per-check directory.

    Subclasses implement :meth:`open`; instances must stay picklable so that
    worker processes can reopen the same location (``multi_process``).
    """

    name: str
    specs: frozenset[str]
    capabilities: frozenset[str] = field(default_factory=frozenset)
    operations: frozenset[str] | None = None
    """:class:`PartialImplementation`: the operations implemented, or None for all."""

    def new_location(self, spec: str, workdir: Path) -> str:
        directory = workdir / f"{self.name}-{spec}"
        directory.mkdir(parents=True, exist_ok=False)
        return str(directory / f"{spec}.db")

    def discard(self, location: str) -> None:
        shutil.rmtree(Path(location).parent, ignore_errors=True)

    def open(self, spec: str, location: str, *, schema_version: int | None = LATEST) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement open()")


def lacking_operations(backend: Any, spec: str) -> frozenset[str]:
    """The spec's operations that ``backend`` declares its stores do not implement
    (:class:`PartialImplementation`); empty for a backend that declares nothing."""
    from storecheck.conformance.specs import SPECS

    operations = getattr(backend, "operations", None)
    if operations is None:
        return frozenset()
    return frozenset(operation.name for operation in SPECS[spec].operations) - set(operations)


def unknown_capabilities(backend: Backend) -> Iterator[str]:
    """Declared capabilities that the manifest does not define (typos, mostly)."""
    for name in sorted(backend.capabilities):
        if name not in CAPABILITIES:
            yield name
