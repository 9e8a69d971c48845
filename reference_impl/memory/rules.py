"""The schema's rules as a model enforces them: CHECK, FOREIGN KEY, and "no such row"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound

V = TypeVar("V")


@dataclass(frozen=True)
class Rules:
    """One spec's rules; its errors name the spec."""

    spec: str

    def check(self, operation: str, rule: str, ok: bool, value: object) -> None:
        if not ok:
            raise ConstraintViolation(self.spec, operation, ConstraintKind.CHECK, rule, value)

    def parent(self, operation: str, table: dict[str, V], key: str | None, name: str) -> None:
        if key is not None and key not in table:
            raise ConstraintViolation(self.spec, operation, ConstraintKind.FOREIGN_KEY,
                                      f"{name} names no row", key)

    def found(self, operation: str, table: dict[str, V], key: str, what: str) -> V:
        if key not in table:
            raise NotFound(self.spec, operation, f"no such {what}", key)
        return table[key]
