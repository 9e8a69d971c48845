"""Hooks a backend package can implement (in a ``pytest11`` plugin or a conftest).

They are pytest hooks, registered on pytest's own pluggy manager, so an
implementation is a plain function named after the hook in any plugin
module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from storecheck.conformance.backend import Backend
    from storecheck.conformance.latency import LatencyTarget


@pytest.hookspec
def pytest_storecheck_register_backends() -> list[Backend]:
    """Return backends to make selectable with ``--store=NAME``.

    Called once per run, before ``--store`` is resolved; every result is
    collected.  A name registered here shadows an entry point of the same
    name.  Backends with the ``multi_process`` capability must pickle, since
    worker processes receive them that way.
    """
    raise NotImplementedError  # pragma: no cover - hookspec


@pytest.hookspec
def pytest_storecheck_modify_capabilities(backend: Backend, capabilities: set[str]) -> None:
    """Add or remove capability names of ``backend`` for this run, in place.

    For example, turn off ``multi_process`` on a CI machine where the
    backend's server allows one connection.  Called once per selected
    backend, after resolution.
    """
    raise NotImplementedError  # pragma: no cover - hookspec


@pytest.hookspec
def pytest_storecheck_modify_targets(spec: str, targets: list[LatencyTarget]) -> None:
    """Replace entries of a spec's latency table for this run, in place.

    ``targets[i] = dataclasses.replace(targets[i], target_ms=...)`` tightens or
    relaxes one operation (``--latency-scale`` scales them all); the list must
    keep its length and order, since each entry stays paired with its workload.
    Called once per spec when the latency checks are collected.
    """
    raise NotImplementedError  # pragma: no cover - hookspec


@pytest.hookspec
def pytest_storecheck_report(report: dict[str, Any], config: pytest.Config) -> None:
    """Inspect or extend the JSON report in place before it is written.

    Called once at the end of a run on the controlling process, whether or not
    ``--store-report`` was given, so a plugin can ship results elsewhere.
    """
    raise NotImplementedError  # pragma: no cover - hookspec
