"""``--store-maxfail=N``: a backend that has failed N checks has its later checks skipped.

A backend far from the spec fails hundreds of checks, and each may search and shrink for
seconds; the first few failures are what its authors read.  Counted per backend (and, under
pytest-xdist, per worker, so a run may see up to N failures on each worker)."""

from __future__ import annotations

import pytest

FAILED_KEY = pytest.StashKey[dict[str, int]]()


def validate(config: pytest.Config) -> None:
    """A usage error naming the flag when its value is negative."""
    value: int = config.getoption("store_maxfail")
    if value < 0:
        raise pytest.UsageError(f"--store-maxfail={value}: must be 0 (no limit) or more")


def count_failure(config: pytest.Config, backend: str) -> None:
    failed = config.stash.setdefault(FAILED_KEY, {})
    failed[backend] = failed.get(backend, 0) + 1


def skip_if_spent(config: pytest.Config, backend: str) -> None:
    """Skip the check about to run when its backend has used up its failures."""
    most = config.getoption("store_maxfail")
    failed = config.stash.get(FAILED_KEY, {}).get(backend, 0)
    if most and failed >= most:
        pytest.skip(f"backend {backend!r} has failed {failed} checks, the most "
                    f"--store-maxfail={most} lets a backend fail before its later checks "
                    "are skipped")
