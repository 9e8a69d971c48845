"""``protocol --check COMMAND``: one valid call of every operation, each reply checked.

Before a whole suite run, an implementer in another language wants to know that every
method answers in the protocol's shapes.  The check starts the implementation, opens a
store of each spec it names, prepares the records the calls need (through the store's own
operations), and makes the bad-input sweep's valid call of every operation once: the
reply is decoded by the same codec the harness uses, which is the OpenRPC document's
schemas, so a wrong field is named by its path.  A spec error for a valid call is
reported too (the call is valid: the store should take it).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storecheck.conformance.errors import StoreError
from storecheck.conformance.wire.client import exec_backend
from storecheck.conformance.wire.faults import ImplementationError, ProtocolFailure
from storecheck.conformance.wire.methods import methods_for


@dataclass(frozen=True)
class Verdict:
    method: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"ok    {self.method}" if self.ok else f"WRONG {self.method}: {self.detail}"


def check_server(command: str, specs: Sequence[str] = (),
                 report: Callable[[str], None] = print) -> int:
    """Check every operation of each of ``specs`` (default: every spec the server
    implements) on the implementation ``command`` starts; 0 when every reply is right."""
    try:
        backend = exec_backend(command)
    except ProtocolFailure as exc:
        report(f"WRONG storecheck.handshake: {exc}")
        return 1
    wanted = list(specs) or sorted(backend.specs)
    unknown = sorted(set(wanted) - backend.specs)
    if unknown:
        report(f"the server implements {', '.join(sorted(backend.specs))}, not "
               f"{', '.join(unknown)}")
        return 2
    wrong = 0
    for spec in wanted:
        with tempfile.TemporaryDirectory() as workdir:
            for verdict in _spec_verdicts(backend, spec, Path(workdir)):
                report(verdict.line())
                wrong += not verdict.ok
    report(f"{wrong} wrong" if wrong else "every reply is right")
    return 1 if wrong else 0


def _spec_verdicts(backend: Any, spec: str, workdir: Path) -> list[Verdict]:
    suite = importlib.import_module(f"storecheck.conformance.suites.{spec}.test_badinput")
    try:
        store = backend.open(spec, backend.new_location(spec, workdir))
    except (ProtocolFailure, ImplementationError, StoreError) as exc:
        return [Verdict("storecheck.open", False, str(exc))]
    try:
        try:
            calls, _ = suite.valid_calls(store)
        except (ProtocolFailure, ImplementationError, StoreError, AttributeError) as exc:
            return [Verdict(f"{spec} (preparing the records the calls need)", False,
                            f"{type(exc).__name__}: {exc}")]
        # An operation without arguments has no valid call in the sweep: it is called bare.
        bare = {method.attribute: _no_arguments for method in methods_for(spec)
                if method.name.startswith(f"{spec}.") and not method.params
                and method.attribute not in calls}
        verdicts = [_verdict(store, spec, operation, valid)
                    for operation, valid in {**calls, **bare}.items()]
    finally:
        store.close()
    # An operation whose valid call needs a store that holds nothing (an import) gets one.
    for operation, valid in getattr(suite, "EMPTY_STORE_CALLS", {}).items():
        empty = backend.open(spec, backend.new_location(spec, workdir / operation))
        try:
            verdicts.append(_verdict(empty, spec, operation, valid))
        finally:
            empty.close()
    return verdicts


def _verdict(store: Any, spec: str, operation: str, valid: Callable[[int], Any]) -> Verdict:
    method = f"{spec}.{operation}"
    call = getattr(store, operation, None)
    if call is None:
        return Verdict(method, True, "not implemented (the handshake says so)")
    try:
        call(**valid(1))
    except ProtocolFailure as exc:
        return Verdict(method, False, str(exc))
    except ImplementationError as exc:
        return Verdict(method, False, f"answered with an error none of the spec's: {exc}")
    except StoreError as exc:
        return Verdict(method, False, f"refused a valid call with {type(exc).__name__}: {exc}")
    return Verdict(method, True)


def _no_arguments(n: int) -> dict[str, Any]:
    return {}
