"""The registry of specs: each a typed Protocol, records, schema versions and FK graph."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Final

from storecheck.conformance.specs import (
    app_meta,
    conversations,
    extraction,
    session_history,
    telemetry,
)
from storecheck.conformance.specs.common import ForeignKey, Operation


@dataclass(frozen=True)
class SpecInfo:
    name: str
    seed: str
    module: ModuleType
    operations: tuple[Operation, ...]
    foreign_keys: tuple[ForeignKey, ...]
    schema_versions: tuple[int, ...]


SPECS: Final[dict[str, SpecInfo]] = {
    module.SPEC: SpecInfo(
        name=module.SPEC,
        seed=module.SEED,
        module=module,
        operations=module.OPERATIONS,
        foreign_keys=module.FOREIGN_KEYS,
        schema_versions=module.SCHEMA_VERSIONS,
    )
    for module in (session_history, conversations, extraction, telemetry, app_meta)
}

__all__ = ["SPECS", "ForeignKey", "Operation", "SpecInfo"]
