"""Verdicts on a busy machine: no false failure of the reference, and every timing mutant
still caught.

    .venv/bin/python -m tests.busy_machine_benchmark [--runs 5] [--burners 4]
                     [--main-job-marks "latency"] [--skip-main-job] [--skip-mutants]

1. The main job (``pytest --store=sqlite``, default profile) ``--runs`` times with
   ``--burners`` CPU-burning processes beside it (four on two cores is a load average
   about 5, a shared CI runner's): every failure is a false one, since the reference is
   correct.  ``--main-job-marks`` narrows it to a marker expression (the latency and
   scaling checks are the ones timing can fail).
2. Every latency and complexity mutant in ``tests/mutants/`` (those whose category is
   ``latency``), each group in one suite run at the quick profile as the project's tests
   run them, ``--runs`` times on a quiet machine and ``--runs`` times under the same load:
   how often each is caught.

It prints each run as it ends, then the totals; the figures are medians and counts from
this one run of the script, so quote them together.  A benchmark, not a test: it takes
about an hour with the defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.suite_runner import ROOT, run_suite
from tests.test_mutants import GROUPS

BURN = "import itertools\nfor _ in itertools.count(): pass\n"


@contextlib.contextmanager
def burning(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU until the block ends."""
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(count)]
    try:
        time.sleep(1.0 if count else 0)
        yield
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()


def main_job(workdir: Path, marks: str | None) -> tuple[int, list[str], float, float]:
    """One main-job run: exit code, failed check ids, wall seconds, load average at the end."""
    report = workdir / "main-job.json"
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "--store=sqlite", f"--store-report={report}",
               "-p", "no:cacheprovider", "-q"] + (["-m", marks] if marks else [])
    done = subprocess.run(command, cwd=workdir, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    data = json.loads(report.read_text()) if report.exists() else {}
    failed = [f"{row['nodeid']}: {row['message'][:300]}" for row in data.get("failures", [])]
    inconclusive = [f"{row['spec']}/{row['operation']} (inconclusive)"
                    for row in data.get("latency", []) if row["verdict"] == "inconclusive"]
    if done.returncode not in (0, 1):
        failed.append(f"exit {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.returncode, failed + inconclusive, seconds, os.getloadavg()[0]


def mutant_round(workdir: Path) -> dict[str, bool]:
    """Each timing mutant: caught (its latency checks failed) in this round?"""
    caught: dict[str, bool] = {}
    for group, mutants in GROUPS.items():
        if not group.endswith("latency"):
            continue
        run = run_suite(workdir, ",".join(m.ref for m in mutants), "-m", "latency")
        names = {backend["ref"]: backend["name"] for backend in run.report.get("backends", [])}
        for mutant in mutants:
            failed = {row["category"] for row in run.report.get("results", [])
                      if row["backend"] == names.get(mutant.ref) and row["failed"]}
            caught[f"{mutant.spec}/{mutant.name}"] = "latency" in failed
    return caught


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each part (default 5)")
    parser.add_argument("--burners", type=int, default=4,
                        help="CPU-burning processes beside the loaded runs (default 4)")
    parser.add_argument("--main-job-marks", default=None,
                        help="a -m expression narrowing the main job (default: all of it)")
    parser.add_argument("--skip-main-job", action="store_true", help="only the mutants")
    parser.add_argument("--skip-mutants", action="store_true", help="only the main job")
    args = parser.parse_args(argv)
    false_failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        if not args.skip_main_job:
            print(f"== the main job under {args.burners} burners, {args.runs} runs"
                  + (f" (-m {args.main_job_marks!r})" if args.main_job_marks else ""), flush=True)
            for number in range(1, args.runs + 1):
                with burning(args.burners):
                    code, failed, seconds, load = main_job(workdir, args.main_job_marks)
                false_failures += bool(failed) or code != 0
                print(f"run {number}: exit {code} in {seconds:.0f} s, load average {load:.1f}; "
                      f"{'; '.join(failed) or 'no failure'}", flush=True)
            print(f"false failures: {false_failures} of {args.runs} runs", flush=True)
        if not args.skip_mutants:
            tally: dict[str, dict[str, int]] = {}
            for label, burners in (("quiet", 0), ("loaded", args.burners)):
                print(f"== timing mutants, {label} ({burners} burners), {args.runs} runs",
                      flush=True)
                for number in range(1, args.runs + 1):
                    with burning(burners):
                        caught = mutant_round(workdir)
                    for name, hit in caught.items():
                        tally.setdefault(name, {"quiet": 0, "loaded": 0})[label] += hit
                    missed = sorted(name for name, hit in caught.items() if not hit)
                    print(f"run {number}: {sum(caught.values())}/{len(caught)} caught"
                          + (f"; missed {', '.join(missed)}" if missed else ""), flush=True)
            print(f"{'mutant':<60} {'quiet':>7} {'loaded':>7}")
            for name, counts in sorted(tally.items()):
                print(f"{name:<60} {counts['quiet']:>4}/{args.runs} {counts['loaded']:>4}/{args.runs}")
    return 1 if false_failures else 0


if __name__ == "__main__":
    sys.exit(main())
