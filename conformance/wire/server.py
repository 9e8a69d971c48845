"""Serving a Python backend over the wire: the reference, or any backend, as an
implementation process (``python -m storecheck.conformance.wire serve sqlite``).

Requests are read one per line from stdin; each goes to a worker thread of its own
``thread`` member, so the harness's threads reach the store as threads, as they would
in process, and an ``atomic()`` block belongs to the thread that began it.  Responses
are written one per line to the real stdout; anything the store prints goes to stderr.

Every line gets its answer, whatever it holds: JSON nested deeper than
:data:`MAX_DEPTH`, a non-finite number, a ``thread`` that is no integer or string are
refused as invalid requests; a worker whose thread has no open block and no request for
:data:`IDLE_S` ends, and no more than :data:`MAX_WORKERS` run at once.  When stdin ends,
every open block is rolled back on its own thread, so a call waiting for its lock ends.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from contextlib import AbstractContextManager, suppress
from typing import IO, Any, Final

from storecheck.conformance.errors import ValidationError
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire import faults
from storecheck.conformance.wire.codec import WireTypeError, decode, encode
from storecheck.conformance.wire.methods import (
    PROTOCOL_VERSION,
    SESSION_METHODS,
    Handshake,
    Method,
    Opened,
    method_table,
)

_SESSION: Final = {method.name: method for method in SESSION_METHODS}
MAX_DEPTH: Final = 100
"""Arrays and objects inside one another, at most, in a request."""
MAX_WORKERS: Final = 256
"""Distinct ``thread`` values served at once."""
IDLE_S: Final = 5.0
"""How long a worker with no open block waits for its next request before it ends."""
_END: Final[dict[str, Any]] = {}
"""Put in every worker's inbox when stdin ends: roll back its blocks, then stop."""


class _Refused(ValueError):
    """A request line the protocol refuses before any worker sees it."""


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _nesting(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (strings skipped), without
    parsing it: the parser recurses once per level and fails past about a thousand."""
    level = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def parse_request(line: str) -> Any:
    """The line's JSON value; :class:`_Refused` (or ValueError) for what the protocol
    does not take."""
    # Counting brackets is C-speed; only a line with more than the limit is scanned.
    if line.count("[") + line.count("{") > MAX_DEPTH and _nesting(line) > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    return json.loads(line, parse_float=_finite, parse_constant=_no_constant)


class _RolledBack(Exception):
    """Thrown into an ``atomic()`` block that ``store.rollback`` ends."""


class RequestFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


def _failure(code: int, message: str) -> RequestFailed:
    return RequestFailed({"code": code, "message": message})


class Server:
    """One implementation process: the backend, at most one opened store, its blocks."""

    def __init__(self, backend: Any, out: IO[str]) -> None:
        self.backend = backend
        self.out = out
        self.store: Any = None
        self.spec: str | None = None
        self.blocks: dict[Any, list[AbstractContextManager[None]]] = {}
        self.workers: dict[Any, tuple[queue.Queue[dict[str, Any] | None], threading.Thread]] = {}
        self.write_lock = threading.Lock()
        self.route_lock = threading.Lock()

    def serve(self, lines: IO[str]) -> int:
        for line in lines:
            if line.strip():
                self._route(line)
        with self.route_lock:
            workers = list(self.workers.values())
            for inbox, _ in workers:
                inbox.put(_END)
        for _, worker in workers:
            worker.join()
        if self.store is not None:
            self.store.close()
        return 0

    def _route(self, line: str) -> None:
        try:
            message = parse_request(line)
        except _Refused as exc:
            self._respond(None, error={"code": faults.INVALID_REQUEST, "message": str(exc)})
            return
        except ValueError as exc:
            self._respond(None, error={"code": faults.PARSE_ERROR, "message": f"not JSON: {exc}"})
            return
        thread = message.get("thread", 0) if isinstance(message, dict) else None
        if not (isinstance(message, dict) and message.get("jsonrpc") == "2.0"
                and isinstance(message.get("method"), str)
                and isinstance(message.get("id"), (int, str))
                and not isinstance(message.get("id"), bool)
                and isinstance(message.get("params", {}), dict)
                and isinstance(thread, (int, str)) and not isinstance(thread, bool)):
            request_id = message.get("id") if isinstance(message, dict) else None
            self._respond(request_id if isinstance(request_id, (int, str)) else None, error={
                "code": faults.INVALID_REQUEST,
                "message": "not a JSON-RPC 2.0 request with an id, named params and a thread "
                           "that is an integer or a string"})
            return
        with self.route_lock:
            if thread not in self.workers:
                if len(self.workers) >= MAX_WORKERS:
                    self._respond(message["id"], error={
                        "code": faults.INVALID_REQUEST,
                        "message": f"more than {MAX_WORKERS} threads at once"})
                    return
                inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
                worker = threading.Thread(target=self._work, args=(thread, inbox), daemon=True)
                self.workers[thread] = (inbox, worker)
                worker.start()
            self.workers[thread][0].put(message)

    def _work(self, thread: Any, inbox: queue.Queue[dict[str, Any] | None]) -> None:
        while True:
            try:
                message = inbox.get(timeout=IDLE_S)
            except queue.Empty:
                with self.route_lock:
                    if inbox.empty() and not self.blocks.get(thread):
                        del self.workers[thread]
                        return
                continue
            if message is _END or message is None:
                self._roll_back_all(thread)
                return
            self._answer(message)

    def _answer(self, message: dict[str, Any]) -> None:
        try:
            result = self._execute(message)
        except RequestFailed as failed:
            self._respond(message["id"], error=failed.error)
        except Exception as exc:  # the store's own failure, reported to the harness
            self._respond(message["id"], error=faults.error_object(exc))
        else:
            self._respond(message["id"], result=result)

    def _roll_back_all(self, thread: Any) -> None:
        """The thread's open blocks, innermost first, rolled back: the client is gone."""
        for _ in range(len(self.blocks.get(thread, []))):
            with suppress(Exception):
                self._block("rollback", thread)

    def _respond(self, request_id: Any, *, result: Any = None,
                 error: dict[str, Any] | None = None) -> None:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is None:
            response["result"] = result
        else:
            response["error"] = error
        try:
            text = json.dumps(response, ensure_ascii=True, allow_nan=False)
        except (ValueError, RecursionError) as exc:
            text = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": faults.INTERNAL_ERROR,
                "message": f"the result cannot be written as JSON: {exc}"}})
        with self.write_lock:
            self.out.write(text + "\n")
            self.out.flush()

    def _method(self, name: str) -> Method:
        method = _SESSION.get(name) or (method_table(self.spec).get(name) if self.spec else None)
        if method is None:
            raise _failure(faults.METHOD_NOT_FOUND, f"no method {name!r}" + (
                "" if self.spec else " before storecheck.open"))
        return method

    def _arguments(self, method: Method, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - {param.name for param in method.params})
        if unknown:
            raise _failure(faults.INVALID_PARAMS, f"{method.name} has no parameter {unknown[0]!r}")
        arguments = {}
        for param in method.params:
            if param.name not in params:
                if param.required:
                    raise _failure(faults.INVALID_PARAMS,
                                   f"{method.name} needs parameter {param.name!r}")
                continue
            try:
                arguments[param.name] = decode(params[param.name], param.hint, param.name)
            except WireTypeError as exc:
                if method.name in _SESSION:
                    raise _failure(faults.INVALID_PARAMS, f"{method.name}: {exc}") from None
                spec, _, operation = method.name.partition(".")
                raise ValidationError(self.spec or spec, operation, str(exc)) from None
        return arguments

    def _execute(self, message: dict[str, Any]) -> Any:
        method = self._method(message["method"])
        arguments = self._arguments(method, message.get("params", {}))
        thread = message.get("thread", 0)
        if method.name == "storecheck.handshake":
            operations = getattr(self.backend, "operations", None)
            return encode(Handshake(PROTOCOL_VERSION, self.backend.name,
                                    tuple(sorted(self.backend.specs)),
                                    tuple(sorted(self.backend.capabilities)),
                                    None if operations is None else tuple(sorted(operations))),
                          Handshake)
        if method.name == "storecheck.echo":
            return message["params"]["value"]
        if method.name == "storecheck.open":
            return self._open(**arguments)
        if self.store is None:
            raise _failure(faults.INVALID_REQUEST, f"{method.name} before storecheck.open")
        if method.name in ("store.begin", "store.commit", "store.rollback"):
            self._block(method.attribute, thread)
            return None
        if method.name == "store.close":
            self.store.close()
            self.store = None
            return None
        result = getattr(self.store, method.attribute)(**arguments)
        return encode(result, method.result, "result")

    def _open(self, spec: str, location: str, schema_version: int | None = None) -> Any:
        if self.store is not None:
            raise _failure(faults.INVALID_REQUEST, "this process has a store open already")
        if spec not in SPECS or spec not in self.backend.specs:
            raise _failure(faults.INVALID_PARAMS, f"no spec {spec!r} here")
        self.store = self.backend.open(spec, location, schema_version=schema_version)
        self.spec = spec
        return encode(Opened(getattr(self.store, "sql_dialect", None)), Opened)

    def _block(self, verb: str, thread: Any) -> None:
        blocks = self.blocks.setdefault(thread, [])
        if verb == "begin":
            block = self.store.atomic()
            block.__enter__()
            blocks.append(block)
            return
        if not blocks:
            raise _failure(faults.INVALID_REQUEST, f"store.{verb} with no open block")
        block = blocks.pop()
        if verb == "commit":
            block.__exit__(None, None, None)
            return
        rolled_back = _RolledBack()
        with suppress(_RolledBack):
            block.__exit__(_RolledBack, rolled_back, None)


def serve(backend: Any, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Serve ``backend`` on stdin/stdout until stdin ends.  ``sys.stdout`` is pointed at
    stderr meanwhile, so a stray ``print`` cannot corrupt the protocol."""
    protocol_out = stdout or sys.stdout
    sys.stdout = sys.stderr
    try:
        return Server(backend, protocol_out).serve(stdin or sys.stdin)
    finally:
        sys.stdout = protocol_out
