"""The harness's side of the wire: a backend whose stores are implementation processes.

``exec_backend("node store.js")`` starts the command once for the handshake; every
``open()`` then starts it again, so one process serves one opened store (and the
``multi_process`` checks, which open a location from several worker processes, start
several).  Each call waits at most ``timeout_s`` for its answer; a process that dies,
hangs or writes anything but JSON-RPC responses fails the call with
:class:`~storecheck.conformance.wire.faults.ProtocolFailure`, carrying the last lines
it wrote to stderr.
"""

from __future__ import annotations

import atexit
import inspect
import itertools
import json
import os
import select
import shlex
import subprocess
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

from storecheck.conformance import capabilities as caps
from storecheck.conformance.backend import LATEST, FileBackend
from storecheck.conformance.errors import ValidationError
from storecheck.conformance.wire import faults
from storecheck.conformance.wire.codec import Unrepresentable, WireTypeError, decode, describe, encode
from storecheck.conformance.wire.faults import ProtocolFailure
from storecheck.conformance.wire.methods import (
    PROTOCOL_VERSION,
    Handshake,
    Method,
    Opened,
    methods_for,
)

DEFAULT_TIMEOUT_S: Final = 60.0
STDERR_LINES_KEPT: Final = 40
EXIT_WAIT_S: Final = 10.0
_LIVE: weakref.WeakSet[Connection] = weakref.WeakSet()


class Connection:
    """One implementation process and the JSON-RPC calls in flight to it."""

    def __init__(self, command: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.command = command
        self.timeout_s = timeout_s
        try:
            self.process = subprocess.Popen(
                shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
        except OSError as exc:
            raise ProtocolFailure(f"exec:{command}: cannot start it: {exc}") from exc
        self._ids = itertools.count(1)
        self._pending: dict[int, list[Any]] = {}
        self._threads: dict[int, int] = {}
        self._lock = threading.Lock()
        self._broken: str | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
        self._stderr_lock = threading.Lock()
        self._stderr_partial = b""
        self._readers = [threading.Thread(target=self._read_responses, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()
        _LIVE.add(self)

    # -- calls ----------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send one request from the calling thread; its result, or raise what its error
        stands for."""
        done = threading.Event()
        slot: list[Any] = [done, None]
        with self._lock:
            if self._broken is not None:
                raise self._failure(self._broken)
            request_id = next(self._ids)
            self._pending[request_id] = slot
            thread = self._threads.setdefault(threading.get_ident(), len(self._threads))
            line = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                               "params": params or {}, "thread": thread},
                              ensure_ascii=True, allow_nan=False) + "\n"
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(line.encode("ascii"))
                self.process.stdin.flush()
            except OSError:
                self._pending.pop(request_id, None)
                self._break_locked(f"{method}: the process no longer reads its stdin")
                raise self._failure(self._broken or "") from None
        if not done.wait(self.timeout_s):
            self.kill(f"no answer to {method} within {self.timeout_s:g} s (the per-call "
                      "timeout, --store-exec-timeout)")
        response = slot[1]
        if not isinstance(response, dict):
            raise self._failure(str(response))
        if "error" in response:
            faults.raise_error(method, response["error"])
        if "result" not in response:
            raise self._failure(f"{method}: a response with neither result nor error: {response!r}")
        return response["result"]

    # -- the process ----------------------------------------------------------------

    def _read_responses(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            try:
                response = json.loads(raw)
                request_id = response["id"]
                slot = self._pending.pop(request_id)
            except (ValueError, KeyError, TypeError):
                text = raw.decode("utf-8", "replace").rstrip("\n")
                self.kill(f"wrote a line to stdout that is not a JSON-RPC response to a "
                          f"request in flight: {text[:200]!r}")
                return
            slot[1] = response
            slot[0].set()
        code = self.process.wait()
        with self._lock:
            self._break_locked(f"the implementation process exited (code {code})")

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        descriptor = self.process.stderr.fileno()
        while True:
            select.select([descriptor], [], [])
            with self._stderr_lock:
                if not self._take_stderr(descriptor):
                    return

    def _take_stderr(self, descriptor: int) -> bool:
        """Move what the pipe holds now into the kept lines; False at its end.  Called with
        the lock held, by the reader and by :meth:`_failure`, so that a line the process
        wrote before it broke the protocol is in the failure however late the reader ran."""
        while select.select([descriptor], [], [], 0)[0]:
            chunk = os.read(descriptor, 65536)
            if not chunk:
                if self._stderr_partial:
                    self._stderr.append(self._stderr_partial.decode("utf-8", "replace"))
                    self._stderr_partial = b""
                return False
            *lines, self._stderr_partial = (self._stderr_partial + chunk).split(b"\n")
            self._stderr.extend(line.decode("utf-8", "replace") for line in lines)
        return True

    def _break_locked(self, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
        for slot in self._pending.values():
            slot[1] = self._broken
            slot[0].set()
        self._pending.clear()

    def kill(self, reason: str) -> None:
        """End the process at once; calls in flight and later fail with ``reason``."""
        with self._lock:
            self._break_locked(reason)
        if self.process.poll() is None:
            self.process.kill()

    def _failure(self, reason: str) -> ProtocolFailure:
        if self.process.poll() is not None:
            self._readers[1].join(1.0)
        assert self.process.stderr is not None
        with self._stderr_lock, suppress(OSError, ValueError):
            self._take_stderr(self.process.stderr.fileno())
        tail = "\n".join(self._stderr) or "(nothing)"
        return ProtocolFailure(f"exec:{self.command}: {reason}\n"
                               f"--- the implementation's stderr, last lines ---\n{tail}")

    def close(self) -> None:
        """Close stdin (the implementation's cue to exit) and wait for the exit."""
        _LIVE.discard(self)
        if self.process.stdin is not None and not self.process.stdin.closed:
            with suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill(f"did not exit within {EXIT_WAIT_S:g} s of its stdin closing")
            self.process.wait()
        for reader in self._readers:
            reader.join(EXIT_WAIT_S)


@atexit.register
def _kill_leftovers() -> None:
    for connection in list(_LIVE):
        connection.kill("the harness exited")


# -- the store ----------------------------------------------------------------------


class RemoteStore:
    """An opened store whose operations are calls to its process; its class gets one
    method per wire method the spec and the claimed capabilities offer."""

    def __init__(self, connection: Connection, spec: str, opened: Opened) -> None:
        self._connection = connection
        self._spec = spec
        self._closed = False
        if opened.sql_dialect is not None:
            self.sql_dialect = opened.sql_dialect

    def _invoke(self, method: Method, signature: inspect.Signature, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        params = {}
        # The signature lists ``self`` and then ``method.params`` in their order.
        for param, value in zip(method.params, list(bound.arguments.values())[1:], strict=True):
            try:
                params[param.name] = encode(value, param.hint, param.name)
            except Unrepresentable as exc:
                raise ValidationError(self._spec, method.attribute,
                                      f"{exc} (a value the wire cannot carry)") from None
        result = self._connection.call(method.name, params)
        try:
            return decode(result, method.result, "result")
        except WireTypeError as exc:
            raise self._connection._failure(
                f"{method.name} returned something that is not {describe(method.result)}: "
                f"{exc}") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._connection.call("store.close")
        except ProtocolFailure:
            pass
        finally:
            self._connection.close()

    def transport_echo(self) -> None:
        """One empty round trip (``storecheck.echo``): the wire's own cost per call, which
        the latency checks subtract."""
        self._connection.call("storecheck.echo", {"value": 0})


class _Atomic(RemoteStore):
    """``atomic()`` for a store that claims ``transactions``."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        self._connection.call("store.begin")
        try:
            yield
        except BaseException:
            self._connection.call("store.rollback")
            raise
        self._connection.call("store.commit")


def _operation(method: Method, signature: inspect.Signature) -> Any:
    def operation(self: RemoteStore, *args: Any, **kwargs: Any) -> Any:
        return self._invoke(method, signature, args, kwargs)

    operation.__name__ = method.attribute
    operation.__doc__ = method.summary
    operation.__signature__ = signature  # type: ignore[attr-defined]
    return operation


_CLASSES: dict[tuple[str, frozenset[str], frozenset[str] | None], type[RemoteStore]] = {}


def store_class(spec: str, capabilities: frozenset[str],
                operations: frozenset[str] | None = None) -> type[RemoteStore]:
    """The store class of ``spec`` with the methods ``capabilities`` promise, so that a
    check asking ``isinstance(store, Migratable)`` gets the claimed answer; of the spec's
    operations, those in ``operations`` only where the implementation names them."""
    key = (spec, capabilities, operations)
    if key not in _CLASSES:
        namespace: dict[str, Any] = {}
        for method in methods_for(spec):
            if method.name.startswith("storecheck.") or method.attribute in (
                    "close", "begin", "commit", "rollback"):
                continue
            if method.capability is not None and method.capability not in capabilities:
                continue
            if (operations is not None and method.capability is None
                    and method.attribute not in operations):
                continue
            namespace[method.attribute] = _operation(method, _signature(method))
        base = _Atomic if caps.TRANSACTIONS in capabilities else RemoteStore
        _CLASSES[key] = type(f"Remote_{spec}", (base,), namespace)
    return _CLASSES[key]


def _signature(method: Method) -> inspect.Signature:
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    for param in method.params:
        kind = (inspect.Parameter.KEYWORD_ONLY if param.name == "fail_after_statements"
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        default = inspect.Parameter.empty if param.required else param.default
        parameters.append(inspect.Parameter(param.name, kind, default=default))
    return inspect.Signature(parameters)


# -- the backend --------------------------------------------------------------------


@dataclass(frozen=True)
class ExecBackend(FileBackend):
    """A backend implemented by a program that speaks the wire protocol on stdin/stdout.

    Locations are file paths in an empty directory of their own; what the program keeps
    there is its business.  Picklable, so worker processes start their own processes.
    """

    command: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def open(self, spec: str, location: str, *, schema_version: int | None = LATEST) -> Any:
        connection = _started(self.command, self.timeout_s)
        try:
            opened = decode(connection.call("storecheck.open", {
                "spec": spec, "location": location, "schema_version": schema_version}),
                Opened, "result")
        except BaseException:
            connection.kill("the store did not open")
            connection.close()
            raise
        return store_class(spec, self.capabilities, self.operations)(connection, spec, opened)


_SPARES: dict[tuple[str, float], Connection | None] = {}
_SPARES_LOCK = threading.Lock()


def _started(command: str, timeout_s: float) -> Connection:
    """A started process for a new store.  From the second open in this harness process on,
    the next one is started at once and waits, unused, on its stdin: an implementation
    that takes a while to start (an interpreter loading its modules) then does so while
    the check works, not while it waits."""
    key = (command, timeout_s)
    with _SPARES_LOCK:
        seen_before = key in _SPARES
        spare = _SPARES.get(key)
        _SPARES[key] = Connection(command, timeout_s=timeout_s) if seen_before else None
    if spare is not None and spare.process.poll() is None:
        return spare
    return Connection(command, timeout_s=timeout_s)


def exec_backend(command: str, *, name: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> ExecBackend:
    """Start ``command`` for the handshake and describe the backend it claims to be."""
    connection = Connection(command, timeout_s=timeout_s)
    try:
        claim = decode(connection.call("storecheck.handshake"), Handshake, "result")
    except WireTypeError as exc:
        raise connection._failure(f"storecheck.handshake: {exc}") from None
    finally:
        connection.close()
    if claim.protocol != PROTOCOL_VERSION:
        raise ProtocolFailure(f"exec:{command}: speaks protocol {claim.protocol}; this "
                              f"storecheck speaks {PROTOCOL_VERSION}")
    # Whatever the implementation's own engine does, the harness reaches it through another
    # process: its time off this thread's CPU is that process's, so it is never in_process.
    return ExecBackend(name=name or f"exec-{claim.name}", specs=frozenset(claim.specs),
                       capabilities=frozenset(claim.capabilities) - {caps.IN_PROCESS},
                       operations=None if claim.operations is None else frozenset(
                           claim.operations),
                       command=command,
                       timeout_s=timeout_s)
