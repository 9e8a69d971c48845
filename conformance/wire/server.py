"""Serving a Python backend over the wire: the reference, or any backend, as an
implementation process (``python -m storecheck.conformance.wire serve sqlite``).

Requests are read one per line from stdin; each goes to a worker thread of its own
``thread`` member, so the harness's threads reach the store as threads, as they would
in process, and an ``atomic()`` block belongs to the thread that began it.  Responses
are written one per line to the real stdout; anything the store prints goes to stderr.
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

    def serve(self, lines: IO[str]) -> int:
        for line in lines:
            if line.strip():
                self._route(line)
        for inbox, worker in self.workers.values():
            inbox.put(None)
            worker.join()
        if self.store is not None:
            self.store.close()
        return 0

    def _route(self, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError as exc:
            self._respond(None, error={"code": faults.PARSE_ERROR, "message": f"not JSON: {exc}"})
            return
        if not (isinstance(message, dict) and message.get("jsonrpc") == "2.0"
                and isinstance(message.get("method"), str)
                and isinstance(message.get("id"), (int, str))
                and isinstance(message.get("params", {}), dict)):
            self._respond(message.get("id") if isinstance(message, dict) else None, error={
                "code": faults.INVALID_REQUEST,
                "message": "not a JSON-RPC 2.0 request with an id and named params"})
            return
        thread = message.get("thread", 0)
        if thread not in self.workers:
            inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
            worker = threading.Thread(target=self._work, args=(inbox,), daemon=True)
            self.workers[thread] = (inbox, worker)
            worker.start()
        self.workers[thread][0].put(message)

    def _work(self, inbox: queue.Queue[dict[str, Any] | None]) -> None:
        while (message := inbox.get()) is not None:
            try:
                result = self._execute(message)
            except RequestFailed as failed:
                self._respond(message["id"], error=failed.error)
            except Exception as exc:  # the store's own failure, reported to the harness
                self._respond(message["id"], error=faults.error_object(exc))
            else:
                self._respond(message["id"], result=result)

    def _respond(self, request_id: Any, *, result: Any = None,
                 error: dict[str, Any] | None = None) -> None:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is None:
            response["result"] = result
        else:
            response["error"] = error
        text = json.dumps(response, ensure_ascii=True, allow_nan=False)
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
                spec, _, operation = method.name.partition(".")
                raise ValidationError(self.spec or spec, operation, str(exc)) from None
        return arguments

    def _execute(self, message: dict[str, Any]) -> Any:
        method = self._method(message["method"])
        arguments = self._arguments(method, message.get("params", {}))
        thread = message.get("thread", 0)
        if method.name == "storecheck.handshake":
            return encode(Handshake(PROTOCOL_VERSION, self.backend.name,
                                    tuple(sorted(self.backend.specs)),
                                    tuple(sorted(self.backend.capabilities))), Handshake)
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
