"""Errors on the wire: the spec's errors as JSON-RPC error objects, and the ways an
implementation process can fail the harness (death, silence, garbage)."""

from __future__ import annotations

from typing import Any, Final

from storecheck.conformance.errors import (
    Busy,
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    NotFound,
    StorageCause,
    StorageFailed,
    StoreError,
    ValidationError,
)

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
STORE_ERROR: Final = -32000
"""The code of every spec error; ``data.error`` names which."""

SPEC_ERRORS: Final[dict[str, type[StoreError]]] = {
    cls.__name__: cls for cls in (NotFound, ValidationError, Conflict, Busy,
                                  ConstraintViolation, StorageFailed)
}
CONSTRAINT_KINDS: Final[dict[str, ConstraintKind]] = {kind.name: kind for kind in ConstraintKind}
STORAGE_CAUSES: Final[dict[str, StorageCause]] = {cause.name: cause for cause in StorageCause}


class ProtocolFailure(Exception):
    """The implementation process broke the protocol: it died, did not answer in time,
    wrote something that is not a JSON-RPC response, or answered with the wrong shape.
    The message ends with what the process wrote to stderr."""


class ImplementationError(Exception):
    """The implementation answered with an error that is none of the spec's errors (an
    uncaught exception on its side, a method it lacks): what an in-process store raising
    ``TypeError`` would be."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.data = error.get("data")
        super().__init__(f"{method}: JSON-RPC error {self.code}: {error.get('message')}"
                         + (f" ({self.data})" if self.data is not None else ""))


def error_object(exc: BaseException) -> dict[str, Any]:
    """The JSON-RPC error object for an exception raised by a store operation."""
    if isinstance(exc, StoreError):
        # A store's own subclass of a spec error crosses as the spec error it is.
        spec_error = next(cls for cls in type(exc).__mro__ if cls.__name__ in SPEC_ERRORS)
        data: dict[str, Any] = {"error": spec_error.__name__, "spec": exc.spec,
                                "operation": exc.operation, "detail": exc.detail}
        if isinstance(exc, ConstraintViolation):
            data["kind"] = exc.kind.name
        if isinstance(exc, StorageFailed):
            data["cause"] = exc.cause.name
        return {"code": STORE_ERROR, "message": str(exc), "data": data}
    return {"code": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}",
            "data": {"exception": type(exc).__name__}}


def raise_error(method: str, error: Any) -> None:
    """Raise what a JSON-RPC error object stands for: the spec error it names, else
    :class:`ImplementationError`; an object of the wrong shape is a :class:`ProtocolFailure`."""
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        raise ProtocolFailure(f"{method}: an error that is not a JSON-RPC error object: {error!r}")
    data = error.get("data")
    name = data.get("error") if isinstance(data, dict) else None
    if error["code"] != STORE_ERROR or name is None:
        raise ImplementationError(method, error)
    cls = SPEC_ERRORS.get(name)
    if cls is None:
        raise ProtocolFailure(f"{method}: data.error {name!r} is none of the spec's errors "
                              f"({', '.join(SPEC_ERRORS)})")
    assert isinstance(data, dict)
    spec, _, operation = method.partition(".")
    spec = str(data.get("spec", spec))
    operation = str(data.get("operation", operation))
    detail = str(data.get("detail", error.get("message", "")))
    if cls is ConstraintViolation:
        kind = CONSTRAINT_KINDS.get(str(data.get("kind")))
        if kind is None:
            raise ProtocolFailure(f"{method}: ConstraintViolation without a data.kind among "
                                  f"{', '.join(CONSTRAINT_KINDS)}: {data!r}")
        raise ConstraintViolation(spec, operation, kind,
                                  detail.removeprefix(f"{kind.value} constraint: "))
    if cls is StorageFailed:
        cause = STORAGE_CAUSES.get(str(data.get("cause")))
        if cause is None:
            raise ProtocolFailure(f"{method}: StorageFailed without a data.cause among "
                                  f"{', '.join(STORAGE_CAUSES)}: {data!r}")
        raise StorageFailed(spec, operation, cause,
                            detail.removeprefix(f"storage failed ({cause.value}): "))
    raise cls(spec, operation, detail)
