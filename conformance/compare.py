"""Comparing a backend's results with the model's, up to store-assigned ids.

Store-assigned identifiers (a workspace's ``id``, an instance's ``row_id``)
may differ between implementations, but each must map one-to-one and never
change for the same record; every other field must be equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from storecheck.conformance.checks import Outcome

StoreAssignedIds = Mapping[tuple[str, str], str]
"""(record type name, field name) -> id kind, from each spec's ``STORE_ASSIGNED_IDS``."""


class IdMap:
    """A bijection between backend ids and model ids, learned as results arrive."""

    def __init__(self) -> None:
        self.forward: dict[tuple[str, Any], Any] = {}
        self.backward: dict[tuple[str, Any], Any] = {}

    def pair(self, kind: str, backend_id: Any, model_id: Any) -> str | None:
        known = self.forward.get((kind, backend_id))
        if known is None and (kind, model_id) not in self.backward:
            self.forward[(kind, backend_id)] = model_id
            self.backward[(kind, model_id)] = backend_id
            return None
        if known == model_id:
            return None
        return (f"{kind} id {backend_id!r} stands for model id {model_id!r} here but for "
                f"{known!r} earlier (identity changed or two records share an id)")

    def to_backend(self, kind: str, model_id: Any) -> Any:
        return self.backward.get((kind, model_id), model_id)


def differences(backend: Any, model: Any, ids: IdMap, assigned: StoreAssignedIds,
                where: str = "result") -> list[str]:
    if dataclasses.is_dataclass(backend) and not isinstance(backend, type):
        if type(backend) is not type(model):
            return [f"{where}: {type(backend).__name__} where the model has {type(model).__name__}"]
        found: list[str] = []
        for field in dataclasses.fields(backend):
            mine, theirs = getattr(backend, field.name), getattr(model, field.name)
            kind = assigned.get((type(backend).__name__, field.name))
            if kind is not None and mine is not None and theirs is not None:
                problem = ids.pair(kind, mine, theirs)
                if problem:
                    found.append(f"{where}.{field.name}: {problem}")
                continue
            found.extend(differences(mine, theirs, ids, assigned, f"{where}.{field.name}"))
        return found
    if isinstance(backend, list | tuple) and isinstance(model, list | tuple):
        if len(backend) != len(model):
            return [f"{where}: {len(backend)} items, the model has {len(model)}"]
        found = []
        for index, (mine, theirs) in enumerate(zip(backend, model, strict=True)):
            found.extend(differences(mine, theirs, ids, assigned, f"{where}[{index}]"))
        return found
    if backend != model or type(backend) is not type(model):
        return [f"{where}: {backend!r} where the model has {model!r}"[:500]]
    return []


def outcome_differences(backend: Outcome, model: Outcome, ids: IdMap,
                        assigned: StoreAssignedIds) -> list[str]:
    if model.error is not None or backend.error is not None:
        if model.error is None or backend.error is None:
            return [f"backend {backend.describe()}; model {model.describe()}"]
        if not backend.error.same_kind_as(model.error):
            return [f"backend {backend.describe()}; model {model.describe()}"]
        return []
    return differences(backend.value, model.value, ids, assigned)
