"""The hostile-argument sweep reaches every argument and record field, and the shared value
rules refuse what it sends."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.errors import ValidationError
from storecheck.conformance.hostile_arguments import kind_of, operations_with_arguments, slots
from storecheck.conformance.specs import conversations, session_history
from storecheck.conformance.specs.common import Validator
from storecheck.conformance.suites.conversations import test_badinput as conversations_badinput
from storecheck.conformance.suites.session_history import test_badinput as session_badinput
from storecheck.reference_impl.memory.backend import MEMORY_BACKEND

SPECS = [
    (session_history.SPEC, session_history.SessionHistoryStore, session_badinput),
    (conversations.SPEC, conversations.ConversationStore, conversations_badinput),
]


@pytest.mark.parametrize(("spec", "protocol", "suite"), SPECS, ids=[s[0] for s in SPECS])
def test_the_sweep_reaches_every_argument_and_record_field(
    tmp_path: Path, spec: str, protocol: type, suite: Any
) -> None:
    store = MEMORY_BACKEND.open(spec, MEMORY_BACKEND.new_location(spec, tmp_path))
    calls, _ = suite.valid_calls(store)
    unreached = []
    for operation in operations_with_arguments(protocol):
        start = calls[operation](0)
        labels = {slot.label() for slot in slots(protocol, operation, start)}
        hints = typing.get_type_hints(getattr(protocol, operation))
        for name, value in start.items():
            kind, _ = kind_of(hints[name])
            if kind == "record" and value is None:
                unreached.append(f"{operation}({name}): given as None, its fields never swept")
            elif kind == "record":
                unreached += [f"{operation}({name}.{field})" for field in typing.get_type_hints(
                    type(value)) if f"{name}.{field}" not in labels]
            elif name not in labels:
                unreached.append(f"{operation}({name}): no kind for {hints[name]}")
    store.close()
    assert unreached == []


def test_sequences_of_records_are_swept_inside_their_first_record() -> None:
    new = session_history.NewSession(
        "s", 1, "debate", "t", "running", datetime(2025, 1, 1, tzinfo=UTC),
        instances=(session_history.NewInstance(0, "/w", "b", "a", "idle", "x"),))
    found = {slot.label(): slot for slot in slots(session_history.SessionHistoryStore,
                                                  "create_session", {"new": new})}
    assert found["new.instances"].kind == "sequence"
    assert found["new.instances[0].start_time"].kind == "datetime"
    assert found["new.instances[0].start_time"].optional
    filled = found["new.instances[0].status"].fill({"new": new}, "odd")
    assert filled["new"].instances[0].status == "odd" and new.instances[0].status == "idle"


def _refused(call: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        call()
    return str(raised.value)


def test_shared_rules_refuse_the_wrong_kind_and_the_edge_of_the_calendar() -> None:
    v = Validator("spec", "op")
    for wrong in ("claude", b"ab", {"claude": 1}, frozenset({"a"}), None, 7):
        assert "must be a list or tuple" in _refused(lambda w=wrong: v.sequence("mix", w, v.text))
    assert v.sequence("mix", ["a", "b"], v.text) == ("a", "b")
    assert "mix[1]" in _refused(lambda: v.sequence("mix", ["a", 7], v.text))
    east = datetime.min.replace(tzinfo=timezone(timedelta(hours=14)))
    assert "outside the years 1 to 9999" in _refused(lambda: v.timestamp("at", east))
    end = datetime.max.replace(tzinfo=UTC)
    assert v.timestamp("at", end) is end
    assert "falls outside" in _refused(lambda: v.shifted("now + lease", end, 1))
    assert "falls outside" in _refused(lambda: v.shifted("cutoff", end, -86_400 * 10**12))
    assert "beyond the float range" in _refused(lambda: v.finite("x", 10**400))
    assert v.finite("x", 2**63) == float(2**63)
    assert "must be finite" in _refused(lambda: v.finite("x", float("nan")))
