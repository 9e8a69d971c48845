"""Latency power: is a forgotten index on a timed query caught at the quick profile?

    .venv/bin/python -m tests.index_power_benchmark [--spec SPEC ...] [--profile quick]
                     [--runs 1]

1. Which indexes the timed queries use: each spec's latency and scaling workloads run a few
   times on the SQLite reference over a copy of their dataset of 1,000 rows, every
   statement the store executes is traced, and each is asked of SQLite's planner
   (``EXPLAIN QUERY PLAN``).
2. For every index a timed query uses, the store that forgets it
   (:mod:`tests.mutants.missing_indexes`): all of one spec's in one suite run of the
   ``latency`` checks (targets, floors and scaling) at the profile, ``--runs`` times.  A
   mutant is caught when any of its latency or scaling rows fails.

It prints, per index, the timed operations that use it and how often its loss was caught;
then the indexes no timed query uses (their loss costs nothing the tables time, which a
latency check cannot see and need not).  A benchmark, not a test: the runs take minutes
per spec.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.mutants.missing_indexes import MUTANTS, REFERENCES, secondary_indexes
from tests.suite_runner import run_suite

SIZE = 1_000
CALLS = 3
_USES_INDEX = re.compile(r"\bINDEX (\w+)")
_PLANNED = ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT", "REPLACE")


def timed_workloads(spec: str) -> list[tuple[str, Any]]:
    """Every workload of the spec's latency and scaling tables, by the row's name."""
    table = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
    return ([(target.operation, workload) for target, workload, _ in table.TARGETS]
            + [(f"{growth.operation} (scaling)", workload)
               for growth, workload in getattr(table, "SCALING", ())])


def indexes_used(store_class: type[Any], workdir: Path) -> dict[str, set[str]]:
    """Index name -> the timed rows whose statements the planner runs through it."""
    spec = store_class.spec
    table = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
    path = str(workdir / f"{spec}.db")
    store = store_class(path)
    used: dict[str, set[str]] = defaultdict(set)
    try:
        data = table.load(store, True, CALLS, SIZE)
        planner = sqlite3.connect(path)
        for row_name, workload in timed_workloads(spec):
            traced: list[str] = []
            connection = store.db.connection()
            connection.set_trace_callback(traced.append)
            try:
                for i in range(CALLS):
                    workload(store, data, i)
            finally:
                connection.set_trace_callback(None)
            for statement in traced:
                if not statement.lstrip().upper().startswith(_PLANNED):
                    continue
                try:
                    plan = planner.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
                except sqlite3.Error:
                    continue  # a statement of a temporary object the planner cannot see
                for *_, detail in plan:
                    for match in _USES_INDEX.finditer(str(detail)):
                        used[match.group(1)].add(row_name)
        planner.close()
    finally:
        store.close()
    return used


def caught(spec: str, names: list[str], profile: str, workdir: Path) -> dict[str, bool]:
    """One suite run of the latency checks with every named mutant as a backend."""
    refs = [f"tests.mutants.missing_indexes:{name}" for name in names]
    run = run_suite(workdir, ",".join(refs), f"--store-spec={spec}", "-m", "latency",
                    profile=profile)
    backends = {backend["ref"]: backend["name"] for backend in run.report.get("backends", [])}
    failed = {row["backend"] for row in run.report.get("results", []) if row["failed"]}
    return {name: backends.get(ref) in failed for name, ref in zip(names, refs, strict=True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", action="append", help="only this spec (repeatable)")
    parser.add_argument("--profile", default="quick", help="the suite profile (quick)")
    parser.add_argument("--runs", type=int, default=1, help="suite runs per spec (1)")
    options = parser.parse_args()
    totals = {"used": 0, "caught": 0, "unused": 0}
    for store_class in REFERENCES:
        spec = store_class.spec
        if options.spec and spec not in options.spec:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            used = indexes_used(store_class, Path(scratch))
        indexes = [name for name, _, _ in secondary_indexes(store_class.migrations)]
        timed = [name for name in indexes if name in used]
        names = [f"{spec}_without_{name}" for name in timed]
        assert all(name in MUTANTS for name in names)
        counts = dict.fromkeys(names, 0)
        started = time.monotonic()
        for _ in range(options.runs):
            with tempfile.TemporaryDirectory() as scratch:
                for name, hit in caught(spec, names, options.profile, Path(scratch)).items():
                    counts[name] += hit
        print(f"== {spec}: {len(timed)} of {len(indexes)} indexes used by a timed query; "
              f"{options.runs} run(s) at {options.profile} in {time.monotonic() - started:.0f} s")
        for index, name in zip(timed, names, strict=True):
            print(f"  {counts[name]}/{options.runs} caught  {index}: "
                  f"{', '.join(sorted(used[index]))}")
        unused = [name for name in indexes if name not in used]
        print(f"  no timed query uses: {', '.join(unused) or 'none'}")
        totals["used"] += len(timed) * options.runs
        totals["caught"] += sum(counts.values())
        totals["unused"] += len(unused)
    print(f"== caught {totals['caught']} of {totals['used']} (index x run) on timed queries; "
          f"{totals['unused']} indexes no timed query uses")
    return 0 if totals["caught"] == totals["used"] else 1


if __name__ == "__main__":
    sys.exit(main())
