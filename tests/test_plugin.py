"""The plugin as users drive it, through pytester."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

QUICK = ("--store-profile=quick", "-p", "no:cacheprovider", "--hypothesis-seed=0")


def test_without_store_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "storecheck conformance" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "flag", "listed"),
    [
        (["--store=nosuch"], "--store=nosuch", "memory, postgres, sqlite"),
        (["--store=sqlite", "--store-spec=nosuch"], "--store-spec=nosuch", "session_history"),
        (["--store=sqlite", "--store-profile=huge"], "--store-profile=huge", "quick, default"),
        (["--store=os:nosuch"], "--store=os:nosuch", "no attribute"),
        (["--store=os:getcwd"], "--store=os:getcwd", "is not a backend"),
        (["--store-spec=session_history"], "--store-spec", "needs --store"),
        (["--store="], "--store=", "names no backend"),
        (["--store=sqlite", "--store-spec=,"], "--store-spec=,", "names no spec"),
        (["--store=sqlite", "--store-exec-timeout=-1"], "--store-exec-timeout=-1",
         "positive number"),
        (["--store=sqlite", "--store-shrink-seconds=0"], "--store-shrink-seconds=0",
         "positive number"),
        (["--store=sqlite", "--store-maxfail=-1"], "--store-maxfail=-1", "0 (no limit) or more"),
        (["--store=memory", "--store-report=."], "--store-report=.", "is a directory"),
        (["--store=memory", "--store-report=/proc/nope/report.json"],
         "--store-report=/proc/nope/report.json", "cannot be created"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_flag(
    pytester: pytest.Pytester, args: list[str], flag: str, listed: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert flag in result.stderr.str()
    assert listed in result.stderr.str()


def test_a_backend_factory_that_raises_is_a_usage_error_naming_the_flag(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(mybackend="import os\n\ndef make_backend():\n"
                        "    raise ValueError('missing env var MYDB_URL')\n")
    result = pytester.runpytest("--store=mybackend:make_backend")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    last = [line for line in result.stderr.lines if line][-1]
    assert last == ("ERROR: --store=mybackend:make_backend: the backend factory raised "
                    "ValueError: missing env var MYDB_URL")
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


BROKEN_OPEN = """
from dataclasses import dataclass
from storecheck.reference_impl.memory.backend import MemoryBackend


@dataclass(frozen=True)
class Raising(MemoryBackend):
    name: str = "raising"

    def open(self, spec, location, *, schema_version=None):
        raise RuntimeError("cannot reach mydb.internal:5432")


@dataclass(frozen=True)
class Dict(MemoryBackend):
    name: str = "dict"

    def open(self, spec, location, *, schema_version=None):
        return {"spec": spec}


raising, returns_a_dict = Raising(), Dict()
"""


@pytest.mark.parametrize(("ref", "cause"), [
    ("raising", "open() of a fresh location raised RuntimeError: cannot reach mydb.internal:5432"),
    ("returns_a_dict", "open() returned a dict that lacks 20 of the spec's operations: "
     "get_or_create_workspace, "),
])
def test_a_store_that_does_not_open_is_one_failure_and_its_other_checks_skip(
    pytester: pytest.Pytester, ref: str, cause: str,
) -> None:
    pytester.makepyfile(broken=BROKEN_OPEN)
    # In a process of its own: a run in this one would import the memory models anew and
    # leave the next run's records and models from two imports of the spec.
    result = pytester.runpytest_subprocess(f"--store=broken:{ref}", "--store-spec=session_history",
                                "-m", "acid or fk or badinput", *QUICK)
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1, outcomes
    assert outcomes["skipped"] > 10, outcomes
    text = result.stdout.str()
    assert text.count(cause) >= 1 and "other checks of session_history" in text, text[-3000:]
    assert len(result.stdout.lines) < 200, len(result.stdout.lines)


def test_a_partial_implementation_runs_every_check_it_can_and_lists_what_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backend declaring the operations it has: a check that calls another one is
    skipped naming it, counted apart; the run ends with each missing operation and the
    checks it blocks, in the terminal and the report, and exits 0 when the rest passes."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    result = pytester.runpytest_subprocess(
        "--store=tests.partial_backend:declared", "--store-spec=session_history", "-m", "not latency",
        "--store-report=r.json", "-rA", *QUICK)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    report = json.loads(pytester.path.joinpath("r.json").read_text())
    blocked = {row["operation"]: row["checks"] for row in report["not_implemented"]}
    assert set(blocked) == {"touch_workspace", "import_legacy", "session_summary"}, blocked
    assert sum(row["not_implemented"] for row in report["results"]) == sum(blocked.values())
    passed = sum(row["passed"] for row in report["results"])
    assert passed > sum(blocked.values()), (passed, blocked)
    text = result.stdout.str()
    # The stateful model check runs on: the lacking operations' rules never fire, a lacking
    # read inside another rule is the model's alone, a lacking write is done on neither side.
    assert ("PASSED storecheck/session_history/test_model.py::"
            "test_random_operation_sequences_match_the_model") in text, text[-3000:]
    assert "storecheck not implemented (declared by the backend)" in text
    for operation, checks in blocked.items():
        assert f"declared / session_history: {operation} blocks {checks} check" in text
    assert "needs 'import_legacy', not implemented by backend 'declared'" in (
        pytester.runpytest_subprocess("--store=tests.partial_backend:declared",
                                      "--store-spec=session_history",
                                      "-k", "legacy", "-rs", *QUICK).stdout.str())


def test_a_store_lacking_an_operation_its_backend_does_not_declare_is_refused_at_open(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    result = pytester.runpytest_subprocess(
        "--store=tests.partial_backend:undeclared", "--store-spec=session_history", "-m", "acid", *QUICK)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*lacks 3 of the spec's operations: touch_workspace, "
                                 "session_summary, import_legacy*declaring the ones it has*"])


def test_a_model_failure_reads_as_its_finding_and_a_short_script(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The FAILED line and the report carry the result that differs, not the failing
    steps hypothesis appends; each step's note keeps the call and the start of its result."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    mutant = "tests.mutants.app_meta:chunk_count_not_updated"
    result = pytester.runpytest_subprocess(f"--store={mutant}", "--store-spec=app_meta",
                                           "-m", "model", "--store-report=r.json", *QUICK)
    result.assert_outcomes(failed=1)
    (failed,) = [line for line in result.stdout.lines if line.startswith("FAILED app_meta")]
    assert failed.endswith("result.chunk_count: 2 where the model has 1"), failed
    (failure,) = json.loads(pytester.path.joinpath("r.json").read_text())["failures"]
    assert "Failing test case" not in failure["message"], failure["message"]
    notes = [line for line in result.stdout.lines if ": model " in line]
    assert notes and all(len(line.removeprefix("E").strip()) <= 100 for line in notes), notes


def test_an_open_refused_on_purpose_skips_no_later_check(pytester: pytest.Pytester) -> None:
    """The tampered-history check expects its opens refused and catches the error: the
    checks after it (the races, in a later file) still run."""
    result = pytester.runpytest_subprocess(
        "--store=sqlite", "--store-spec=session_history", "-k",
        "tampered_migration_history or one_winner_among_threads", *QUICK)
    result.assert_outcomes(passed=2)


def test_failures_of_one_rule_are_listed_once_with_their_count(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    mutant = "tests.mutants.app_meta_backup:restore_by_column_name_unverified"
    result = pytester.runpytest_subprocess(f"--store={mutant}", "--store-spec=app_meta",
                                           "-k", "whose_schema_is_not", "--store-report=r.json",
                                           *QUICK)
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines([
        "broken rules (1, from 5 failed checks):",
        "  mutant-app_meta_backup-restore_by_column_name_unverified: app_meta.restore: expected "
        "StorageFailed (5 checks)"])
    report = json.loads(pytester.path.joinpath("r.json").read_text())
    (rule,) = report["broken_rules"]
    assert rule["checks"] == 5 and rule["specs"] == ["app_meta"] and len(rule["nodeids"]) == 5


def test_marker_selection_and_report(pytester: pytest.Pytester) -> None:
    report = pytester.path / "out" / "report.json"
    # One spec: what is checked is the selection and the report, not the specs.
    result = pytester.runpytest("--store=sqlite,memory", "--store-spec=session_history",
                                "-m", "acid or fk", f"--store-report={report}", *QUICK)
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 10 and outcomes["deselected"] > 10
    text = result.stdout.str()
    assert "[sqlite]" not in text  # quiet by default; ids checked below
    assert "memory / session_history" in text and "sqlite / session_history" in text
    data = json.loads(report.read_text())
    assert data["profile"] == "quick" and data["exit_status"] == 0
    assert {row["category"] for row in data["results"]} == {"acid", "fk"}
    memory = next(b for b in data["backends"] if b["name"] == "memory")
    assert memory["capabilities"] == ["in_process", "transactions"]
    skipped = [row for row in data["results"] if row["backend"] == "memory" and row["skipped"]]
    assert skipped, "memory lacks crash_durable: its SIGKILL check must be skipped, not passed"


def test_capability_skips_say_why(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--store=memory", "--store-spec=session_history", "-m",
                                "migration", "-rs", *QUICK)
    result.assert_outcomes(skipped=8)
    result.stdout.fnmatch_lines(["*backend 'memory' lacks capability 'migrations'*"])


def test_test_ids_show_the_backend(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--store=sqlite,memory", "--collect-only", "-q", *QUICK)
    text = result.stdout.str()
    assert "test_nested_savepoint_rolls_back_alone[sqlite]" in text
    assert "test_nested_savepoint_rolls_back_alone[memory]" in text


def test_k_selects_and_x_stops(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--store=sqlite", "-k", "savepoint", *QUICK)
    result.assert_outcomes(passed=1)


def test_failure_line_names_spec_category_and_operation(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    result = pytester.runpytest_subprocess(
        "--store=tests.mutants.session_history:non_atomic_create", "-m", "acid", "-x", *QUICK)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "FAILED session_history [[]acid[]] create_session on mutant-session_history-non_atomic_create: "
        "session_history.create_session: expected *",
    ])
    assert result.parseoutcomes()["failed"] == 1  # -x stopped at the first


def test_maxfail_skips_the_later_checks_of_the_failing_backend_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    result = pytester.runpytest_subprocess(
        "--store=tests.mutants.session_history:non_atomic_create,sqlite",
        "--store-spec=session_history", "-m", "acid", "--store-maxfail=1", "-rs", *QUICK)
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1, outcomes
    spent = [line for line in result.stdout.lines if "--store-maxfail=1" in line]
    assert spent, result.stdout.str()
    assert all("'mutant-session_history-non_atomic_create' has failed 1 checks" in line
               for line in spent), spent


def test_factory_and_hook_registered_backends(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
from storecheck.reference_impl import sqlite_backend

def pytest_storecheck_register_backends():
    return [sqlite_backend(name="hooked")]

def pytest_storecheck_modify_capabilities(backend, capabilities):
    capabilities.discard("multi_process")
"""
    )
    pytester.makepyfile(mybackends="from storecheck.reference_impl.memory import MemoryBackend\n"
                                   "def make():\n    return MemoryBackend(name='made')\n")
    pytester.syspathinsert()
    result = pytester.runpytest("--store=hooked,mybackends:make", "--store-spec=session_history",
                                "-k", "savepoint or processes", "-rs", *QUICK)
    result.assert_outcomes(passed=2, skipped=8)
    result.stdout.fnmatch_lines(["*'hooked' lacks capability 'multi_process'*"])


README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readmes_worked_example_fails_as_the_readme_says(pytester: pytest.Pytester) -> None:
    """The README's cached backend, copied out of the README as a newcomer would, fails the
    categories the README's list after it names, each on the operation it names."""
    text = README.read_text()
    example = text[text.index("A worked example"):]
    start = example.index("```python\n") + len("```python\n")
    code = example[start:example.index("\n```", start)]
    told = example[example.index("`pytest --store=mypkg"):example.index("To make the backend")]
    items = [" ".join(item.split()) for item in told.split("\n- ")[1:]]
    said = {item.split("`")[1]: item for item in items}
    package = pytester.mkpydir("mypkg")
    package.joinpath("backends.py").write_text(code)
    result = pytester.runpytest_subprocess("--store=mypkg.backends:make_backend", *QUICK,
                                           "--store-report=report.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads(pytester.path.joinpath("report.json").read_text())
    failed: dict[str, set[str]] = {}
    for failure in report["failures"]:
        # The finding names the spec's operation first: "session_history.get_session: ..."
        operation = re.match(r"\[?session_history[.\]] ?(\w+):", failure["message"])
        assert operation, failure["message"]
        failed.setdefault(failure["category"], set()).add(operation.group(1))
    assert set(failed) == set(said), (failed, said)
    for category, operations in failed.items():
        assert all(re.search(rf"`{operation}\b", said[category]) for operation in operations), (
            category, operations, said[category])


def test_a_module_attr_backend_imports_from_the_directory_pytest_runs_in(
    pytester: pytest.Pytester,
) -> None:
    """The ``pytest`` script, unlike ``python -m pytest``, does not put that directory on the path."""
    package = pytester.mkpydir("mypkg")
    package.joinpath("backends.py").write_text(
        "from storecheck.reference_impl.memory import MemoryBackend\n\n"
        "def make_backend():\n    return MemoryBackend(name='mine')\n")
    # Not pytester.run: it puts the directory on PYTHONPATH, hiding the problem.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(sys.executable).with_name("pytest")), *args],
                              cwd=pytester.path, env=environment, capture_output=True,
                              text=True, timeout=300, check=False)

    found = run_pytest("--store=mypkg.backends:make_backend", "--store-spec=session_history",
                       "-m", "fk", *QUICK)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "mine / session_history" in found.stdout
    missing = run_pytest("--store=nopkg.backends:make_backend")
    assert missing.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--store=nopkg.backends:make_backend: cannot import 'nopkg.backends'" in missing.stderr
    assert str(pytester.path) in missing.stderr
    assert "Run pytest from the directory" in missing.stderr


def test_an_ini_backend_adds_the_suite_to_the_projects_own_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nstorecheck_backend = memory\n")
    pytester.makepyfile(test_mine="def test_mine():\n    assert True\n")
    listed = pytester.runpytest("--collect-only", "-q", *QUICK).stdout.lines
    assert "test_mine.py::test_mine" in listed
    assert any(line.startswith("storecheck/session_history/") for line in listed)
    result = pytester.runpytest("-k", "test_mine or savepoint", "--store-spec=session_history",
                                *QUICK)
    result.assert_outcomes(passed=2)


def test_the_run_says_what_it_checks_and_its_long_steps(pytester: pytest.Pytester) -> None:
    args = ("--store=sqlite", "--store-spec=session_history", "-m", "latency", "-k",
            "grow and get_session", *QUICK)
    result = pytester.runpytest(*args)
    result.stdout.fnmatch_lines([
        "storecheck: sqlite (session_history); profile quick; hypothesis seed 0; "
        "latency enforce, scaling enforce; no shrinking",
        "storecheck: seeding 1,000 rows of session_history on sqlite*",
    ])
    quiet = pytester.runpytest(*args, "-q").stdout.str()
    assert "storecheck: seeding" not in quiet and "profile quick" not in quiet


def test_a_failure_prints_a_command_that_replays_it_without_shrinking(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    mutant = "tests.mutants.session_history:pagination_skips_ties"
    first = pytester.runpytest_subprocess(f"--store={mutant}", "-k", "random_operation",
                                          *QUICK)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    command = (f"pytest --store={mutant} --store-spec=session_history --store-profile=quick "
               "-k 'test_model.py and test_random_operation_sequences_match_the_model"
               "[mutant-session_history-pagination_skips_ties]' --store-replay")
    assert command in first.stdout.str()
    assert "@reproduce_failure" not in first.stdout.str()
    again = pytester.runpytest_subprocess(*shlex.split(command.removeprefix("pytest ")),
                                          "-p", "no:cacheprovider")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*replaying saved failures without shrinking*",
                                "*expected the model's result*"])


KNOWN_MUTANT = "tests.mutants.session_history:pagination_skips_ties"
MODEL_CHECK = "storecheck/session_history/test_model.py::test_random_operation_sequences_*"


def _known(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, manifest: str,
           *args: str) -> pytest.RunResult:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.path.joinpath("known.toml").write_text(manifest)
    return pytester.runpytest_subprocess("--store-known-failures=known.toml", "-k",
                                         "random_operation", "--store-spec=session_history",
                                         *args, *QUICK)


def test_shrinking_stops_at_its_time_budget_and_says_so_in_storechecks_words(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure is shrunk for the profile's budget at most, then reported as it stands,
    with what the user can do; hypothesis's own five-minute banner never shows."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    result = pytester.runpytest_subprocess(
        f"--store={KNOWN_MUTANT}", "-k", "random_operation", "--store-profile=default",
        "--store-shrink-seconds=0.01", "-p", "no:cacheprovider", "--hypothesis-seed=0")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*profile default*shrinking up to 0.01 s*",
        "*expected the model's result*",
        "storecheck: shrinking stopped after 0.01 s (--store-shrink-seconds): the failing "
        "example above is the smallest found by then, not necessarily the smallest there is. "
        "The rerun command below replays it as it is; --hypothesis-seed=0 repeats the whole "
        "search.",
        "*storecheck: rerun this check alone*",
    ])
    assert "PLEASE REPORT" not in result.stdout.str()
    assert "five minutes" not in result.stdout.str()


def test_a_known_failure_is_reported_with_its_reason_and_does_not_fail_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = (f'["mutant-session_history-pagination_skips_ties"]\n"{MODEL_CHECK}" = "ties fixed in #12"\n'
                '["*"]\n"storecheck/nosuch/*" = "an entry that matches nothing"\n')
    result = _known(pytester, monkeypatch, manifest, f"--store={KNOWN_MUTANT}",
                    "--store-report=report.json")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines([
        "*storecheck known failures*",
        "KNOWN session_history [[]model[]] *on mutant-session_history-pagination_skips_ties: "
        "ties fixed in #12*",
        "UNUSED [[]*[]] 'storecheck/nosuch/*' matched no check that ran*",
    ])
    report = json.loads(pytester.path.joinpath("report.json").read_text())
    assert [row["reason"] for row in report["known_failures"]] == ["known failure: ties fixed in #12"]
    assert [row["known"] for row in report["results"]] == [1]


def test_a_known_failure_that_passes_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _known(pytester, monkeypatch, f'["sqlite"]\n"{MODEL_CHECK}" = "was broken"\n',
                    "--store=sqlite")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        f"*XPASS(strict)* a known failure passed: remove the entry '{MODEL_CHECK}' under "
        "[[]sqlite[]] from known.toml (it said: was broken)*"])


def test_a_known_failure_listed_as_not_strict_may_pass_or_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = f'"{MODEL_CHECK}" = {{ reason = "flaky until #43", strict = false }}\n'
    passing = _known(pytester, monkeypatch, f'["sqlite"]\n{entry}', "--store=sqlite")
    assert passing.ret == pytest.ExitCode.OK, passing.stdout.str()
    passing.assert_outcomes(xpassed=1)
    failing = _known(pytester, monkeypatch, f'["mutant-session_history-pagination_skips_ties"]\n{entry}',
                     f"--store={KNOWN_MUTANT}")
    assert failing.ret == pytest.ExitCode.OK, failing.stdout.str()
    failing.assert_outcomes(xfailed=1)


@pytest.mark.parametrize(("manifest", "problem"), [
    ("[sqlite\n", "not valid TOML"),
    ('sqlite = "everything"\n', "[sqlite] must map check id patterns to reasons"),
    ('[sqlite]\n"storecheck/*" = ""\n', "needs a reason"),
    ('[sqlite]\n"storecheck/*" = { reason = "r", strict = "no" }\n', "strict must be true or false"),
    ('[sqlite]\n"storecheck/*" = { reason = "r", strikt = false }\n', "unknown keys strikt"),
])
def test_a_bad_known_failures_file_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, manifest: str, problem: str,
) -> None:
    result = _known(pytester, monkeypatch, manifest, "--store=sqlite")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--store-known-failures=known.toml" in result.stderr.str()
    assert problem in result.stderr.str()


def test_junitxml_and_xdist(pytester: pytest.Pytester) -> None:
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--store=sqlite", "--store-spec=session_history", "-m", "fk or badinput", "-n", "2",
        "--junitxml=junit.xml",
        f"--store-report={report}", *QUICK)
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "junit.xml").read_text().count("<testcase") > 20
    data = json.loads(report.read_text())
    assert {row["category"] for row in data["results"]} == {"fk", "badinput"}
    assert sum(row["passed"] for row in data["results"]) > 20


def test_node_ids_name_the_spec_and_are_unique(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--store=sqlite,memory", "--collect-only", "-q", *QUICK)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert len(ids) == len(set(ids)) > 100
    assert {tuple(line.split("/")[:2]) for line in ids} == {
        ("storecheck", "session_history"), ("storecheck", "conversations"),
        ("storecheck", "extraction"), ("storecheck", "telemetry"), ("storecheck", "app_meta")}
    narrowed = pytester.runpytest("--store=sqlite", "--store-spec=conversations",
                                  "--collect-only", "-q", *QUICK)
    assert all(line.startswith("storecheck/conversations/")
               for line in narrowed.stdout.lines if "::" in line)


def test_node_ids_do_not_depend_on_where_the_package_is_installed(
    pytester: pytest.Pytester,
) -> None:
    """A rootdir that contains the installed suites (a virtualenv inside the project)."""
    import storecheck.conformance

    installed = Path(storecheck.conformance.__file__).resolve().parents[1]
    result = pytester.runpytest("--store=sqlite", "--store-spec=session_history", "--rootdir",
                                str(installed), "--collect-only", "-q", *QUICK)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids and all(line.startswith("storecheck/session_history/test_") for line in ids), ids[:3]


def test_a_check_reports_every_rule_it_finds_broken(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue that counts attempts at failure breaks two rules in each of two checks: each
    check goes on past the first and its failure names both; the end of the run and the
    report list each rule apart."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    result = pytester.runpytest_subprocess(
        "--store=tests.mutants.conversations:attempts_counted_at_failure",
        "--store-spec=conversations", "-k", "retry_with_backoff or dequeue_order",
        "--store-report=report.json", *QUICK)
    assert result.ret == 1
    failed = [line for line in result.stdout.lines if line.startswith("FAILED conversations")]
    assert len(failed) == 2 and all("2 expectations broken: (1) " in line for line in failed), (
        result.stdout.str())
    result.stdout.fnmatch_lines([
        "broken rules (4, from 2 failed checks):",
        "*expected attempt 1 counted when the job is claimed (1 check)",
        "*expected attempt 2 counted when the job is claimed (1 check)"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert sorted(len(failure["rules"]) for failure in report["failures"]) == [2, 2]
    assert all(rule.startswith("conversations.dequeue: expected ")
               for failure in report["failures"] for rule in failure["rules"])
