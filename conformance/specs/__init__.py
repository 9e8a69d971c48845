"""The registry of specs: each a typed Protocol, records, schema versions and FK graph."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Final

from storecheck.conformance.specs.common import ForeignKey, Operation

SPEC_MODULES: Final[dict[str, str]] = {
    spec: f"storecheck.conformance.specs.{spec}"
    for spec in ("session_history", "conversations", "extraction", "telemetry", "app_meta")
}


@dataclass(frozen=True)
class SpecInfo:
    name: str
    seed: str
    module: ModuleType
    operations: tuple[Operation, ...]
    foreign_keys: tuple[ForeignKey, ...]
    schema_versions: tuple[int, ...]


class _Registry(Mapping[str, SpecInfo]):
    """Every spec by name; a spec's module is imported when its entry is first read, so a
    process that serves one spec (an implementation behind the wire) loads only that one."""

    def __init__(self) -> None:
        self._loaded: dict[str, SpecInfo] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> SpecInfo:
        found = self._loaded.get(name)
        # An entry whose module was since dropped from sys.modules (pytester's in-process
        # runs drop what each run imported) would hand out the records of an old import.
        if found is not None and sys.modules.get(found.module.__name__) is found.module:
            return found
        if name not in SPEC_MODULES:
            raise KeyError(name)
        with self._lock:
            module = importlib.import_module(SPEC_MODULES[name])
            if name in self._loaded and self._loaded[name].module is not module:
                del self._loaded[name]
            found = self._loaded.setdefault(name, SpecInfo(
                name=module.SPEC, seed=module.SEED, module=module, operations=module.OPERATIONS,
                foreign_keys=module.FOREIGN_KEYS, schema_versions=module.SCHEMA_VERSIONS))
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(SPEC_MODULES)

    def __len__(self) -> int:
        return len(SPEC_MODULES)

    def __contains__(self, name: object) -> bool:
        return name in SPEC_MODULES


SPECS: Final[Mapping[str, SpecInfo]] = _Registry()

__all__ = ["SPECS", "SPEC_MODULES", "ForeignKey", "Operation", "SpecInfo"]
