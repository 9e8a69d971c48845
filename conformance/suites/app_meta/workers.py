"""Code run inside spawned worker processes by the app_meta checks."""

from __future__ import annotations

from typing import Any

from storecheck.conformance.checks import wait_until
from storecheck.conformance.specs.app_meta import SPEC, NewEvent
from storecheck.fixtures.app_meta import T0


def stream_events(worker: int, batch: int, version: int) -> list[NewEvent]:
    """The ``batch`` events a writer appends after ``version``, named after both."""
    return [NewEvent(f"w{worker}-{version + n + 1}", "Appended",
                     f'{{"worker": {worker}, "n": {version + n + 1}}}', T0)
            for n in range(batch)]


def append_streams(store: Any, worker: int, batches: int, batch: int) -> list[str]:
    """``batches`` appends of ``batch`` events to the worker's own aggregate, each at the
    version the previous one reached; the errors met (any error fails the check)."""
    errors = []
    version = 0
    for _ in range(batches):
        try:
            version = store.append_events(f"stream-{worker}", "Stream", version,
                                          stream_events(worker, batch, version))[-1].sequence_number
        except Exception as exc:  # reported, never swallowed
            errors.append(f"writer {worker}: {type(exc).__name__}: {exc}")
            version = store.aggregate_version(f"stream-{worker}")
    return errors


def append_streams_in_process(backend: Any, location: str, worker: int, batches: int,
                              batch: int, start_at: float) -> list[str]:
    store = backend.open(SPEC, location)
    wait_until(start_at)
    try:
        return append_streams(store, worker, batches, batch)
    finally:
        store.close()


def append_until_killed(backend: Any, location: str, started: Any) -> None:
    """Append batches of 100 to the ``killed`` stream, signalling after the first; the
    parent kills this process while it appends one."""
    store = backend.open(SPEC, location)
    version = 0
    while True:
        version = store.append_events("killed", "Stream", version,
                                      stream_events(0, 100, version))[-1].sequence_number
        started.set()


def blocks_until_killed(backend: Any, location: str, round_: int, started: Any) -> None:
    """``atomic()`` blocks that each append an event and put a setting, both named after the
    round and the block, until the parent kills this process; signalling after the first."""
    store = backend.open(SPEC, location)
    block = 0
    while True:
        name = f"killed-{round_}-{block}"
        with store.atomic():
            store.append_events(name, "Block", 0, [NewEvent(f"{name}-e", "Written", "{}", T0)])
            store.put_setting(name, block, T0)
        block += 1
        started.set()
