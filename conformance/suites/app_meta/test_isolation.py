"""``isolation``: concurrent ``atomic()`` blocks over settings and documents are serializable.

A register is a setting holding an integer (``get_setting`` / ``put_setting``);
a group is a knowledge base's documents (``list_documents`` / ``add_document``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from storecheck.conformance.isolation import IsolationSuite
from storecheck.conformance.specs.app_meta import SPEC, NewDocument, NewKnowledgeBase
from storecheck.fixtures.app_meta import T0

pytestmark = pytest.mark.isolation


class TestIsolation(IsolationSuite):
    spec = SPEC

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]:
        keys = [f"isolation.{tag}.{index}" for index in range(len(values))]
        for key, value in zip(keys, values, strict=True):
            self.write(store, key, value)
        return keys

    def read(self, store: Any, register: Any) -> int:
        value = store.get_setting(register).value
        assert isinstance(value, int)
        return value

    def write(self, store: Any, register: Any, value: int) -> None:
        store.put_setting(register, value, T0)

    def group(self, store: Any, tag: str, members: int) -> Any:
        store.create_knowledge_base(NewKnowledgeBase(tag, tag, "embedder", T0))
        for index in range(members):
            self.add_member(store, tag, -1 - index)
        return tag

    def add_member(self, store: Any, group: Any, index: int) -> None:
        store.add_document(NewDocument(f"{group}-d{index}", group, "title", f"/{group}/{index}",
                                       f"hash-{index}", 10, T0))

    def count(self, store: Any, group: Any) -> int:
        return len(store.list_documents(group))
