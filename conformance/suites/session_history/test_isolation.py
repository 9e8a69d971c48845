"""``isolation``: concurrent ``atomic()`` blocks over sessions are serializable.

A register is a session's ``task`` (read with ``get_session``, written with
``update_session``); a group is a session's messages (counted with
``list_messages``, grown with ``append_message``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from storecheck.conformance.isolation import IsolationSuite
from storecheck.conformance.specs.session_history import SPEC, NewMessage, SessionUpdate
from storecheck.conformance.suites.session_history.workers import T0
from storecheck.fixtures.session_history import SessionFactory

pytestmark = pytest.mark.isolation


class TestIsolation(IsolationSuite):
    spec = SPEC

    def _session(self, store: Any, name: str) -> str:
        workspace = store.get_or_create_workspace("/isolation", T0)
        new = SessionFactory(seed=5).session(workspace.id, id=name, instances=0, messages=0)
        return str(store.create_session(new).id)

    def registers(self, store: Any, tag: str, values: Sequence[int]) -> list[Any]:
        found = []
        for index, value in enumerate(values):
            session = self._session(store, f"{tag}-{index}")
            self.write(store, session, value)
            found.append(session)
        return found

    def read(self, store: Any, register: Any) -> int:
        return int(store.get_session(register).task)

    def write(self, store: Any, register: Any, value: int) -> None:
        store.update_session(register, SessionUpdate(T0, task=str(value)))

    def group(self, store: Any, tag: str, members: int) -> Any:
        session = self._session(store, tag)
        for index in range(members):
            self.add_member(store, session, -1 - index)
        return session

    def add_member(self, store: Any, group: Any, index: int) -> None:
        store.append_message(group, NewMessage(f"{group}-m{index}", "user", "hello", T0))

    def count(self, store: Any, group: Any) -> int:
        return len(store.list_messages(group))
