"""A session_history backend that declares three operations not yet ported: the
reference's memory store with them taken away."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storecheck.conformance.specs import SPECS
from storecheck.reference_impl.memory.backend import MemoryBackend

LACKING = frozenset({"touch_workspace", "import_legacy", "session_summary"})


class Ported:
    """The reference's operations, but the three not yet ported."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in LACKING:
            raise AttributeError(f"'Ported' object has no attribute {name!r}", name=name,
                                 obj=self)
        return getattr(self._inner, name)


@dataclass(frozen=True)
class Declared(MemoryBackend):
    name: str = "declared"

    @property
    def operations(self) -> frozenset[str] | None:
        return frozenset(op.name for op in SPECS["session_history"].operations) - LACKING

    def open(self, spec: str, location: str, *, schema_version: int | None = None) -> Any:
        return Ported(MemoryBackend.open(self, spec, location, schema_version=schema_version))


@dataclass(frozen=True)
class Undeclared(Declared):
    """The same store, its backend silent about what it lacks."""

    name: str = "undeclared"

    @property
    def operations(self) -> frozenset[str] | None:
        return None


declared, undeclared = Declared(), Undeclared()
