"""The wire protocol: one codec for every spec's records, checked against the OpenRPC
document; the reference served through it; and every way a process can break it."""

from __future__ import annotations

import inspect
import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, NotFound, ValidationError
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire import faults
from storecheck.conformance.wire.client import exec_backend
from storecheck.conformance.wire.codec import decode, encode
from storecheck.conformance.wire.faults import ImplementationError, ProtocolFailure
from storecheck.conformance.wire.methods import methods_for, record_types
from storecheck.conformance.wire.openrpc import openrpc_document
from storecheck.fixtures.session_history import SessionFactory
from storecheck.plugin.selection import split_store_refs

from tests.suite_runner import report_schema, run_suite

# Durations cross as seconds, a double: exact to the microsecond within 2**32 s (136 years),
# where a double's spacing is still below a microsecond.
st.register_type_strategy(timedelta, st.timedeltas(
    min_value=-timedelta(seconds=2**32), max_value=timedelta(seconds=2**32)))

SERVE_SQLITE = f"{sys.executable} -m storecheck.conformance.wire serve sqlite"
IMPOSTOR = f"{sys.executable} {Path(__file__).parent / 'wire' / 'impostor.py'}"
AT = datetime(2025, 1, 1, tzinfo=UTC)


def _same(left: Any, right: Any) -> bool:
    """Equality that takes NaN for NaN, as the wire carries it."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if hasattr(left, "__dataclass_fields__") and type(left) is type(right):
        return all(_same(getattr(left, f), getattr(right, f)) for f in left.__dataclass_fields__)
    if isinstance(left, (list, tuple)) and type(left) is type(right):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return bool(left == right)


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_record_type_encodes_to_its_openrpc_schema_and_back(spec: str) -> None:
    document = openrpc_document(spec)
    records = record_types(spec)
    assert len(records) >= 5
    for record in records:
        _round_trips(record, jsonschema.Draft202012Validator({
            "$ref": f"#/components/schemas/{record.__name__}",
            "components": document["components"]}))


def _round_trips(record: type, validator: Any) -> None:
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.from_type(record))
    def round_trip(value: Any) -> None:
        data = json.loads(json.dumps(encode(value, record), allow_nan=False))
        validator.validate(data)
        assert _same(decode(data, record), value)

    round_trip()


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_the_openrpc_document_has_every_operation_with_its_named_params(spec: str) -> None:
    document = openrpc_document(spec)
    described = {method["name"]: method for method in document["methods"]}
    for operation in SPECS[spec].operations:
        method = described[f"{spec}.{operation.name}"]
        assert method["paramStructure"] == "by-name"
        assert all("schema" in param for param in method["params"])
    assert {"storecheck.handshake", "storecheck.open", "storecheck.echo", "store.begin",
            "store.commit", "store.rollback", "store.close"} <= set(described)
    assert len(described) == len(methods_for(spec))
    # Each error a method lists is a spec error, its data the StoreErrorData schema; what
    # the operation's docstring says of one is its message.
    for name, method in described.items():
        for error in method["errors"]:
            assert error["message"].partition(":")[0] in faults.SPEC_ERRORS, (name, error)
            assert error["data"] == {"$ref": "#/components/schemas/StoreErrorData"}
    if spec == "session_history":
        completing = {error["message"] for error in
                      described["session_history.complete_session"]["errors"]}
        assert "Conflict: one already finished Conflict (also for every caller but one of " \
               "concurrent completions)." in completing, completing
    # Every sentence of the spec's text that names an operation is in that method's rules,
    # found from the text itself (a sentence added to the spec later reaches its method).
    text = inspect.getdoc(SPECS[spec].module) or ""
    for operation in SPECS[spec].operations:
        rules = described[f"{spec}.{operation.name}"].get("x-rules", [])
        mentioned = re.findall(rf"``{operation.name}(?:\(|``)", text)
        assert bool(rules) == bool(mentioned), (operation.name, rules)
        assert all(re.search(rf"`{operation.name}[(`]", rule) for rule in rules), rules
        assert all(":class:" not in rule and "``" not in rule for rule in rules), rules
    # An implementer reads each method's summary: none is merely its own name.
    unsummed = [name for name, method in described.items()
                if method["summary"].strip() in ("", name, name.rpartition(".")[2])]
    assert not unsummed, unsummed


def test_the_protocol_command_prints_the_document() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "storecheck.conformance.wire", "protocol", "conversations"],
        capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == json.loads(json.dumps(openrpc_document("conversations")))


def test_exec_takes_the_rest_of_the_store_value_commas_included() -> None:
    assert split_store_refs("sqlite, memory,exec:node store.js --flag a,b") == [
        "sqlite", "memory", "exec:node store.js --flag a,b"]


def test_spec_errors_cross_the_wire_with_their_kind(tmp_path: Path) -> None:
    backend = exec_backend(SERVE_SQLITE)
    assert backend.name == "exec-sqlite" and "session_history" in backend.specs
    store = backend.open("session_history", backend.new_location("session_history", tmp_path))
    try:
        with pytest.raises(ConstraintViolation) as raised:
            store.create_session(SessionFactory().session(workspace_id=12345))
        assert raised.value.kind is ConstraintKind.FOREIGN_KEY
        with pytest.raises(NotFound):
            store.get_session("nobody")
        with pytest.raises(ValidationError, match="wire cannot carry"):
            store.touch_workspace(1, "2025-01-01T00:00:00+00:00")
        workspace = store.get_or_create_workspace("/w/café", AT)
        assert store.get_workspace(workspace.id) == workspace
        assert workspace.created_at == AT and workspace.created_at.utcoffset() is not None
        with store.atomic():
            store.touch_workspace(workspace.id, datetime(2026, 1, 1, tzinfo=UTC))
            with pytest.raises(KeyError), store.atomic():
                store.touch_workspace(workspace.id, datetime(2027, 1, 1, tzinfo=UTC))
                raise KeyError("roll the inner block back")
        assert store.get_workspace(workspace.id).last_accessed_at.year == 2026
    finally:
        store.close()


@pytest.mark.parametrize(("mode", "reason"), [
    ("die", "exited (code 3)"),
    ("hang", "no answer to session_history.get_workspace within 1 s"),
    ("garbage", "not a JSON-RPC response"),
    ("shape", "returned something that is not Workspace"),
])
def test_a_broken_process_fails_the_call_with_the_reason_and_its_stderr(
        tmp_path: Path, mode: str, reason: str) -> None:
    backend = exec_backend(f"{IMPOSTOR} {mode}", timeout_s=1.0)
    store = backend.open("session_history", backend.new_location("session_history", tmp_path))
    try:
        with pytest.raises(ProtocolFailure) as raised:
            store.get_workspace(1)
        assert reason in str(raised.value)
        if mode != "shape":
            assert "impostor: " in str(raised.value), str(raised.value)
        with pytest.raises(ProtocolFailure):
            store.get_workspace(2)  # a broken process stays broken
    finally:
        store.close()


def test_an_error_that_is_no_spec_error_is_the_implementation_failing(tmp_path: Path) -> None:
    backend = exec_backend(f"{IMPOSTOR} foreign-error")
    store = backend.open("session_history", backend.new_location("session_history", tmp_path))
    try:
        with pytest.raises(ImplementationError, match="undefined is not a function"):
            store.get_workspace(1)
    finally:
        store.close()


def test_a_command_that_cannot_start_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--store=exec:/nonexistent/implementation serve",
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--store=exec:/nonexistent/implementation serve*cannot start*"])


def test_an_ini_setting_names_an_exec_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"""
        [pytest]
        storecheck_exec =
            served-reference = {SERVE_SQLITE}
    """)
    result = pytester.runpytest_subprocess(
        "--store=served-reference", "--store-spec=session_history", "-m", "fk",
        "-p", "no:cacheprovider", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*served-reference / session_history*"])


def test_latency_through_the_wire_is_reported_raw_and_net_of_the_echo(tmp_path: Path) -> None:
    # -vv against the runner's -q: every table row, passed ones included.
    run = run_suite(tmp_path, f"exec:{SERVE_SQLITE}", "--latency=warn", "--scaling=warn",
                    "--store-spec=session_history", "-m", "latency", "-k", "get_session", "-vv")
    assert run.returncode == 0, run.output[-3000:]
    (growth,) = run.report["scaling"]
    assert growth["transport_p50_ms"] > 0, growth
    assert "growth net of the wire (echo p50" in run.output, run.output[-3000:]
    (row,) = run.report["latency"]
    transport = row["transport"]
    assert 0 < transport["p50_ms"] <= transport["p99_ms"], row
    assert transport["net_p50_ms"] <= row["p50_ms"], row
    assert transport["net_p99_ms"] <= row["p99_ms"], row
    assert "net of the wire (echo p50" in run.output, run.output[-3000:]
    jsonschema.validate(run.report, report_schema())


def test_a_server_declaring_the_operations_it_has_gets_a_store_of_those_alone(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The handshake's ``operations`` reach the harness: the remote store lacks the others,
    so a check calling one is skipped as not implemented, as for a Python backend."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    backend = exec_backend(f"{sys.executable} -m storecheck.conformance.wire serve "
                           "tests.partial_backend:declared")
    assert backend.operations is not None
    assert "import_legacy" not in backend.operations and "create_session" in backend.operations
    store = backend.open("session_history", backend.new_location("session_history", tmp_path))
    try:
        assert not hasattr(store, "import_legacy") and callable(store.get_or_create_workspace)
    finally:
        store.close()
    silent = exec_backend(SERVE_SQLITE)
    assert silent.operations is None


def test_protocol_check_passes_the_served_reference_on_every_operation() -> None:
    """Every operation of every spec answered once, each reply decoded: an ``ok`` line for
    each of the spec's operations, exit 0."""
    checked = subprocess.run(
        [sys.executable, "-m", "storecheck.conformance.wire", "protocol", "--check",
         SERVE_SQLITE], capture_output=True, text=True, timeout=300, check=False)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    answered = {line.split()[1] for line in checked.stdout.splitlines() if line.startswith("ok")}
    operations = {f"{spec}.{operation.name}" for spec, info in SPECS.items()
                  for operation in info.operations}
    assert operations <= answered, sorted(operations - answered)
    assert checked.stdout.splitlines()[-1] == "every reply is right"


def test_protocol_check_names_the_method_and_field_of_a_wrong_reply() -> None:
    server = f"{sys.executable} {Path(__file__).parent / 'wire' / 'one_wrong_reply.py'}"
    checked = subprocess.run(
        [sys.executable, "-m", "storecheck.conformance.wire", "protocol", "--check", server,
         "session_history"], capture_output=True, text=True, timeout=300, check=False)
    assert checked.returncode == 1, checked.stdout[-3000:] + checked.stderr[-3000:]
    wrong = [line for line in checked.stdout.splitlines() if line.startswith("WRONG")]
    assert len(wrong) == 1, wrong
    assert wrong[0].startswith("WRONG session_history.get_session: ")
    assert "result.workspace_id: expected an integer, got '" in wrong[0]
