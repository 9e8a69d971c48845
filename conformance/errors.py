"""The one error hierarchy every store spec raises.

A backend translates its own failures (sqlite3 IntegrityError, a PostgreSQL
SQLSTATE, an HTTP 409) into these, so a conformance check can compare the
*kind* of failure across implementations.  Every message names the spec, the
operation and the offending value, because that is what a user reads first
when a check fails.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "Busy",
    "Conflict",
    "ConstraintKind",
    "ConstraintViolation",
    "NotFound",
    "StorageCause",
    "StorageFailed",
    "StoreError",
    "ValidationError",
]


class StoreError(Exception):
    """Base of every error a store raises on purpose."""

    def __init__(self, spec: str, operation: str, detail: str, value: Any = None) -> None:
        self.spec = spec
        self.operation = operation
        self.detail = detail
        self.value = value
        super().__init__(f"[{spec}.{operation}] {detail}" + _describe(value))

    def same_kind_as(self, other: StoreError) -> bool:
        """Whether two errors mean the same thing to a caller of the spec."""
        return type(self) is type(other)


class NotFound(StoreError):
    """The record addressed by the operation (read, updated, deleted) does not exist.

    A new record whose *parent* is missing is ``ConstraintViolation(FOREIGN_KEY)``.
    """


class ValidationError(StoreError):
    """The input breaks a rule of the spec before any storage is touched."""


class Conflict(StoreError):
    """The operation collides with the state of an existing record: finishing a finished
    session, finishing a job not leased to the caller, writing under a soft-deleted
    conversation.  A duplicate key is ``ConstraintViolation(UNIQUE)`` instead."""


class Busy(StoreError):
    """The store could not get its lock in time; retrying later may succeed."""


class StorageCause(enum.Enum):
    DISK_FULL = "disk full"
    CORRUPT = "corrupt"
    """The stored bytes are damaged, truncated, or not a database at all."""
    CANNOT_OPEN = "cannot open"
    """The location is unreachable: a directory, a missing parent, no permission, no server."""
    READ_ONLY = "read-only"
    IO_ERROR = "I/O error"
    FOREIGN = "not a store of this spec"
    """The location holds another application's data; the store refuses to touch it."""


class StorageFailed(StoreError):
    """The storage under the store failed; ``cause`` says how.

    Nothing of the failed operation is stored.  A store that hit ``DISK_FULL``
    works again, as the same open object, once space is available.
    """

    def __init__(
        self, spec: str, operation: str, cause: StorageCause, detail: str, value: Any = None
    ) -> None:
        self.cause = cause
        super().__init__(spec, operation, f"storage failed ({cause.value}): {detail}", value)

    def same_kind_as(self, other: StoreError) -> bool:
        return isinstance(other, StorageFailed) and other.cause is self.cause


class ConstraintKind(enum.Enum):
    FOREIGN_KEY = "foreign key"
    UNIQUE = "unique"
    CHECK = "check"
    NOT_NULL = "not null"


class ConstraintViolation(StoreError):
    """A declared constraint of the schema refused the write."""

    def __init__(
        self, spec: str, operation: str, kind: ConstraintKind, detail: str, value: Any = None
    ) -> None:
        self.kind = kind
        super().__init__(spec, operation, f"{kind.value} constraint: {detail}", value)

    def same_kind_as(self, other: StoreError) -> bool:
        return isinstance(other, ConstraintViolation) and other.kind is self.kind


def _describe(value: Any) -> str:
    if value is None:
        return ""
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return f" (value: {text})"
