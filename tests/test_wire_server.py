"""The wire server answers every line and survives it: hostile JSON, wrong member types,
non-finite numbers, thousands of threads, a client gone with a block open."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.wire import faults
from storecheck.conformance.wire.server import MAX_DEPTH, MAX_WORKERS, Server
from storecheck.reference_impl.memory.backend import MemoryBackend


class Lines(io.StringIO):
    """The server's stdout, read back as one JSON response per line."""

    def responses(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


def serve(lines: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    """Every response, and how many lines were not blank."""
    sent = list(lines)
    out = Lines()
    Server(MemoryBackend(), out).serve(iter(line + "\n" for line in sent))
    return out.responses(), sum(1 for line in sent if line.strip())


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def request(method: str, params: dict[str, Any] | None = None, *, id_: Any = 1,
            **members: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method,
                       "params": params or {}, **members})


FITS = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
"""Nested as deep as a request may be: inside the request and its params."""
DEEPER = "[" * MAX_DEPTH + "]" * MAX_DEPTH


def hostile_lines() -> tuple[dict[str, tuple[str, int | None]], list[str]]:
    """Lines every server must answer and survive: by id, each request with the JSON-RPC
    error code it gets (None: a result); and lines refused before their id can be read."""
    by_id = {
        "fits": (request("storecheck.echo", {"value": json.loads(FITS)}, id_="fits"), None),
        "list thread": (request("storecheck.echo", {"value": 1}, id_="list thread", thread=[1]),
                        faults.INVALID_REQUEST),
        "object thread": (request("storecheck.echo", {"value": 1}, id_="object thread",
                                  thread={"a": 1}), faults.INVALID_REQUEST),
        "bool thread": (request("storecheck.echo", {"value": 1}, id_="bool thread", thread=True),
                        faults.INVALID_REQUEST),
        "bad base64": (request("storecheck.echo", {"value": {"$bytes": "!!not base64"}},
                               id_="bad base64"), faults.INVALID_PARAMS),
        "last": (request("storecheck.echo", {"value": "still here"}, id_="last"), None),
    }
    without_id = ["[" * 1000 + "]" * 1000,
                  '{"jsonrpc": "2.0", "id": "deeper", "method": "storecheck.echo", '
                  f'"params": {{"value": {DEEPER}}}}}',
                  '{"jsonrpc": "2.0", "id": 2, "method": "storecheck.echo", '
                  '"params": {"value": NaN}}',
                  '{"jsonrpc": "2.0", "id": 3, "method": "storecheck.echo", '
                  '"params": {"value": 1e999}}',
                  '{"jsonrpc": "2.0", "id": [1], "method": "storecheck.echo", "params": {}}',
                  "\x00\xff garbage"]
    return by_id, without_id


def answered_as_named(responses: list[dict[str, Any]], sent: int,
                      by_id: dict[str, tuple[str, int | None]]) -> tuple[list[int], str]:
    """Every hostile line answered once, each one with an id as :func:`hostile_lines` names;
    the codes of the answers without an id, sorted, and their messages joined."""
    assert len(responses) == sent and well_formed(responses), responses
    answered = {r["id"]: r for r in responses if r["id"] is not None}
    assert answered["fits"]["result"] == json.loads(FITS)
    assert answered["last"]["result"] == "still here"
    for name, (_, code) in by_id.items():
        assert answered[name].get("error", {}).get("code") == code, answered[name]
    refused = sorted((r["error"]["code"], r["error"]["message"]) for r in responses
                     if r["id"] is None)
    return [code for code, _ in refused], " | ".join(message for _, message in refused)


def test_every_hostile_line_gets_its_answer_and_the_server_goes_on() -> None:
    by_id, without_id = hostile_lines()
    responses, sent = serve([line for line, _ in by_id.values()] + without_id)
    codes, messages = answered_as_named(responses, sent, by_id)
    assert codes == [faults.PARSE_ERROR] + [faults.INVALID_REQUEST] * 5
    assert "nested deeper than" in messages and "NaN is not JSON" in messages
    assert "1e999 is out of range" in messages, messages


def test_a_string_full_of_brackets_is_not_nesting() -> None:
    responses, _ = serve([request("storecheck.echo", {"value": "[{" * 5000})])
    assert responses == [{"jsonrpc": "2.0", "id": 1, "result": "[{" * 5000}]


def test_thousands_of_threads_are_each_answered_with_the_workers_capped() -> None:
    started = threading.active_count()
    peak = [started]
    lines = [request("storecheck.echo", {"value": n}, id_=n, thread=f"t{n}") for n in range(2000)]

    def sample() -> Iterable[str]:
        for line in lines:
            peak[0] = max(peak[0], threading.active_count())
            yield line

    responses, sent = serve(sample())
    assert len(responses) == sent
    answered = [r for r in responses if "result" in r]
    refused = [r for r in responses if r.get("error", {}).get("code") == faults.INVALID_REQUEST]
    assert len(answered) + len(refused) == 2000 and len(answered) >= MAX_WORKERS
    assert peak[0] - started <= MAX_WORKERS + 1, peak[0] - started


def test_a_client_gone_with_a_block_open_ends_the_server_promptly(tmp_path: Path) -> None:
    """Thread a holds a block open on the store; thread b's write waits for it; stdin
    ends.  The block is rolled back, b's write answered, and serve() returns."""
    location = "memory:session_history/gone"
    out = Lines()

    def answered(request_id: int) -> bool:
        return any(r["id"] == request_id for r in out.responses())

    def client() -> Iterator[str]:
        # As the harness does: each line after the one before it is answered (requests on
        # different threads run at once, so a pipelined begin could meet no open store).
        yield request("storecheck.open", {"spec": "session_history", "location": location},
                      id_=1) + "\n"
        assert wait_until(lambda: answered(1))
        yield request("store.begin", id_=2, thread="a") + "\n"
        assert wait_until(lambda: answered(2))
        yield request("session_history.get_or_create_workspace",
                      {"path": "/w", "at": "2025-01-01T00:00:00Z"}, id_=3, thread="b") + "\n"

    started = time.monotonic()
    Server(MemoryBackend(), out).serve(client())
    assert time.monotonic() - started < 5
    responses = out.responses()
    assert {r["id"] for r in responses} == {1, 2, 3}
    assert all("error" not in r for r in responses), responses


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(), lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
MEMBERS = st.dictionaries(
    st.sampled_from(["jsonrpc", "id", "method", "params", "thread"]),
    JSON_VALUES | st.sampled_from(["2.0", "storecheck.echo", "storecheck.handshake",
                                   "store.begin", "store.commit", "storecheck.open"]))


ANY_LINE = st.one_of(
    MEMBERS.map(json.dumps), JSON_VALUES.map(json.dumps),
    st.text(alphabet=st.characters(exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")))
"""A request's members with any values, any JSON, or any text that is one line."""


def well_formed(responses: list[dict[str, Any]]) -> bool:
    """Each response carries a result or an error, not both, not neither."""
    return all(set(r) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"})
               for r in responses)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANY_LINE, max_size=8))
def test_any_line_gets_one_answer(lines: list[str]) -> None:
    responses, sent = serve(lines)
    assert len(responses) == sent
    assert well_formed(responses), responses
