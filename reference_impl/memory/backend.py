"""The ``memory`` backend: the spec models, registered like any other backend."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storecheck.conformance import capabilities as caps
from storecheck.reference_impl.memory.app_meta import MemoryAppMeta
from storecheck.reference_impl.memory.conversations import MemoryConversations
from storecheck.reference_impl.memory.extraction import MemoryExtraction
from storecheck.reference_impl.memory.session_history import MemorySessionHistory
from storecheck.reference_impl.memory.telemetry import MemoryTelemetry

MODELS: dict[str, Any] = {"session_history": MemorySessionHistory,
                          "conversations": MemoryConversations,
                          "extraction": MemoryExtraction,
                          "telemetry": MemoryTelemetry,
                          "app_meta": MemoryAppMeta}


@dataclass(frozen=True)
class MemoryBackend:
    """Locations are names in this process; reopening one returns the same data."""

    name: str = "memory"
    specs: frozenset[str] = frozenset(MODELS)
    capabilities: frozenset[str] = frozenset({caps.TRANSACTIONS, caps.IN_PROCESS})
    _stores: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _counter: Any = field(default_factory=itertools.count, compare=False, repr=False)

    def new_location(self, spec: str, workdir: Path) -> str:
        return f"memory:{spec}/{next(self._counter)}"

    def open(self, spec: str, location: str, *, schema_version: int | None = None) -> Any:
        if spec not in MODELS:
            raise LookupError(f"backend {self.name!r} does not implement spec {spec!r}")
        with self._lock:
            if location not in self._stores:
                self._stores[location] = MODELS[spec]()
            return self._stores[location]

    def discard(self, location: str) -> None:
        with self._lock:
            self._stores.pop(location, None)


MEMORY_BACKEND = MemoryBackend()
