"""The pytest plugin: ``--store`` options, suite collection, fixtures and the report.

Without ``--store`` nothing here changes a run: no tests are added, no
fixture is parametrized and nothing is printed.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from storecheck.conformance.backend import lacking_operations
from storecheck.conformance.capabilities import describe
from storecheck.conformance.checks import progress
from storecheck.conformance.latency import Budget
from storecheck.conformance.latency_check import LatencySettings
from storecheck.conformance.scaling import (
    LARGE,
    LARGEST,
    SCALING_MODES,
    SMALL,
    Growth,
    reads_first,
)
from storecheck.conformance.wire.client import DEFAULT_TIMEOUT_S
from storecheck.plugin import hookspecs, known_failures, maxfail, partial, shrinking
from storecheck.plugin.opening import OpenFailures, note_failure, open_checked
from storecheck.plugin.profiles import PROFILES, Profile
from storecheck.plugin.results import (
    CATEGORIES,
    PROPERTY,
    ResultBook,
    build_report,
    isolation_lines,
    known_lines,
    latency_lines,
    scaling_lines,
    terminal_lines,
    write_report,
)
from storecheck.plugin.selection import Plan, Selected, make_plan
from storecheck.reference_impl.postgres.backend import DSN_VARIABLE

SUITES_DIR = Path(importlib.import_module("storecheck.conformance").__file__ or "").parent / "suites"
SUITES_PACKAGE = "storecheck.conformance.suites"
ID_PREFIX = "storecheck"
"""Every check's node id starts ``storecheck/<spec>/<module>.py::``."""
LATENCY_MODES = ("enforce", "warn", "off")
PLAN_KEY = pytest.StashKey[Plan]()
UNAVAILABLE_KEY = pytest.StashKey[dict[str, str | None]]()
BOOK_KEY = pytest.StashKey[ResultBook]()
KNOWN_KEY = pytest.StashKey[tuple[known_failures.KnownFailure, ...]]()
OPEN_FAILURES_KEY = pytest.StashKey[OpenFailures]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("storecheck", "storecheck: store conformance checks")
    group.addoption(
        "--store", metavar="NAME[,NAME...]", default=None,
        help="run the conformance suite against these backends: a name registered in the "
        "'storecheck.backends' entry-point group (sqlite = the reference, memory = the model) "
        "or module:attr naming a backend or a factory returning one (module is imported from "
        "the directory pytest runs in, the rootdir, or the installed packages), or "
        "exec:COMMAND, a program in any language speaking the wire protocol on stdin/stdout "
        "(it runs to the end of the value, commas included; or name it in the "
        "storecheck_exec ini setting)",
    )
    group.addoption(
        "--store-spec", metavar="SPEC[,SPEC...]", default=None,
        help="check only these specs (default: every spec the backend implements)",
    )
    group.addoption(
        "--store-profile", metavar="PROFILE", default="default",
        help=f"how hard to push: {', '.join(PROFILES)} (default: default); scales hypothesis "
        "examples, stateful steps, concurrency sizes and latency samples (thorough also "
        f"times the queries a seed asks about on {LARGEST:,} rows)",
    )
    group.addoption(
        "--store-report", metavar="PATH", default=None, type=Path,
        help="write the conformance results as JSON to PATH (format in the README)",
    )
    group.addoption(
        "--latency", choices=LATENCY_MODES, default="enforce",
        help="latency checks: enforce (a missed target fails, the default), warn (report it "
        "and pass), off (skip them and the scaling checks)",
    )
    group.addoption(
        "--scaling", choices=SCALING_MODES, default="enforce",
        help=f"scaling checks, which time each operation on {SMALL:,} and on {LARGE:,} rows "
        "and hold its growth to the bound in the spec's scaling table: enforce (the default; "
        "a ratio measured in one run holds on any machine, so it stays enforced under "
        "--latency=warn), warn, off",
    )
    group.addoption(
        "--latency-scale", metavar="FACTOR", type=float, default=1.0,
        help="multiply every latency target by FACTOR, for slow machines (default: 1)",
    )
    group.addoption(
        "--store-shrink-seconds", metavar="SECONDS", type=float, default=None,
        help="how long hypothesis may shrink one failure before it is reported as it stands "
        "(default: the profile's, "
        + ", ".join(f"{p.name} {f'{p.shrink_seconds:g} s' if p.shrink else 'no shrinking'}"
                    for p in PROFILES.values()) + ")",
    )
    group.addoption(
        "--store-replay", action="store_true", default=False,
        help="iterate on a known failure fast: each property first replays the failing "
        "example hypothesis saved (in .hypothesis/ under the directory pytest runs in) and "
        "reports it as it is, without shrinking it again",
    )
    group.addoption(
        "--store-known-failures", metavar="FILE", type=Path, default=None,
        help="TOML or JSON mapping, per backend name (or \"*\"), check id patterns to the "
        "reason each is known to fail: a listed check that fails is reported as known, one "
        "that passes fails the run (the list cannot rot)",
    )
    group.addoption(
        "--store-skip-unavailable", action="store_true", default=False,
        help="skip, with the reason, the checks of a backend that cannot run here (a missing "
        "driver or server); by default they fail, so a CI gate never passes on checks that "
        "did not run",
    )
    group.addoption(
        "--store-dsn", metavar="DSN", default=None,
        help="PostgreSQL server for --store=postgres (a libpq connection string or URI; same "
        "as the STORECHECK_PG_DSN environment variable). The run creates one database there "
        "and a schema per check, and drops them afterwards. Without it a throwaway cluster is "
        "started from the installed server binaries",
    )
    group.addoption(
        "--store-exec-timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT_S,
        help="for exec: backends, how long one call may wait for the implementation "
        f"process's answer before the check fails and the process is killed (default: "
        f"{DEFAULT_TIMEOUT_S:g})",
    )
    group.addoption(
        "--store-maxfail", metavar="N", type=int, default=0,
        help="skip the later checks of a backend once it has failed N of them (default: 0, "
        "every check runs): a backend far from the spec answers in minutes, its first "
        "failures first",
    )
    parser.addini("storecheck_backend", "default for --store when the option is absent",
                  default=None)
    parser.addini("storecheck_exec", "backends implemented by programs speaking the wire "
                  "protocol, one per line: NAME = COMMAND; then --store=NAME selects one",
                  type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    for category in CATEGORIES:
        config.addinivalue_line("markers", f"{category}: storecheck conformance category {category}")
    config.addinivalue_line("markers", "requires(*capabilities): skip unless the backend has them")
    config.addinivalue_line("markers", "operation(name): the spec operation a check exercises")
    from_ini = config.getoption("store") is None and bool(config.getini("storecheck_backend"))
    if from_ini:
        config.option.store = config.getini("storecheck_backend")
    plan = make_plan(config)
    if plan is None:
        return
    dsn = config.getoption("store_dsn")
    if dsn:
        # The environment, not the config, reaches the worker processes checks spawn.
        os.environ[DSN_VARIABLE] = dsn
    maxfail.validate(config)
    scale = config.getoption("latency_scale")
    if not scale > 0:
        raise pytest.UsageError(f"--latency-scale={scale}: must be a positive number")
    manifest = config.getoption("store_known_failures")
    if manifest is not None:
        config.stash[KNOWN_KEY] = known_failures.load(Path(manifest))
    report_path = config.getoption("store_report")
    if report_path is not None and not hasattr(config, "workerinput"):
        _check_writable(Path(report_path))
    config.stash[PLAN_KEY] = plan
    if plan.profile.shrink and not shrinking.apply_budget(plan.profile.shrink_seconds):
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            "--store-shrink-seconds: this version of hypothesis has no shrinking time bound to "
            "set; its own (five minutes) holds"), stacklevel=2)
    book = ResultBook()
    config.stash[BOOK_KEY] = book
    config.pluginmanager.register(book, "storecheck-results")
    # One argument for all suites keeps node ids unique ("conversations/test_fk.py::...");
    # specs outside the plan are left out by pytest_ignore_collect.  A project that names
    # its backend in its ini file keeps collecting its own tests as well.
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    kept = list(config.args) if explicit or from_ini else []
    config.args[:] = kept + ([str(SUITES_DIR)] if str(SUITES_DIR) not in kept else [])


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """What is about to be checked, and how hard (pytest prints it unless -q)."""
    plan = config.stash.get(PLAN_KEY, None)
    if plan is None:
        return None
    backends = ", ".join(f"{item.backend.name} ({', '.join(item.specs)})" for item in plan.selected)
    seed = config.getoption("hypothesis_seed", None)
    profile = plan.profile
    replay = ("; replaying saved failures without shrinking" if config.getoption("store_replay")
              else f"; shrinking up to {profile.shrink_seconds:g} s" if profile.shrink
              else "; no shrinking")
    return [f"storecheck: {backends}; profile {plan.profile.name}; hypothesis seed "
            f"{'random' if seed is None else seed}; latency {config.getoption('latency')}, "
            f"scaling {config.getoption('scaling')}{replay}"]


def _check_writable(path: Path) -> None:
    """Refuse an unwritable ``--store-report`` before the run, not after it."""
    problem = None
    if path.is_dir():
        problem = "is a directory"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"its directory cannot be created ({exc.strerror or exc})"
        else:
            if not os.access(path.parent, os.W_OK) or (path.exists()
                                                       and not os.access(path, os.W_OK)):
                problem = "is not writable"
    if problem:
        raise pytest.UsageError(f"--store-report={path}: {problem}")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    plan = config.stash.get(PLAN_KEY, None)
    if plan is None or collection_path.parent != SUITES_DIR or not collection_path.is_dir():
        return None
    return collection_path.name not in plan.specs


class SuiteModule(pytest.Module):
    """A conformance suite module, imported by its package name (never by file path)."""

    def _getobj(self) -> ModuleType:
        spec = self.path.parent.name
        return importlib.import_module(f"{SUITES_PACKAGE}.{spec}.{self.path.stem}")


def _in_suites(path: Path) -> bool:
    try:
        path.resolve().relative_to(SUITES_DIR.resolve())
    except ValueError:
        return False
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if PLAN_KEY in parent.config.stash and _in_suites(module_path):
        # The same id wherever the package is installed (a virtualenv inside the rootdir
        # would otherwise put its path into every id, JUnit class name and CI history).
        stable = f"{ID_PREFIX}/{module_path.parent.name}/{module_path.name}"
        return SuiteModule.from_parent(parent, path=module_path, nodeid=stable)
    return None


def _spec_of(node: Any) -> str | None:
    module = getattr(node, "module", None)
    return getattr(module, "SPEC", None)


def _parametrize_largest(metafunc: pytest.Metafunc, rows: Sequence[tuple[Growth, Any]],
                         profile: Profile) -> None:
    """The ``LARGEST``-row scaling rows where the profile loads that dataset; otherwise one
    skipped item saying which profile does."""
    if profile.largest_dataset:
        metafunc.parametrize("largest_scaling_row", rows, ids=[row[0].operation for row in rows])
    else:
        reason = (f"the {LARGEST:,}-row scaling point loads a dataset of that size: it runs "
                  "with --store-profile=thorough")
        metafunc.parametrize("largest_scaling_row", [
            pytest.param(None, marks=pytest.mark.skip(reason=reason), id="thorough-only")])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    plan = metafunc.config.stash.get(PLAN_KEY, None)
    if plan is None or "backend" not in metafunc.fixturenames:
        return
    rows = getattr(metafunc.cls, "targets", None)
    if "latency_row" in metafunc.fixturenames and rows is not None:
        rows = _adjusted_targets(metafunc.config, str(metafunc.cls.spec), rows)
        metafunc.parametrize("latency_row", rows, ids=[row[0].operation for row in rows])
    growths = getattr(metafunc.cls, "scaling", None)
    if "scaling_row" in metafunc.fixturenames and growths is not None:
        growths = reads_first(str(metafunc.cls.spec), growths)
        metafunc.parametrize("scaling_row", growths, ids=[row[0].operation for row in growths])
    largest = getattr(metafunc.cls, "largest_scaling", None)
    if "largest_scaling_row" in metafunc.fixturenames and largest is not None:
        _parametrize_largest(metafunc, reads_first(str(metafunc.cls.spec), largest),
                             plan.profile)
    spec = getattr(metafunc.module, "SPEC", None)
    chosen = plan.backends_for(spec) if spec else list(plan.selected)
    metafunc.parametrize(
        "backend", chosen, ids=[item.backend.name for item in chosen], scope="module"
    )


def _adjusted_targets(config: pytest.Config, spec: str, rows: Any) -> list[Any]:
    targets = [row[0] for row in rows]
    config.hook.pytest_storecheck_modify_targets(spec=spec, targets=targets)
    if len(targets) != len(rows):
        raise pytest.UsageError(
            f"pytest_storecheck_modify_targets changed the length of {spec}'s latency table; "
            "replace entries in place instead")
    return [(target, *row[1:]) for target, row in zip(targets, rows, strict=True)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PLAN_KEY not in config.stash:
        return
    backend_of: dict[str, str] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        selected = callspec.params.get("backend") if callspec else None
        spec = _spec_of(item)
        if selected is None or spec is None:
            continue
        category = next((c for c in CATEGORIES if item.get_closest_marker(c)), "other")
        operation = item.get_closest_marker("operation")
        labels = {
            "backend": selected.backend.name,
            "spec": spec,
            "category": category,
            "operation": operation.args[0] if operation else getattr(item, "originalname", item.name),
        }
        item.user_properties.append((PROPERTY, labels))
        backend_of[item.nodeid] = selected.backend.name
    entries = config.stash.get(KNOWN_KEY, ())
    if entries:
        used = known_failures.mark(items, entries, backend_of)
        book = config.stash.get(BOOK_KEY, None)
        if book is not None:
            book.unmatched_known = [entry for entry in entries if entry not in used]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    selected = callspec.params.get("backend") if callspec else None
    if not isinstance(selected, Selected):
        return
    reason = _unavailable(item.config, selected)
    if reason:
        message = f"backend {selected.backend.name!r} is unavailable: {reason}"
        if item.config.getoption("store_skip_unavailable"):
            pytest.skip(message)
        # A gate that skips what it was asked to check would pass without proving anything.
        pytest.fail(f"{message} (it was asked for with --store; pass --store-skip-unavailable "
                    "to skip its checks instead)", pytrace=False)
    maxfail.skip_if_spent(item.config, selected.backend.name)
    spec = _spec_of(item)
    did_not_open = item.config.stash.get(OPEN_FAILURES_KEY, OpenFailures()).first.get(
        (selected.backend.name, spec or ""))
    if did_not_open:
        pytest.skip(did_not_open)
    if item.get_closest_marker("latency"):
        _skip_latency_if_unfit(item.config)
    for marker in item.iter_markers("requires"):
        for capability in marker.args:
            if capability not in selected.capabilities:
                pytest.skip(
                    f"backend {selected.backend.name!r} lacks capability {capability!r} "
                    f"({describe(capability)})"
                )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    callspec = getattr(item, "callspec", None)
    selected = callspec.params.get("backend") if callspec else None
    if report.failed and isinstance(selected, Selected):
        needed = partial.needed_operation(
            call.excinfo.value if call.excinfo is not None else None, str(report.longrepr),
            lacking_operations(selected.backend, _spec_of(item) or ""))
        if needed is not None:
            partial.skip_as_not_implemented(report, item, needed, selected.backend.name)
            return report
        maxfail.count_failure(item.config, selected.backend.name)
    if report.failed and call.excinfo is not None and isinstance(selected, Selected):
        note_failure(call.excinfo.value, selected.backend.name, _spec_of(item) or "",
                     item.config.stash.setdefault(OPEN_FAILURES_KEY, OpenFailures()))
    entry = item.stash.get(known_failures.ENTRY_KEY, None)
    if (entry is not None and report.failed and report.when == "call"
            and str(report.longrepr).startswith("[XPASS(strict)]")):
        report.longrepr = entry.passed_message()
    plan = item.config.stash.get(PLAN_KEY, None)
    if report.failed and report.when == "call" and plan is not None and plan.profile.shrink:
        budget = ("--store-shrink-seconds" if item.config.getoption("store_shrink_seconds")
                  else f"the {plan.profile.name} profile's budget; --store-shrink-seconds sets "
                       "another")
        shrinking.explain_stop(report, plan.profile.shrink_seconds, budget,
                               item.config.getoption("hypothesis_seed", None))
    if report.failed and report.when == "call" and isinstance(selected, Selected):
        report.sections.append(("storecheck: rerun this check alone", rerun_command(
            item, selected)))
    return report


def rerun_command(item: pytest.Item, selected: Selected) -> str:
    """A command that runs just this check again, replaying its saved failing example."""
    return (f"pytest --store={shlex.quote(selected.ref)} --store-spec={_spec_of(item)} "
            f"--store-profile={item.config.getoption('store_profile')} "
            f"-k {shlex.quote(_selecting_only(item))} --store-replay\n"
            "(from the directory this run started in, where hypothesis saved the example)")


_K_WORD = re.compile(r"[\w:+\-.\[\]/]+")
"""What a word of a ``-k`` expression may hold."""


def _selecting_only(item: pytest.Item) -> str:
    """A ``-k`` expression that selects ``item`` alone: the suites live in the installed
    package, so a node id is no path the user can pass.  Its module, class and full name
    (parameters included); a name ``-k`` cannot spell falls back to the function's name and
    the backend."""
    words = [node.name for node in item.listchain()
             if isinstance(node, (pytest.Module, pytest.Class))]
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec else None
    if _K_WORD.fullmatch(item.name):
        words.append(item.name)
    else:
        words.append(getattr(item, "originalname", item.name))
        if isinstance(backend, Selected):
            words.append(backend.backend.name)
    return " and ".join(words)


def _unavailable(config: pytest.Config, selected: Selected) -> str | None:
    """A backend's own reason why it cannot run here (asked once per run), if it has one."""
    known = config.stash.setdefault(UNAVAILABLE_KEY, {})
    name = selected.backend.name
    if name not in known:
        probe = getattr(selected.backend, "unavailable", None)
        if callable(probe):
            progress(config, f"asking backend {name!r} whether it can run here (it may start "
                     "a server)")
        known[name] = probe() if callable(probe) else None
    return known[name]


def _skip_latency_if_unfit(config: pytest.Config) -> None:
    if config.getoption("latency") == "off":
        pytest.skip("latency checks are off (--latency=off)")
    # Read from the worker's own config, not the environment: a nested pytest run
    # started from inside an xdist worker inherits PYTEST_XDIST_WORKER_COUNT.
    workerinput = getattr(config, "workerinput", None)
    workers = int(workerinput["workercount"]) if workerinput else 1
    if workers > 1:
        pytest.skip(
            f"latency checks do not run under pytest-xdist ({workers} workers): parallel "
            "workers share the CPU and would distort the timings; run them without -n"
        )


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    book = config.stash.get(BOOK_KEY, None)
    if book is None or hasattr(config, "workerinput"):
        return
    # The long tables first and, unless -v, only their rows to act on: the matrix and the
    # failures come last, where the screen ends.
    full = config.get_verbosity() > 0
    for title, table in (("storecheck not implemented (declared by the backend)",
                          partial.not_implemented_lines(book.blocked)),
                         ("storecheck known failures", known_lines(book)),
                         ("storecheck latency", latency_lines(book, full)),
                         ("storecheck scaling", scaling_lines(book, full)),
                         ("storecheck isolation levels (Hermitage's anomalies)",
                          isolation_lines(book, full))):
        if table:
            terminalreporter.section(title)
            for line in table:
                terminalreporter.write_line(line)
    terminalreporter.section("storecheck conformance")
    for line in terminal_lines(book):
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    book = config.stash.get(BOOK_KEY, None)
    plan = config.stash.get(PLAN_KEY, None)
    if book is None or plan is None or hasattr(config, "workerinput"):
        return
    report = build_report(book, plan, int(exitstatus))
    config.hook.pytest_storecheck_report(report=report, config=config)
    path = config.getoption("store_report")
    if path is not None:
        write_report(report, Path(path))


# -- fixtures available to the suites (and to a user's own tests) ------------


@pytest.fixture(scope="session")
def store_profile(pytestconfig: pytest.Config) -> Profile:
    """The active :class:`~storecheck.plugin.profiles.Profile`."""
    return pytestconfig.stash[PLAN_KEY].profile


@pytest.fixture
def spec_name(request: pytest.FixtureRequest) -> str:
    """The spec of the suite module running."""
    spec = getattr(request.module, "SPEC", None)
    if spec is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: module has no SPEC attribute; a module using the "
            "storecheck fixtures names its spec, e.g. SPEC = \"session_history\"")
    return str(spec)


@pytest.fixture
def fresh_location(backend: Selected, spec_name: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty, isolated location for this check; removed afterwards."""
    location = backend.backend.new_location(spec_name, tmp_path)
    yield location
    backend.backend.discard(location)


@pytest.fixture
def open_store(backend: Selected, spec_name: str, fresh_location: str,
               request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_store(schema_version=None, location=None)`` opens (and later closes) a store.

    A backend that cannot open the check's fresh location at the newest schema, or whose
    open() returns no store of the spec, fails one check with the cause, and its other
    checks of the spec are skipped (:mod:`storecheck.plugin.opening`)."""
    opened: list[Any] = []
    failures = request.config.stash.setdefault(OPEN_FAILURES_KEY, OpenFailures())

    def opener(schema_version: int | None = None, location: str | None = None) -> Any:
        def plain() -> Any:
            return backend.backend.open(spec_name, location or fresh_location,
                                        schema_version=schema_version)

        store = open_checked(plain, backend.backend.name, spec_name, request.node.nodeid,
                             failures, fresh=schema_version is None and location is None,
                             declared_missing=lacking_operations(backend.backend,
                                                                       spec_name))
        opened.append(store)
        return store

    yield opener
    for store in reversed(opened):
        store.close()


@pytest.fixture(scope="session")
def latency_budget(store_profile: Profile) -> Budget:
    """Warm-up calls, samples and time budget per measured operation."""
    return Budget(warmup=20, min_samples=store_profile.latency_samples,
                  seconds=store_profile.latency_seconds)


@pytest.fixture(scope="session")
def latency_settings(pytestconfig: pytest.Config) -> LatencySettings:
    """``--latency`` mode, ``--latency-scale`` factor and ``--scaling`` mode."""
    return LatencySettings(pytestconfig.getoption("latency"),
                           pytestconfig.getoption("latency_scale"),
                           pytestconfig.getoption("scaling"))


@pytest.fixture
def store(open_store: Callable[..., Any]) -> Any:
    """A store of the module's spec at a fresh location, at the newest schema."""
    return open_store()
