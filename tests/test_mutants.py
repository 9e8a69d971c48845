"""Every check's power, shown on deliberately broken stores; and no false alarm on correct ones."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
from pathlib import Path
from typing import NamedTuple

import jsonschema
import pytest
from storecheck.conformance.hermitage import ANOMALIES, ENGINES

from tests.installed import Installed
from tests.suite_runner import report_schema, run_suite

BENCHMARK_ONLY = frozenset({"missing_indexes"})
"""Mutant modules measured by a benchmark script, not by this file: 81 stores without one
index each, whose loss only a loaded timing shows (``tests/index_power_benchmark.py``)."""
MUTANT_MODULES = [importlib.import_module(f"tests.mutants.{info.name}")
                  for info in pkgutil.iter_modules([str(Path(__file__).parent / "mutants")])
                  if info.name not in BENCHMARK_ONLY]


class Mutant(NamedTuple):
    module: str
    name: str
    spec: str
    category: str
    """The category whose checks must catch it."""

    @property
    def ref(self) -> str:
        return f"tests.mutants.{self.module}:{self.name}"


CASES = [Mutant(module.__name__.rsplit(".", 1)[1], name, store.spec, category)
         for module in MUTANT_MODULES
         for name, (store, category) in module.MUTANTS.items()]


def _group(mutant: Mutant) -> str:
    """Mutants on PostgreSQL need its server, so they run apart from the SQLite ones."""
    return f"postgres-{mutant.category}" if mutant.module == "postgres" else mutant.category


GROUPS: dict[str, list[Mutant]] = {}
for _mutant in CASES:
    GROUPS.setdefault(_group(_mutant), []).append(_mutant)
"""The mutants one category must catch run as the backends of one suite run: one
interpreter start and one collection for the group (names are unique across modules), each
mutant judged on its own rows."""

pytestmark = pytest.mark.slow

CRASH = re.compile(r"Can't pickle|takes \d+ positional arguments? but \d+ (?:was|were) given|"
                   r"No such process|not enough values to unpack|unexpected keyword argument|"
                   r"super\(type, obj\)|"
                   r"builtins\.(?:TypeError|NameError|AttributeError|ImportError)")
"""Failures that are a crash of Python code, the mutant's or the harness's, not a finding."""


SPECS = ("session_history", "conversations", "extraction", "telemetry", "app_meta")


def served_sqlite(python: Path | str) -> str:
    """The reference served through the wire protocol, one implementation process per store."""
    return f"exec:{python} -m storecheck.conformance.wire serve sqlite"

TIMED_SPEC = "session_history"
"""The spec whose latency rows run in the whole-suite runs on SQLite and PostgreSQL, which
proves the machinery that times a store in process and a server's store.  Every spec's
rows run, enforced, on SQLite in the main job (README command 1, which CI runs beside
these tests); every floor's SQL runs on the reference's file in
``tests/test_latency.py``; the complexity mutants are caught by the latency group here."""

WHOLE_SUITE_RUNS = [(backend, spec) for backend in ("served-sqlite", "postgres", "memory")
                    for spec in SPECS] + [("sqlite", TIMED_SPEC), ("sqlite-split", "app_meta")]
"""Every spec on every reference backend, seed 001's production layout, and the reference
served through the wire protocol.  The in-process reference runs one spec here (its floors
and isolation table are asserted on it): every spec runs on it in full, at the default
profile and with its latency enforced, as README command 1, which CI runs beside these
tests from the same wheel, so a second run of the same suites here only cost CI time.
Served, the latency checks are left out (the in-process run times the store itself);
served and on PostgreSQL, the run takes the quick profile: every check, fewer examples.
Served, a suite takes two to four times as long (a process start per opened store, a round
trip per call); what the served run proves is that each check crosses the wire, while the
default profile's search power on the same reference is the in-process run's."""


def test_every_mutant_store_reaches_a_worker_process() -> None:
    """Checks that start worker processes send them the store's class by pickling: a class
    a worker cannot find by its name would fail those checks for that reason alone."""
    for module in MUTANT_MODULES:
        for name, (store, _) in module.MUTANTS.items():
            assert pickle.loads(pickle.dumps(store)) is store, f"{module.__name__}:{name}"


@pytest.mark.parametrize(("backend", "spec"), WHOLE_SUITE_RUNS,
                         ids=[f"{backend}-{spec}" for backend, spec in WHOLE_SUITE_RUNS])
def test_correct_backends_pass_the_whole_suite(
    tmp_path: Path, backend: str, spec: str, request: pytest.FixtureRequest,
    installed_storecheck: Installed,
) -> None:
    """One spec's whole suite on one correct backend per test, so that the project's
    parallel workers share the longest runs (a backend's four suites are ten minutes on
    PostgreSQL).  Each runs from the installed wheel in an empty directory, as a user's
    run would: a module the wheel lacks fails here, whatever the editable install has."""
    if backend == "postgres":
        request.getfixturevalue("postgres_available")
    # Timings are the benchmark's business (the latency table prints them); here the
    # latency checks must run and report, but a noisy CI machine must not fail them.
    # On PostgreSQL each store has its own server process, and on a two-core machine one
    # store's process may run 3x faster than another's for a whole run (measured: the same
    # get_session 0.22 ms on one store, 0.75 ms on the other, either way round), which a
    # growth ratio between two stores cannot tell from growth.  There the scaling rows could
    # only report, so they are left out; the SQLite run enforces them and the complexity
    # mutants are killed.  The latency rows could only report too.  On both, the latency
    # and scaling rows run for one spec (TIMED_SPEC says why that is enough); seed 001's
    # split layout is timed here alone, so its run keeps them.
    timing = ["--scaling=off"] if backend == "postgres" else []
    if spec != TIMED_SPEC and backend != "sqlite-split":
        timing += ["-m", "not latency"]
    # PostgreSQL runs every check at the quick profile: what it proves is that the port
    # passes each of them; the default profile's search depth is the SQLite run's.
    profile = ["--store-profile=quick"] if backend == "postgres" else []
    if backend == "served-sqlite":
        run = run_suite(tmp_path, served_sqlite(installed_storecheck.python), f"--store-spec={spec}",
                        "-m", "not latency", "--store-profile=quick", installed=installed_storecheck)
    else:
        run = run_suite(tmp_path, backend, "--latency=warn", f"--store-spec={spec}", *timing,
                        *profile, installed=installed_storecheck)
    assert run.returncode == 0, run.output[-5000:]
    assert not run.failed_categories()
    jsonschema.validate(run.report, report_schema())
    ran = {row["category"] for row in run.report["results"]
           if row["passed"] and row["spec"] == spec}
    expected = {"model", "acid", "fk", "badinput", "concurrency", "isolation"}
    if backend == "served-sqlite":
        expected.add("migration")
    assert expected <= ran, (spec, ran)
    if backend == "sqlite" and spec == TIMED_SPEC:
        # Every floor the spec's latency table defines runs on the reference: a floor whose
        # SQL fails is reported as no floor, which must stay the case of foreign schemas.
        table_module = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
        floored = {target.operation for target, _, floor in table_module.TARGETS if floor}
        unfloored = {row["operation"] for row in run.report["latency"]
                     if row["spec"] == spec and row["floor_p50_ms"] is None}
        assert not floored & unfloored, f"floors that did not run: {sorted(floored & unfloored)}"
    if backend in ("sqlite", "postgres"):
        (table,) = [t for t in run.report["isolation"] if t["backend"] == backend]
        assert len(table["cells"]) == len(ENGINES[table["engine"]].levels) * len(ANOMALIES)
        assert all(cell["verdict"] == cell["published"] for cell in table["cells"]), table


LONGEST_GROUPS = frozenset({"acid", "concurrency", "latency", "badinput", "model"})
"""The groups whose run takes half a minute to a minute (measured on two cores, each
mutant stopped at its first failure): started first, so that neither worker is left with
one at the end."""


@pytest.mark.parametrize("group", [
    pytest.param(group, id=group, marks=[pytest.mark.longest] if group in LONGEST_GROUPS else [])
    for group in GROUPS])
def test_each_mutant_is_caught_in_its_category(
    tmp_path: Path, record_property: pytest.RecordProperty, group: str,
    request: pytest.FixtureRequest,
) -> None:
    mutants = GROUPS[group]
    if group.startswith("postgres-"):
        request.getfixturevalue("postgres_available")
    category = mutants[0].category
    record_property("mutants", ", ".join(f"{m.spec}/{m.name}" for m in mutants))
    # A mutant's first failure in the category is its catch: its later checks are skipped.
    run = run_suite(tmp_path, ",".join(m.ref for m in mutants), "-m", category,
                    "--store-maxfail=1")
    assert run.returncode == 1, run.output[-3000:]
    names = {backend["ref"]: backend["name"] for backend in run.report.get("backends", [])}
    escaped = []
    caught: dict[str, bool] = {}
    for mutant in mutants:
        backend = names.get(mutant.ref)
        failed = {row["category"] for row in run.report["results"]
                  if row["backend"] == backend and row["failed"]}
        stray = {f["spec"] for f in run.report["failures"] if f["backend"] == backend} - {mutant.spec}
        # A catch is what the mutant does, not its own code or the harness crashing first
        # (a class a worker cannot unpickle, an override whose signature went stale).
        findings = [f["message"] for f in run.report["failures"]
                    if f["backend"] == backend and f["category"] == category]
        stated = not findings or not all(map(CRASH.search, findings))
        caught[f"{mutant.module}/{mutant.name}"] = category in failed and stated and not stray
        if category not in failed or not stated or stray:
            escaped.append(f"{mutant.module}/{mutant.name} ({mutant.spec}): failed in "
                           f"{sorted(failed)}, other specs {sorted(stray)}, findings "
                           f"{findings[:2]}")
    record_property("mutant_outcomes", caught)
    assert not escaped, "\n".join(escaped) + "\n" + run.output[-3000:]


FEED_CHECKS = ("test_a_processor_tailing_the_feed_sees_every_event_of_writer_processes_once_in_order",
               "test_a_processor_tailing_the_feed_sees_every_event_of_writer_threads_once_in_order",
               "test_a_backup_beside_writers_is_one_moment")


def test_a_feed_that_repeats_its_after_item_fails_each_feed_check_instead_of_hanging(
    tmp_path: Path,
) -> None:
    """Each check that pages through the feed ends with a verdict naming the feed's fault,
    where it used to read the same page until the run was killed."""
    run = run_suite(tmp_path, "tests.mutants.app_meta_events:feed_after_inclusive",
                    "--store-spec=app_meta", "-k", " or ".join(FEED_CHECKS))
    assert run.returncode == 1, run.output[-3000:]
    failed = {failure["nodeid"].split("::")[-1].split("[")[0]: failure["message"]
              for failure in run.report["failures"]}
    assert set(failed) == set(FEED_CHECKS), run.output[-3000:]
    assert all("to hand only positions past" in message for message in failed.values()), failed
