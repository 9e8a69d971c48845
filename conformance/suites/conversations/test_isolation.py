"""``isolation``: concurrent ``atomic()`` blocks over conversations are serializable.

A register is a conversation's title (``get_conversation`` /
``update_conversation``); a group is a conversation's messages
(``count_messages`` / ``add_message``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from storecheck.conformance.isolation import IsolationSuite
from storecheck.conformance.specs.conversations import SPEC
from storecheck.fixtures.conversations import T0

pytestmark = pytest.mark.isolation


class TestIsolation(IsolationSuite):
    spec = SPEC

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]:
        ids = [f"{tag}-{index}" for index in range(len(values))]
        for conversation, value in zip(ids, values, strict=True):
            store.create_conversation(conversation, str(value), {}, T0)
        return ids

    def read(self, store: Any, register: Any) -> int:
        return int(store.get_conversation(register).title)

    def write(self, store: Any, register: Any, value: int) -> None:
        store.update_conversation(register, T0, title=str(value))

    def group(self, store: Any, tag: str, members: int) -> Any:
        store.create_conversation(tag, "group", {}, T0)
        for index in range(members):
            self.add_member(store, tag, index)
        return tag

    def add_member(self, store: Any, group: Any, index: int) -> None:
        store.add_message(group, "user", f"message {index}", T0)

    def count(self, store: Any, group: Any) -> int:
        return int(store.count_messages(group))
