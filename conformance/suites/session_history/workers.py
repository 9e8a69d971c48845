"""Code run inside spawned worker processes by the session_history checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storecheck.conformance.checks import run_threads, wait_until
from storecheck.conformance.errors import StoreError
from storecheck.conformance.specs.session_history import SPEC, NewMessage
from storecheck.fixtures.session_history import SessionFactory

T0 = datetime(2025, 1, 13, tzinfo=UTC)


def hammer(backend: Any, location: str, worker: int, threads: int, items: int,
           shared_session: str, start_at: float) -> dict[str, Any]:
    """Threads creating sessions and messages in one workspace, and adding to shared counters."""
    store = backend.open(SPEC, location)
    wait_until(start_at)
    errors: list[str] = []
    created: list[str] = []

    def run(thread: int) -> None:
        factory = SessionFactory(seed=worker * 100 + thread)
        try:
            workspace = store.get_or_create_workspace("/shared/workspace", T0)
            for n in range(items):
                new = factory.session(workspace.id, instances=2, messages=1)
                new = type(new)(**{**vars(new), "id": f"w{worker}-t{thread}-{n}"})
                store.create_session(new)
                created.append(new.id)
                store.append_message(new.id, NewMessage(
                    f"w{worker}-t{thread}-{n}-extra", "assistant", "more",
                    T0 + timedelta(seconds=n)))
                store.record_instance_stats(shared_session, 1, 2, 3)
        except StoreError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # the check reports any leak, e.g. a raw driver error
            errors.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")

    run_threads(run, [(t,) for t in range(threads)])
    store.close()
    return {"created": created, "errors": errors}


def write_until_killed(backend: Any, location: str, instances: int) -> None:
    """Create sessions with many instances forever; the parent kills this process."""
    store = backend.open(SPEC, location)
    factory = SessionFactory(seed=7)
    workspace = store.get_or_create_workspace("/crash/workspace", T0)
    n = 0
    while True:
        store.create_session(factory.session(workspace.id, instances=instances, messages=3))
        n += 1
