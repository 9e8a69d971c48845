"""Store specs, the backend contract and the conformance suites."""

from storecheck.conformance.backend import Backend, FileBackend
from storecheck.conformance.errors import (
    Busy,
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    NotFound,
    StoreError,
    ValidationError,
)
from storecheck.conformance.specs import SPECS

__all__ = [
    "SPECS",
    "Backend",
    "Busy",
    "Conflict",
    "ConstraintKind",
    "ConstraintViolation",
    "FileBackend",
    "NotFound",
    "StoreError",
    "ValidationError",
]
