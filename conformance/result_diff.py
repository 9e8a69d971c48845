"""The differences between a backend's result and the model's, compared by representation.

Loose equality hides real bugs: two aware datetimes in different zones compare
equal, ``1 == True``, ``1.0 == 1``.  So every leaf is compared by type *and*
value, and a datetime must also be in UTC (offset zero) with the model's exact
microseconds.  Strings and payloads are compared verbatim (no normalisation,
no trimming); sequences in order; a ``Mapping`` field by its items, whatever
mapping class holds them.

Store-assigned identifiers (a workspace's ``id``, an instance's ``row_id``)
may differ between implementations, but each must map one-to-one and never
change for the same record.  Any value is a valid id, ``0`` and negative
numbers included.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from storecheck.conformance.checks import Outcome

StoreAssignedIds = Mapping[tuple[str, str], str]
"""(record type name, field name) -> id kind, from each spec's ``STORE_ASSIGNED_IDS``."""

_UNASSIGNED = itertools.count(2**62)
"""Stand-ins for model ids the backend never returned: far above any id a store hands out
in a check, so an operation addressing one must find nothing."""


class IdMap:
    """A bijection between backend ids and model ids, learned as results arrive."""

    def __init__(self) -> None:
        self.forward: dict[tuple[str, Any], Any] = {}
        self.backward: dict[tuple[str, Any], Any] = {}

    def pair(self, kind: str, backend_id: Any, model_id: Any) -> str | None:
        if (kind, backend_id) not in self.forward and (kind, model_id) not in self.backward:
            self.forward[(kind, backend_id)] = model_id
            self.backward[(kind, model_id)] = backend_id
            return None
        known_model = self.forward.get((kind, backend_id), _ABSENT)
        known_backend = self.backward.get((kind, model_id), _ABSENT)
        if known_model == model_id and known_backend == backend_id:
            return None
        return (f"{kind} id {backend_id!r} stands for model id {model_id!r} here, but earlier "
                f"{backend_id!r} stood for {_show(known_model)} and model id {model_id!r} for "
                f"backend id {_show(known_backend)} (identity changed or two records share an id)")

    def to_backend(self, kind: str, model_id: Any) -> Any:
        """The backend's id for ``model_id``; for an id the backend never returned, a stand-in
        that no backend record has (the model's own number could be a real backend id)."""
        if (kind, model_id) not in self.backward:
            if not isinstance(model_id, int) or isinstance(model_id, bool):
                return model_id
            stand_in = next(_UNASSIGNED)
            self.backward[(kind, model_id)] = stand_in
            self.forward[(kind, stand_in)] = model_id
        return self.backward[(kind, model_id)]


_ABSENT = object()


def _show(value: Any) -> str:
    return "nothing" if value is _ABSENT else repr(value)


def differences(backend: Any, model: Any, ids: IdMap, assigned: StoreAssignedIds,
                where: str = "result") -> list[str]:
    if dataclasses.is_dataclass(model) and not isinstance(model, type):
        if type(backend) is not type(model):
            return [f"{where}: {type(backend).__name__} where the model has {type(model).__name__}"]
        found: list[str] = []
        for field in dataclasses.fields(model):
            mine, theirs = getattr(backend, field.name), getattr(model, field.name)
            kind = assigned.get((type(model).__name__, field.name))
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
    if isinstance(backend, Mapping) and isinstance(model, Mapping):
        if set(backend) != set(model):
            return [f"{where}: keys {sorted(map(repr, backend))} where the model has "
                    f"{sorted(map(repr, model))}"[:500]]
        found = []
        for key in model:
            found.extend(differences(backend[key], model[key], ids, assigned, f"{where}[{key!r}]"))
        return found
    if isinstance(model, datetime):
        return _datetime_differences(backend, model, where)
    if type(backend) is not type(model) or backend != model:
        return [f"{where}: {backend!r} where the model has {model!r}"[:500]]
    return []


def _datetime_differences(backend: Any, model: datetime, where: str) -> list[str]:
    if not isinstance(backend, datetime):
        return [f"{where}: {backend!r} where the model has the datetime {model!r}"[:500]]
    if backend.tzinfo is None or backend.utcoffset() != timedelta(0):
        return [f"{where}: {backend.isoformat()} is not in UTC; the spec returns every "
                f"timestamp in UTC (the model has {model.isoformat()})"]
    if backend != model:
        return [f"{where}: {backend.isoformat()} where the model has {model.isoformat()} "
                f"(timestamps keep exact microseconds)"]
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
