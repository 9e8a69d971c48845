"""Where the postgres backend's server comes from, driven as a user would (pytester)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytest.importorskip("psycopg")


def _no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STORECHECK_PG_DSN", raising=False)
    monkeypatch.setenv("STORECHECK_PG_BIN", str(tmp_path / "no-binaries-here"))
    monkeypatch.setenv("PATH", "/nonexistent")


def _fk_checks_without_a_server(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path, *flags: str) -> pytest.RunResult:
    _no_server(monkeypatch, tmp_path)
    monkeypatch.delenv("STORECHECK_REQUIRE_PG", raising=False)
    return pytester.runpytest_subprocess("--store=postgres", "--store-spec=session_history",
                                         *flags, "-m", "fk", "-p", "no:cacheprovider")


def test_without_a_server_the_run_fails_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _fk_checks_without_a_server(pytester, monkeypatch, tmp_path)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=7)  # failed in setup, before the check itself
    result.stdout.fnmatch_lines(["*backend 'postgres' is unavailable: no PostgreSQL: set "
                                 "STORECHECK_PG_DSN*--store-skip-unavailable*"])


def test_skipping_an_unavailable_backend_is_an_opt_in_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _fk_checks_without_a_server(pytester, monkeypatch, tmp_path,
                                         "--store-skip-unavailable", "-rs")
    result.assert_outcomes(skipped=7)
    result.stdout.fnmatch_lines(["*backend 'postgres' is unavailable: no PostgreSQL: set "
                                 "STORECHECK_PG_DSN*apt-get install postgresql*"])


def test_required_postgres_fails_instead_of_skipping(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_server(monkeypatch, tmp_path)
    monkeypatch.setenv("STORECHECK_REQUIRE_PG", "1")
    result = pytester.runpytest_subprocess("--store=postgres", "--store-spec=session_history",
                                           "-m", "fk", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*STORECHECK_REQUIRE_PG=1 but no PostgreSQL*"])


def test_store_dsn_points_the_run_at_your_own_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_available: None
) -> None:
    import psycopg
    from storecheck.reference_impl.postgres import server

    own = server.run_database()  # stands in for a server the user runs
    monkeypatch.delenv("STORECHECK_PG_DSN", raising=False)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--store=sqlite,postgres", f"--store-dsn={own.admin_conninfo}", "-m", "fk",
        f"--store-report={report}", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-3000:]
    ran: dict[str, list[int]] = {}
    for row in json.loads(report.read_text())["results"]:
        counts = ran.setdefault(row["backend"], [0, 0, 0])
        for index, outcome in enumerate(("passed", "failed", "skipped")):
            counts[index] += row[outcome]
    # The same fk checks on both backends, none failed, and the server's run not skipped.
    assert set(ran) == {"sqlite", "postgres"}, ran
    assert ran["postgres"][1] == ran["sqlite"][1] == 0, ran
    assert sum(ran["postgres"]) == sum(ran["sqlite"]) > 0, ran
    assert ran["postgres"][0] >= ran["postgres"][2], ran
    with psycopg.connect(own.admin_conninfo) as conn:
        left = conn.execute(r"SELECT datname FROM pg_database WHERE datname LIKE 'storecheck\_%%' "
                            "AND datname <> %s", (own.name,)).fetchall()
    assert left == [], "the run dropped the database it made"
