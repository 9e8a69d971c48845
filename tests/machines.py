"""Each spec's stateful ``model`` machine, its Protocol and the situations it declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from storecheck.conformance.reach import Situation, protocol_of
from storecheck.conformance.specs import SPECS
from storecheck.conformance.suites.app_meta import test_model as app_meta_model
from storecheck.conformance.suites.conversations import test_model as conversations_model
from storecheck.conformance.suites.extraction import test_model as extraction_model
from storecheck.conformance.suites.session_history import test_model as session_history_model
from storecheck.conformance.suites.telemetry import test_model as telemetry_model


@dataclass(frozen=True)
class Machine:
    suite: ModuleType
    build: Callable[[Any, Path], Any]

    @property
    def protocol(self) -> type:
        return protocol_of(SPECS[self.suite.SPEC].module)

    @property
    def situations(self) -> tuple[Situation, ...]:
        situations: tuple[Situation, ...] = self.suite.SITUATIONS
        return situations


MACHINES: dict[str, Machine] = {
    "session_history": Machine(
        session_history_model,
        lambda backend, workdir: session_history_model.build_machine(backend, workdir, True)),
    "conversations": Machine(conversations_model, conversations_model.build_machine),
    "extraction": Machine(extraction_model, extraction_model.build_machine),
    "telemetry": Machine(telemetry_model, telemetry_model.build_machine),
    "app_meta": Machine(app_meta_model, app_meta_model.build_machine),
}
