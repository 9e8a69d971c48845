"""Latency: verdicts, --latency modes and scale, scaling and floor bounds, the report, compare."""

from __future__ import annotations

import importlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from storecheck.conformance.latency import LatencyTarget, judge, percentile, summarise
from storecheck.conformance.scaling import reads_first
from storecheck.conformance.specs import SPECS
from storecheck.conformance.timing import Sample, load_free, lower_bound, samples_needed
from storecheck.plugin.compare_reports import main as storecheck_main

from tests.suite_runner import report_schema

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
QUICK = ("--store-profile=quick", "-p", "no:cacheprovider", "-m", "latency")
SLOW = "tests.mutants.session_history:slow_tail_reads"


def test_percentiles_are_exact_nearest_rank() -> None:
    samples = list(range(1, 201))  # 1..200 ns
    assert percentile(samples, 50) == 100
    assert percentile(samples, 99) == 198
    assert percentile(samples, 100) == 200
    assert percentile([7], 99) == 7
    result = summarise([5_000_000] * 199 + [90_000_000])
    assert (result.p50_ms, result.p99_ms, result.max_ms, result.samples) == (5.0, 5.0, 90.0, 200)


def test_a_miss_fails_only_when_its_load_free_bound_misses_too() -> None:
    target = LatencyTarget("op", 10, 99, 1.0, "test")
    slow = [2_000_000] * 200
    assert judge(target, slow, slow, 1.0).outcome == "fail"
    assert judge(target, slow, slow, 3.0).outcome == "pass"
    # The machine's load made the wall time miss; the same calls net of it meet the target.
    assert judge(target, slow, [500_000] * 200, 1.0).outcome == "unsure"
    # Two slow calls in 200 put the nearest-rank p99 past the target, but it is not
    # certain: a resample of the same calls meets it often enough.
    tail = [500_000] * 197 + [2_000_000] * 3
    judged = judge(target, tail, tail, 1.0)
    assert (judged.outcome, judged.wall_ms, judged.lower_ms) == ("unsure", 2.0, 0.5), judged
    assert judge(target, [500_000] * 190 + [2_000_000] * 10,
                 [500_000] * 190 + [2_000_000] * 10, 1.0).outcome == "fail"


def test_the_confidence_bound_is_the_bootstraps_own_quantile() -> None:
    """The exact bound equals the 5th percentile of resampled percentiles, and a p99 is
    never judged on fewer samples than put two above it."""
    import random

    from storecheck.conformance.timing import nearest_rank

    draw = random.Random(7)
    values = sorted(round(draw.expovariate(1) * 1e6) for _ in range(300))
    for p in (50, 95, 99):
        resampled = sorted(
            sorted(draw.choice(values) for _ in values)[nearest_rank(len(values), p) - 1]
            for _ in range(2000))
        bootstrap = resampled[int(0.05 * len(resampled))]
        assert abs(values.index(lower_bound(values, p)) - values.index(bootstrap)) <= 2, p
    assert (samples_needed(99), samples_needed(95), samples_needed(50)) == (200, 40, 4)
    assert lower_bound([7], 99) == 7


def test_load_free_time_takes_off_the_wait_for_a_cpu_and_no_sleep_in_process() -> None:
    preempted = Sample(wall_ns=3_000, cpu_ns=1_000, delay_ns=2_000)
    asleep = Sample(wall_ns=3_000, cpu_ns=1_000, delay_ns=0)
    assert load_free([preempted, asleep], in_process=True) == [1_000, 3_000]
    # Out of process the blocked time is another process's, slowed as much as this
    # thread was: (1,000 + 2,000 + 1,000) / 2,000 = 2x.
    assert load_free([preempted, asleep], in_process=False) == [1_000, 2_000]


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester


def test_slow_operation_fails_under_enforce_and_passes_under_warn(on_path: pytest.Pytester) -> None:
    enforced = on_path.runpytest_subprocess(f"--store={SLOW}", "-k", "meets and get_session",
                                            *QUICK)
    assert enforced.ret == 1
    enforced.stdout.fnmatch_lines([
        "*FAILED session_history [[]latency[]] test_operation_meets_its_target on "
        "mutant-session_history-slow_tail_reads: session_history.get_session: expected p99 <= 100 ms*",
    ])
    # The failure says how to rerun it, and the two ways out on a slower machine.
    enforced.stdout.fnmatch_lines(["*rerun this check alone*", "*pytest --store=*"])
    assert "--latency-scale=FACTOR" in enforced.stdout.str()
    assert "--latency=warn reports a miss without failing" in enforced.stdout.str()
    warned = on_path.runpytest_subprocess(f"--store={SLOW}", "-k", "meets and get_session",
                                          "--latency=warn", *QUICK)
    assert warned.ret == 0
    warned.stdout.fnmatch_lines(["*LatencyWarning*get_session*", "*get_session*warn*"])
    off = on_path.runpytest_subprocess(f"--store={SLOW}", "-k", "meets and get_session",
                                       "--latency=off", "-rs", *QUICK)
    off.stdout.fnmatch_lines(["*latency checks are off (--latency=off)*"])


def test_scale_changes_verdicts_and_report_validates(on_path: pytest.Pytester) -> None:
    report = on_path.path / "tiny.json"
    # One spec is enough to judge the scale; every spec's rows are reported by the
    # whole-suite runs of tests/test_mutants.py.
    tiny = on_path.runpytest_subprocess("--store=sqlite", "--store-spec=session_history",
                                        "--latency-scale=0.00001", f"--store-report={report}",
                                        *QUICK)
    assert tiny.ret == 1
    data = json.loads(report.read_text())
    jsonschema.validate(data, report_schema())
    assert {row["verdict"] for row in data["latency"]} == {"fail"}
    assert all(row["target_ms"] == pytest.approx(row["unscaled_target_ms"] * 0.00001)
               for row in data["latency"])
    assert all(row["samples"] >= 5 and row["dataset"] == 10_000 for row in data["latency"])
    assert any(row["overhead"] is not None for row in data["latency"])


def test_latency_is_skipped_under_xdist_with_the_reason(on_path: pytest.Pytester) -> None:
    result = on_path.runpytest_subprocess("--store=sqlite", "-n", "2", "-rs", *QUICK)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*latency checks do not run under pytest-xdist (2 workers)*"])


def _report(tmp_path: Path, name: str, figures: dict[str, tuple[float, float]]) -> Path:
    rows = [{"backend": "sqlite", "spec": "session_history", "operation": op,
             "p50_ms": p50, "p99_ms": p99} for op, (p50, p99) in figures.items()]
    path = tmp_path / name
    path.write_text(json.dumps({"latency": rows}))
    return path


def test_compare_passes_identical_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = {"get_session": (0.05, 0.09), "search_sessions (text)": (6.0, 8.0)}
    first, second = _report(tmp_path, "a.json", figures), _report(tmp_path, "b.json", figures)
    out = tmp_path / "cmp"
    code = storecheck_main(["compare", str(first), str(second), "--out", str(out),
                            "--fail-on-regression", "10"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "no p50 regression over 10%" in printed and "(p50 1.00x)" in printed
    assert "| session_history / get_session |" in (out / "compare.md").read_text()
    svg = (out / "compare.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") == 2 * 2 * 2 + 2


def test_compare_finds_an_injected_regression(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = _report(tmp_path, "before.json", {"get_session": (0.05, 0.09), "scan": (6.0, 8.0)})
    after = _report(tmp_path, "after.json", {"get_session": (0.05, 0.10), "scan": (6.5, 12.0)})
    code = storecheck_main(["compare", str(before), str(after), "--out", str(tmp_path / "c"),
                            "--fail-on-regression", "20", "--stat", "p99"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "scan: p99 8.000 ms -> 12.000 ms (+50%)" in printed
    assert "get_session" not in printed.split("regressions over")[1]  # +11% and under 0.25 ms


def _noisy_reports(tmp_path: Path, costs: dict[str, float]) -> dict[str, Path]:
    """One report per build, 200 calls of one operation whose cost is ``costs[build]`` ms,
    drawn as a shared machine times it: a log-normal spread of 15 % and 3 % of the calls 3
    to 10 times slower (a neighbour, a collection).  Seeded by the build's name, so the
    gate's verdict depends on the builds, never on this machine's load."""
    reports = {}
    for name, cost in costs.items():
        draw = random.Random(name)
        samples = [round(cost * 1e6 * draw.lognormvariate(0, 0.15)
                         * (draw.uniform(3, 10) if draw.random() < 0.03 else 1))
                   for _ in range(200)]
        reports[name] = _samples_report(tmp_path, name, samples)
    return reports


def _samples_report(tmp_path: Path, name: str, samples_ns: list[int]) -> Path:
    row = {"backend": "sqlite", "spec": "session_history", "operation": "scan",
           **asdict(summarise(samples_ns))}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"latency": [row]}))
    return path


def test_the_gate_passes_the_same_build_twice_and_fails_a_2x_slowdown(tmp_path: Path) -> None:
    reports = _noisy_reports(tmp_path, {"first": 1.0, "again": 1.0, "slower": 2.0})
    first, again, slower = reports["first"], reports["again"], reports["slower"]
    # a neighbour's burst: the first run again with 4 of its 200 calls 15 times slower
    timed = [round(us * 1e3) for us in json.loads(first.read_text())["latency"][0]["samples_us"]]
    burst = _samples_report(tmp_path, "burst", [15 * v for v in timed[:4]] + timed[4:])

    def gate(*reports: Path, stat: str = "p50") -> int:
        return storecheck_main(["compare", *map(str, reports), "--out", str(tmp_path / "o"),
                                "--fail-on-regression", "25", "--min-increase-ms", "0",
                                "--stat", stat])

    assert gate(first, again) == 0
    assert gate(first, again, stat="p99") == 0
    assert gate(first, burst, stat="p99") == 0  # p99 jumped 15x on 2% of the calls
    assert gate(first, slower) == 1


def test_compare_warns_when_reports_are_not_measured_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    reports = []
    for name, profile in (("quick.json", "quick"), ("default.json", "default")):
        path = _report(tmp_path, name, {"get_session": (0.05, 0.09)})
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "profile": profile, "environment": {
            "platform": "Linux-x86_64", "cpu_count": 2,
            "packages": {"storecheck": "0.1.0"}}}))
        reports.append(str(path))
    assert storecheck_main(["compare", *reports, "--out", str(tmp_path / "o"),
                            "--stat", "p99"]) == 0
    printed = capsys.readouterr()
    assert ("warning: the reports differ in profile (quick.json: quick, default.json: "
            "default)") in printed.err
    assert "storecheck version" not in printed.err and "machine" not in printed.err
    assert "(p99 1.00x)" in printed.out


def test_compare_exit_codes_labels_and_version(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "o")]
    assert storecheck_main(["compare", str(tmp_path / "missing.json"), *out]) == 2
    assert "missing.json is not a storecheck report" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    assert storecheck_main(["compare", str(tmp_path / "broken.json"), *out]) == 2
    assert storecheck_main(["compare", "--stat", "p42", str(tmp_path / "broken.json")]) == 2
    capsys.readouterr()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _report(tmp_path / "a", "report.json", {"get_session": (0.05, 0.09)})
    second = _report(tmp_path / "b", "report.json", {"get_session": (0.05, 0.09)})
    assert storecheck_main(["compare", str(first), str(second), *out]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert f"{first} #1" in header and f"{second} #2" in header
    assert storecheck_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("storecheck ")


def test_compare_console_script_is_installed(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    script = shutil.which("storecheck", path=os.path.dirname(sys.executable))
    assert script is not None
    report = _report(tmp_path, "r.json", {"get_session": (0.05, 0.09)})
    completed = subprocess.run([script, "compare", str(report), "--out", str(tmp_path / "o")],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and "get_session" in completed.stdout
    bad = subprocess.run([script, "frobnicate"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown command 'frobnicate'" in bad.stderr


def test_a_plugin_can_tighten_one_target(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import dataclasses

def pytest_storecheck_modify_targets(spec, targets):
    for index, target in enumerate(targets):
        if target.operation == "get_session":
            targets[index] = dataclasses.replace(target, target_ms=0.000001)
"""
    )
    result = pytester.runpytest_subprocess(
        "--store=sqlite", "-k", "target and (get_session or list_messages)",
        "--store-spec=session_history", *QUICK)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*get_session: expected p99 <= 1e-06 ms*"])


def test_the_floor_is_null_when_the_reference_sql_cannot_run_on_the_store(tmp_path: Path) -> None:
    """A SQLite store with a schema of its own gets no floor, and its met target passes."""
    import sqlite3
    from types import SimpleNamespace

    from storecheck.conformance.latency import Budget
    from storecheck.conformance.latency_check import (
        LATENCY_PROPERTY,
        LatencyRun,
        LatencySettings,
        check_target,
    )

    location = tmp_path / "own-schema.db"
    sqlite3.connect(location).execute("CREATE TABLE things (id INTEGER PRIMARY KEY)").close()
    store = SimpleNamespace(sql_dialect="sqlite")
    rows: dict[str, Any] = {}

    def reference_sql(conn: Any, data: Any, i: int) -> Any:
        return conn.execute("SELECT * FROM sessions WHERE id = ?", (i,)).fetchall()

    check_target("session_history", LatencyTarget("get_session", 1, 99, 100.0, "test"),
                 lambda store, data, i: None, reference_sql,
                 LatencyRun(store, None, str(location)), Budget(2, 5, 1.0),
                 LatencySettings("enforce", 1.0), rows.__setitem__)
    row = rows[LATENCY_PROPERTY]
    assert row["verdict"] == "pass"
    assert row["floor_p50_ms"] is None and row["overhead"] is None


def _work(rounds: int) -> None:
    total = 0
    for n in range(rounds):
        total += n * n


def test_a_cost_that_grows_with_the_data_is_caught_and_a_flat_one_is_not() -> None:
    from storecheck.conformance.scaling import Growth, grows_too_fast, measure_growth

    growth = Growth("op", 2.5, "test")
    linear = measure_growth(lambda i: _work(2_000), lambda i: _work(20_000), rounds=5,
                            per_round=5, warmup=2)
    flat = measure_growth(lambda i: _work(20_000), lambda i: _work(20_000), rounds=5,
                          per_round=5, warmup=2)
    assert linear.ratio > 5 and grows_too_fast(growth, linear), linear
    assert flat.ratio < 2 and not grows_too_fast(growth, flat), flat
    # Below the slack a large ratio is timer noise, not growth.
    tiny = measure_growth(lambda i: None, lambda i: _work(20), rounds=5, per_round=5, warmup=2)
    assert not grows_too_fast(growth, tiny), tiny


def test_a_slow_operation_is_measured_in_rounds_cut_by_time_and_a_plain_growth_settles_at_once(
) -> None:
    """A round of a 30 ms call ends after its time with five calls, not twenty-one; rounds
    that nearly all exceed the allowed ratio settle the failure without measuring again,
    and rounds split about evenly around it do not."""
    from storecheck.conformance.scaling import (
        FEWEST_PER_ROUND,
        Growth,
        GrowthMeasurement,
        measure_growth,
        surely_too_fast,
    )

    started = time.perf_counter()
    slow = measure_growth(lambda i: time.sleep(0.003), lambda i: time.sleep(0.03), rounds=3,
                          per_round=21, warmup=0, in_process=True, round_seconds=0.01)
    assert slow.samples == 3 * FEWEST_PER_ROUND, slow
    assert time.perf_counter() - started < 3 * FEWEST_PER_ROUND * 0.033 + 1.0
    assert slow.ratio > 5, slow

    growth = Growth("op", 2.5, "test")

    def rounds(*ratios: float) -> GrowthMeasurement:
        return GrowthMeasurement(len(ratios), 10, 1.0, 1.0 * statistics.median(ratios),
                                 statistics.median(ratios), ratios=ratios)

    assert surely_too_fast(growth, rounds(9, 9, 9, 9, 9, 9, 9, 9, 1))
    assert not surely_too_fast(growth, rounds(9, 9, 9, 9, 9, 9, 9, 1, 1))
    assert not surely_too_fast(growth, rounds(2, 2, 2, 2, 2, 2, 2, 2, 2))


def test_growth_behind_a_wire_is_judged_net_of_its_echo() -> None:
    """0.1 ms growing to 0.4 ms is 4x; behind a 0.9 ms round trip the raw medians say
    1.3x.  A simulated clock makes the costs exact."""
    from storecheck.conformance.scaling import Growth, grows_too_fast, measure_growth

    now = [0]

    def costing(microseconds: int) -> Callable[[int], None]:
        def call(i: int) -> None:
            now[0] += microseconds * 1000
        return call

    def sampler(call: Callable[[int], None], index: int) -> Sample:
        before = now[0]
        call(index)
        return Sample(now[0] - before, now[0] - before, 0)

    growth = Growth("op", 2.5, "test")
    raw = measure_growth(costing(1_000), costing(1_300), rounds=3, per_round=3, warmup=1,
                         sampler=sampler)
    net = measure_growth(costing(1_000), costing(1_300), rounds=3, per_round=3, warmup=1,
                         transport=costing(900), sampler=sampler)
    assert raw.ratio == pytest.approx(1.3) and not grows_too_fast(growth, raw), raw
    assert net.ratio == pytest.approx(4.0) and grows_too_fast(growth, net), net
    assert (net.small_p50_ms, net.large_p50_ms, net.transport_p50_ms) == (1.0, 1.3, 0.9), net
    assert raw.transport_p50_ms is None


def test_scaling_modes_fail_warn_and_record(tmp_path: Path) -> None:
    from storecheck.conformance.latency_check import (
        SCALING_PROPERTY,
        LatencyRun,
        LatencySettings,
        LatencyWarning,
        check_growth,
    )
    from storecheck.conformance.scaling import Growth

    small = LatencyRun(2_000, None, str(tmp_path))
    large = LatencyRun(20_000, None, str(tmp_path))
    growth = Growth("list_everything", 2.5, "a page is a page")
    rows: dict[str, Any] = {}

    def workload(store: Any, data: Any, i: int) -> None:
        _work(store)

    with pytest.raises(pytest.fail.Exception, match=r"list_everything: cost grew .* a page is a"):
        check_growth("spec", growth, workload, small, large,
                     LatencySettings("warn", 1.0, "enforce"), rows.__setitem__)
    assert rows[SCALING_PROPERTY]["verdict"] == "fail"
    with pytest.warns(LatencyWarning, match="list_everything"):
        check_growth("spec", growth, workload, small, large,
                     LatencySettings("enforce", 1.0, "warn"), rows.__setitem__)
    assert rows[SCALING_PROPERTY]["verdict"] == "warn"
    assert rows[SCALING_PROPERTY]["small_rows"] < rows[SCALING_PROPERTY]["large_rows"]


def test_a_store_bound_by_its_floor_fails_past_the_stated_multiple(tmp_path: Path) -> None:
    import sqlite3
    from types import SimpleNamespace

    from storecheck.conformance.latency import Budget
    from storecheck.conformance.latency_check import LatencyRun, LatencySettings, check_target

    location = tmp_path / "store.db"
    with sqlite3.connect(location) as conn:
        conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    reader = sqlite3.connect(location, check_same_thread=False)

    def one_query(conn: Any, data: Any, i: int) -> Any:
        return conn.execute("SELECT * FROM things WHERE id = ?", (i,)).fetchall()

    def twenty_queries(store: Any, data: Any, i: int) -> None:
        for _ in range(20):
            one_query(reader, data, i)

    run = LatencyRun(SimpleNamespace(sql_dialect="sqlite"), None, str(location))
    target = LatencyTarget("get_thing", 1, 99, 100.0, "test", floor_multiple=4.0)
    rows: dict[str, Any] = {}
    check_target("spec", target, twenty_queries, one_query, run, Budget(5, 50, 2.0),
                 LatencySettings("enforce", 1.0), rows.__setitem__, bounded_by_floor=False)
    with pytest.raises(pytest.fail.Exception, match=r"get_thing: the median costs .*x the same SQL"):
        check_target("spec", target, twenty_queries, one_query, run, Budget(5, 50, 2.0),
                     LatencySettings("enforce", 1.0), rows.__setitem__, bounded_by_floor=True)
    reader.close()


def test_scaling_off_skips_the_scaling_checks_only(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--store=sqlite", "--store-spec=session_history",
                                           "--scaling=off", "-k", "get_session", *QUICK)
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*storecheck latency*"])
    assert "storecheck scaling" not in result.stdout.str()


def test_the_chart_fits_its_labels_and_draws_each_target() -> None:
    """The SVG's geometry: no label cut at the left edge, the title clear of the axis, every
    bar inside the picture and a target line per operation that has a target."""
    import xml.etree.ElementTree as ElementTree

    from storecheck.plugin.compare_reports import CHAR_WIDTH, Column, Figures, svg_chart

    long_name = "search_sessions (workspace + status + type + created range + text)"
    columns = [Column(f"{backend} (report.json)", {
        ("session_history", long_name): Figures(0.5 * factor, 2.0 * factor, 2.5 * factor, (),
                                                100.0),
        ("conversations", "get_conversation"): Figures(0.02 * factor, 0.03, 0.05, (), 100.0),
        ("conversations", "untargeted"): Figures(0.1, 0.2, 0.3, ()),
    }) for backend, factor in (("sqlite", 1), ("postgres", 8))]
    root = ElementTree.fromstring(svg_chart(columns))
    ns = "{http://www.w3.org/2000/svg}"
    width = float(root.get("width", "0"))
    texts = root.findall(f"{ns}text")
    title, axis = texts[0], [t for t in texts if t.get("text-anchor") == "middle"]
    assert axis and all(float(t.get("y", "0")) - 11 > float(title.get("y", "0")) for t in axis)
    for text in texts:
        left = float(text.get("x", "0"))
        if text.get("text-anchor") == "end":
            left -= CHAR_WIDTH * len(text.text or "")
        assert left >= 0, text.text
    labels = [t.text for t in texts if t.get("text-anchor") == "end"]
    assert f"session_history / {long_name}" in labels
    for rect in root.findall(f"{ns}rect"):
        assert float(rect.get("x", "0")) + float(rect.get("width", "0")) <= width
    targets = [line for line in root.findall(f"{ns}line") if line.get("class") == "target"]
    assert len(targets) == 2  # one per operation with a target, none for "untargeted"
    assert len({line.get("x1") for line in targets}) == 1  # both at 100 ms


class _ScriptedSampler:
    """Stands in for ThreadSampler: runs the call and reports the scripted times."""

    times = (0, 0, 0)

    def __init__(self) -> None:
        self.closed = False

    def __call__(self, call: Callable[[int], Any], index: int) -> Sample:
        call(index)
        return Sample(*self.times)

    def __enter__(self) -> _ScriptedSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


@pytest.mark.parametrize(("times", "outcome", "said"), [
    # 3 ms a call, 2 of them waiting for a CPU: the machine's load, not the store.
    ((3_000_000, 1_000_000, 2_000_000), "inconclusive", "inconclusive, the machine was busy"),
    # 3 ms a call, 2 of them blocked in the store (a sleep, I/O): the store's own.
    ((3_000_000, 1_000_000, 0), "fail", "--latency-scale=FACTOR"),
])
def test_a_miss_explained_by_load_is_inconclusive_and_one_that_is_not_fails(
    monkeypatch: pytest.MonkeyPatch, times: tuple[int, int, int], outcome: str, said: str,
) -> None:
    from types import SimpleNamespace

    from storecheck.conformance import latency
    from storecheck.conformance.latency import Budget
    from storecheck.conformance.latency_check import (
        LATENCY_PROPERTY,
        LatencyRun,
        LatencySettings,
        LatencyWarning,
        check_target,
    )

    monkeypatch.setattr(_ScriptedSampler, "times", times)
    monkeypatch.setattr(latency, "ThreadSampler", _ScriptedSampler)
    calls: list[int] = []
    rows: dict[str, Any] = {}
    run = LatencyRun(SimpleNamespace(), None, "nowhere")
    target = LatencyTarget("op", 1, 99, 2.0, "test")
    budget = Budget(warmup=3, min_samples=200, seconds=60.0)

    def judged() -> None:
        check_target("spec", target, lambda store, data, i: calls.append(i), None, run, budget,
                     LatencySettings("enforce", 1.0), rows.__setitem__, in_process=True)

    if outcome == "fail":
        with pytest.raises(pytest.fail.Exception, match="--latency=warn") as failed:
            judged()
        assert said in str(failed.value) and "over 200 samples" in str(failed.value)
    else:
        with pytest.warns(LatencyWarning, match=said):
            judged()
    row = rows[LATENCY_PROPERTY]
    assert row["verdict"] == outcome
    # A certain miss is not measured again; a doubtful one is, twice, on fresh calls.
    measured = 200 if outcome == "fail" else 600
    assert calls == list(range(3 + measured)) and row["samples"] == measured
    assert row["judged"]["wall_ms"] == 3.0 and row["judged"]["needed"] == 200
    assert row["machine"]["slowdown"] == pytest.approx(3.0 if outcome != "fail" else 1.0)


@pytest.mark.parametrize("spec", ["session_history", "conversations", "extraction", "telemetry",
                                  "app_meta"])
def test_every_floor_of_the_latency_table_runs_on_the_reference_file(
        tmp_path: Path, spec: str) -> None:
    """A floor whose SQL fails is reported as no floor (right for a store with a schema of
    its own), so a floor broken on the reference's own schema would pass unseen: each runs
    here, on the reference's file seeded as the latency checks seed it."""
    import importlib

    from storecheck.conformance.scaling import SMALL
    from storecheck.reference_impl.backend import SQLITE_BACKEND
    from storecheck.reference_impl.engine import Database

    table = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
    floors = [(target, floor) for target, _, floor in table.TARGETS if floor is not None]
    assert floors, f"{spec} has no floors"
    location = SQLITE_BACKEND.new_location(spec, tmp_path)
    store = SQLITE_BACKEND.open(spec, location)
    database = Database(location)
    try:
        data = table.load(store, True, 40, SMALL)
        conn = database.connection()
        for target, floor in floors:
            for i in range(3):
                floor(conn, data, i)
            assert not conn.in_transaction, f"{target.operation}: the floor left a transaction open"
    finally:
        database.close()
        store.close()


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_scaling_row_names_its_operation_and_reads_are_timed_before_writes(
        spec: str) -> None:
    """Every row of every spec's scaling tables names a spec operation first (that is how
    :func:`reads_first` tells a write row from a read row), and the order the plugin times
    them in puts every read before every write."""
    table = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
    writes = {operation.name for operation in SPECS[spec].operations if operation.writes}
    operations = {operation.name for operation in SPECS[spec].operations}
    for rows in (table.SCALING, getattr(table, "LARGEST_SCALING", ())):
        named = [growth.operation.split(" (")[0] for growth, _ in rows]
        assert set(named) <= operations, f"{spec}: rows named after no operation"
        ordered = [growth.operation.split(" (")[0] in writes
                   for growth, _ in reads_first(spec, rows)]
        assert ordered == sorted(ordered), f"{spec}: a read row timed after a write row"
        assert sorted(map(id, reads_first(spec, rows))) == sorted(map(id, rows))
