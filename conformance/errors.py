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
