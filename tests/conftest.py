from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import numpy  # noqa: F401
import pytest

from tests.installed import Installed, installed

# pytester's in-process runs drop the modules first imported during them, and numpy's
# C core cannot load twice in one process: the telemetry store imports numpy lazily, so it
# is loaded here, before any in-process run.  So is every module of the package but the
# suites (which each run collects itself): a module one run imported and dropped, imported
# again by the next, gives records whose classes the modules kept from before do not know.
# This file is loaded by the main job too (pytest finds it from the tree's root).
for _package in ("conformance", "plugin", "fixtures", "reference_impl"):
    _root = importlib.import_module(f"storecheck.{_package}")
    for _module in pkgutil.walk_packages(_root.__path__, f"{_root.__name__}."):
        if ".suites" in _module.name or _module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(_module.name)
        except ModuleNotFoundError as _missing:
            # An optional driver (psycopg, for the postgres backend) not installed: the
            # main job runs from `pip install .`, which leaves the extras out.
            if (_missing.name or "").startswith("storecheck"):
                raise

MUTATION_RESULTS: dict[str, bool] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = MUTATION_RESULTS


_RESULTS = pytest.StashKey[dict[str, bool]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow self-tests (each a conformance run in a subprocess) first, the longest of
    them (marked ``longest``: the largest mutant groups, minutes each) at the very front,
    otherwise in their file's order: the workers (which steal work from each other) start
    the longest runs first and finish together, instead of one picking up a long run when
    the other is nearly done."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None,
                                 item.get_closest_marker("longest") is None))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each mutant group's per-mutant verdicts (``mutant_outcomes``: name -> caught), for the
    mutation score at the end of the run."""
    for name, value in report.user_properties:
        if name == "mutant_outcomes" and report.when == "call" and isinstance(value, dict):
            MUTATION_RESULTS.update({str(mutant): bool(ok) for mutant, ok in value.items()})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MUTATION_RESULTS:
        return
    caught = sum(MUTATION_RESULTS.values())
    terminalreporter.section("mutation score")
    for name, ok in sorted(MUTATION_RESULTS.items()):
        if not ok:
            terminalreporter.write_line(f"MISSED {name}")
    terminalreporter.write_line(
        f"mutation score: {caught}/{len(MUTATION_RESULTS)} mutants caught "
        f"({100 * caught / len(MUTATION_RESULTS):.0f}%)"
    )


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Skip (with the backend's reason) where PostgreSQL cannot run; with
    STORECHECK_REQUIRE_PG=1 the backend raises instead, so CI cannot skip."""
    from storecheck.reference_impl.postgres.backend import POSTGRES_BACKEND

    reason = POSTGRES_BACKEND.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_scratch(postgres_available: None) -> Iterator[Any]:
    """An autocommit connection to a new schema holding the runtime functions; dropped after."""
    import psycopg
    from storecheck.reference_impl.postgres import server
    from storecheck.reference_impl.postgres.migrator import RUNTIME_SQL

    database = server.run_database()
    schema = database.new_schema("scratch")
    with psycopg.connect(server.location_conninfo(database.conninfo, schema),
                         autocommit=True) as conn:
        conn.execute(RUNTIME_SQL)
        yield conn
    database.drop_schema(schema)


@pytest.fixture(scope="session")
def installed_storecheck(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Installed:
    """storecheck built into an sdist and a wheel and the wheel installed in a fresh venv,
    once for the whole run (pytest-xdist's workers share the base temp's parent)."""
    base = tmp_path_factory.getbasetemp()
    return installed((base if worker_id == "master" else base.parent) / "installed-storecheck")
