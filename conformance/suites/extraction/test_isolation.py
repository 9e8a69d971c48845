"""``isolation``: concurrent ``atomic()`` blocks over process sessions are serializable.

A register is a process session's ``environment`` (``get_session`` /
``update_session``); a group is a session's extraction events
(``events_by_session`` / ``save_event``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from storecheck.conformance.isolation import IsolationSuite
from storecheck.conformance.specs.extraction import (
    SPEC,
    NewExtractionEvent,
    NewProcessSession,
    ProcessSessionUpdate,
)
from storecheck.fixtures.extraction import T0

pytestmark = pytest.mark.isolation


class TestIsolation(IsolationSuite):
    spec = SPEC

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]:
        ids = [f"{tag}-{index}" for index in range(len(values))]
        for session, value in zip(ids, values, strict=True):
            store.create_session(NewProcessSession("isolation", session, T0, str(value)))
        return ids

    def read(self, store: Any, register: Any) -> int:
        return int(store.get_session(register).environment)

    def write(self, store: Any, register: Any, value: int) -> None:
        store.update_session(register, ProcessSessionUpdate(environment=str(value)))

    def group(self, store: Any, tag: str, members: int) -> Any:
        store.create_session(NewProcessSession("isolation", tag, T0))
        for index in range(members):
            self.add_member(store, tag, index)
        return tag

    def add_member(self, store: Any, group: Any, index: int) -> None:
        store.save_event(NewExtractionEvent("isolation", group, T0, "error", f"pattern {index}"))

    def count(self, store: Any, group: Any) -> int:
        return len(store.events_by_session(group))
