"""A store written in another language, checked end to end through the wire: the
session_history store in JavaScript (``tests/foreign/session_history_js``, Node.js with
SQLite compiled to WebAssembly) passes the whole suite, and each of its mutants, written
in JavaScript, is caught."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.wire import faults

from tests.suite_runner import run_suite
from tests.test_mutants import served_sqlite
from tests.test_wire_server import ANY_LINE, answered_as_named, hostile_lines, well_formed

pytestmark = pytest.mark.slow

JS_STORE = Path(__file__).resolve().parent / "foreign" / "session_history_js"

JS_MUTANTS = {
    "millisecond-instants": ("model", "test_a_partial_update_changes_only_what_it_names"),
    "stats-as-numbers": ("badinput", "test_stats_that_would_overflow_a_64_bit_total_are_refused_whole"),
    "utf16-order": ("badinput", "test_runtime_mix_is_a_set_sorted_by_code_point"),
}
"""Each mutant of the JavaScript store (``server.js --mutant=NAME``), the category that
catches it and the check in it that does (measured: the millisecond mutant also fails the
model's random sequences).  Only those checks run here: through the wire a category takes
about half a minute per backend, and the whole suite already runs on the correct store."""


@pytest.fixture(scope="module")
def js_command() -> str:
    """The command that starts the JavaScript store.  Where Node.js or the store's npm
    packages are missing the tests skip, unless STORECHECK_REQUIRE_NODE=1 (CI) fails them."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node.js (node) is not installed"
    elif not (JS_STORE / "node_modules" / "sql.js").is_dir():
        problem = f"the JavaScript store's packages are not installed: run npm ci in {JS_STORE}"
    if problem is not None:
        if os.environ.get("STORECHECK_REQUIRE_NODE") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return f"{shlex.quote(str(node))} {shlex.quote(str(JS_STORE / 'server.js'))}"


def test_the_javascript_store_passes_the_whole_session_history_suite(
        tmp_path: Path, js_command: str) -> None:
    run = run_suite(tmp_path, f"exec:{js_command}", "--store-spec=session_history")
    assert run.returncode == 0, run.output[-5000:]
    ran = {row["category"] for row in run.report["results"] if row["passed"]}
    assert {"model", "acid", "fk", "migration", "concurrency", "isolation", "badinput"} <= ran, ran
    (backend,) = run.report["backends"]
    assert backend["name"] == "exec-session-history-js", backend


def test_each_javascript_mutant_is_caught_in_its_category(tmp_path: Path, js_command: str) -> None:
    """The mutants are named in the ini file (``storecheck_exec``), as a team would name
    its exec backends, and run in one suite run."""
    lines = [f"    js-{name} = {js_command} --mutant={name}" for name in JS_MUTANTS]
    (tmp_path / "pytest.ini").write_text("[pytest]\nstorecheck_exec =\n" + "\n".join(lines) + "\n")
    checks = " or ".join(sorted({check for _, check in JS_MUTANTS.values()}))
    run = run_suite(tmp_path, ",".join(f"js-{name}" for name in JS_MUTANTS),
                    "--store-spec=session_history", "-k", checks)
    assert run.returncode == 1, run.output[-3000:]
    escaped = []
    for name, (category, check) in JS_MUTANTS.items():
        failed = {row["category"] for row in run.report["results"]
                  if row["backend"] == f"js-{name}" and row["failed"]}
        if category not in failed:
            escaped.append(f"{name}: failed in {sorted(failed)}, not in {category} ({check})")
    assert not escaped, "\n".join(escaped) + "\n" + run.output[-3000:]


REFUSED_REQUESTS = [
    ("storecheck.handshake", {"verbose": True}, faults.INVALID_PARAMS),
    ("session_history.get_session", {"session_id": "s", "sessionId": "s"}, faults.INVALID_PARAMS),
    ("session_history.no_such_operation", {}, faults.METHOD_NOT_FOUND),
    ("store.commit", {}, faults.INVALID_REQUEST),
]
"""What the protocol refuses with the JSON-RPC codes it names: a parameter the method does
not have (a misspelt name must not be ignored), a method the spec does not have, and a
commit with no block open."""


@pytest.mark.parametrize("server", ["python", "javascript"])
def test_both_servers_refuse_what_the_protocol_refuses_alike(
        tmp_path: Path, js_command: str, server: str) -> None:
    command = shlex.split(js_command if server == "javascript"
                          else served_sqlite(sys.executable).removeprefix("exec:"))
    requests = [("storecheck.open", {"spec": "session_history",
                                     "location": str(tmp_path / "store.db")}, None),
                *REFUSED_REQUESTS, ("store.close", {}, None)]
    lines = "".join(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params,
                                "thread": 0}) + "\n"
                    for n, (method, params, _) in enumerate(requests, start=1))
    done = subprocess.run(command, input=lines, capture_output=True, text=True, timeout=60,
                          check=True)
    responses = {answer["id"]: answer for answer in map(json.loads, done.stdout.splitlines())}
    codes = [responses[n].get("error", {}).get("code") for n in range(1, len(requests) + 1)]
    assert codes == [code for _, _, code in requests], (codes, done.stdout)


def served_js(js_command: str, lines: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Every response of a JavaScript store given ``lines`` and then the end of its input,
    and how many lines were not blank; the process must exit cleanly."""
    done = subprocess.run(shlex.split(js_command), input="".join(line + "\n" for line in lines),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return ([json.loads(line) for line in done.stdout.splitlines()],
            sum(1 for line in lines if line.strip()))


def test_the_javascript_store_answers_every_hostile_line_and_goes_on(js_command: str) -> None:
    """The Python server's hostile lines: each answered once, with the code the protocol
    names (NaN, which JavaScript's JSON has no token for, is a parse error there)."""
    by_id, without_id = hostile_lines()
    responses, sent = served_js(js_command, [line for line, _ in by_id.values()] + without_id)
    codes, messages = answered_as_named(responses, sent, by_id)
    assert codes == [faults.PARSE_ERROR] * 2 + [faults.INVALID_REQUEST] * 4
    assert "nested deeper than" in messages and "1e999 is out of range" in messages, messages


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(ANY_LINE, max_size=8))
def test_any_line_gets_one_answer_from_the_javascript_store(js_command: str,
                                                            lines: list[str]) -> None:
    """The protocol layer of a store in another language, held to the Python server's
    fuzz: one well-formed answer per line, and a clean exit at the end of its input."""
    responses, sent = served_js(js_command, lines)
    assert len(responses) == sent and well_formed(responses), (lines, responses)
