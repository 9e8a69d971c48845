"""Latency power: is a forgotten index on a timed query caught at the quick profile?

    .venv/bin/python -m tests.index_power_benchmark [--spec SPEC ...] [--profile quick]
                     [--runs 1]

1. Which indexes the timed queries use: each spec's latency and scaling workloads run a few
   times on the SQLite reference over a copy of their dataset of 1,000 rows, every
   statement the store executes is traced, and each is asked of SQLite's planner
   (``EXPLAIN QUERY PLAN``).
2. For every index a timed query uses, the store that forgets it
   (:mod:`tests.mutants.missing_indexes`): its plans traced the same way, which tells a loss
   another index makes up for from one that makes a plan scan a whole table or sort in a
   temporary B-tree; and those stores, one to a suite run, through the ``latency``
   checks (targets, floors and scaling) at the profile, ``--runs`` times.  A store is caught
   when any of its latency or scaling rows fails.

It prints, per index, the timed rows that use it, what its loss does to their plans and how
often it was caught; then the indexes no timed query uses (their loss costs nothing the
tables time, which a latency check cannot see and need not).  A benchmark, not a test: the runs take minutes
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


def traced_plans(store_class: type[Any], workdir: Path) -> dict[str, set[str]]:
    """Timed row -> every step of the planner's plans for the statements its workload runs."""
    spec = store_class.spec
    table = importlib.import_module(f"storecheck.conformance.suites.{spec}.latency_table")
    path = str(workdir / f"{store_class.__name__}.db")
    store = store_class(path)
    plans: dict[str, set[str]] = defaultdict(set)
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
                plans[row_name].update(str(detail) for *_, detail in plan)
        planner.close()
    finally:
        store.close()
    return plans


def indexes_used(plans: dict[str, set[str]]) -> dict[str, set[str]]:
    """Index name -> the timed rows whose plans go through it."""
    used: dict[str, set[str]] = defaultdict(set)
    for row_name, details in plans.items():
        for detail in details:
            for match in _USES_INDEX.finditer(detail):
                used[match.group(1)].add(row_name)
    return used


def degraded(reference: dict[str, set[str]], mutant: dict[str, set[str]]
             ) -> dict[str, list[str]]:
    """The timed rows whose plans gain a whole-table scan, and those that gain a sort in a
    temporary B-tree, that the reference's plans do not have."""
    def steps(details: set[str], kind: str) -> set[str]:
        if kind == "scan":
            return {d for d in details if d.startswith("SCAN") and "INDEX" not in d}
        return {d for d in details if "TEMP B-TREE" in d}

    return {kind: sorted(row for row, details in mutant.items()
                         if steps(details, kind) - steps(reference.get(row, set()), kind))
            for kind in ("scan", "sort")}


PER_RUN = 1
"""Mutants per suite run: a run must end within the suite runner's ten minutes, and three
of telemetry's did not on a loaded machine (its latency rows time a 10,000 x 384 search)."""


def caught(spec: str, names: list[str], profile: str, workdir: Path) -> dict[str, bool]:
    """Suite runs of the latency checks, each with up to :data:`PER_RUN` mutants as backends."""
    found: dict[str, bool] = {}
    for first in range(0, len(names), PER_RUN):
        group = names[first:first + PER_RUN]
        refs = [f"tests.mutants.missing_indexes:{name}" for name in group]
        run = run_suite(workdir, ",".join(refs), f"--store-spec={spec}", "-m", "latency",
                        profile=profile)
        backends = {b["ref"]: b["name"] for b in run.report.get("backends", [])}
        failed = {row["backend"] for row in run.report.get("results", []) if row["failed"]}
        found.update({name: backends.get(ref) in failed
                      for name, ref in zip(group, refs, strict=True)})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", action="append", help="only this spec (repeatable)")
    parser.add_argument("--profile", default="quick", help="the suite profile (quick)")
    parser.add_argument("--runs", type=int, default=1, help="suite runs per spec (1)")
    options = parser.parse_args()
    totals = {"used": 0, "caught": 0, "unused": 0, "costly": 0, "costly caught": 0}
    for store_class in REFERENCES:
        spec = store_class.spec
        if options.spec and spec not in options.spec:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            reference_plans = traced_plans(store_class, Path(scratch))
            used = indexes_used(reference_plans)
            indexes = [name for name, _, _ in secondary_indexes(store_class.migrations)]
            timed = [name for name in indexes if name in used]
            names = [f"{spec}_without_{name}" for name in timed]
            costlier = {name: degraded(reference_plans,
                                       traced_plans(MUTANTS[name][0], Path(scratch)))
                        for name in names}
        counts = dict.fromkeys(names, 0)
        started = time.monotonic()
        for _ in range(options.runs):
            with tempfile.TemporaryDirectory() as scratch:
                for name, hit in caught(spec, names, options.profile, Path(scratch)).items():
                    counts[name] += hit
        print(f"== {spec}: {len(timed)} of {len(indexes)} indexes used by a timed query; "
              f"{options.runs} run(s) at {options.profile} in {time.monotonic() - started:.0f} s")
        for index, name in zip(timed, names, strict=True):
            cost = "; ".join(f"without it {kind}s in {', '.join(rows)}"
                             for kind, rows in costlier[name].items() if rows
                             ) or "another index serves every plan as well"
            print(f"  {counts[name]}/{options.runs} caught  {index} (used by "
                  f"{', '.join(sorted(used[index]))}); {cost}")
        unused = [name for name in indexes if name not in used]
        print(f"  no timed query uses: {', '.join(unused) or 'none'}")
        totals["used"] += len(timed) * options.runs
        totals["caught"] += sum(counts.values())
        totals["costly"] += sum(bool(costlier[name]["scan"]) for name in names) * options.runs
        totals["costly caught"] += sum(counts[name] for name in names if costlier[name]["scan"])
        totals["unused"] += len(unused)
    print(f"== caught {totals['caught']} of {totals['used']} (index x run) on timed queries, "
          f"{totals['costly caught']} of the {totals['costly']} whose loss makes a plan scan a "
          f"whole table; {totals['unused']} indexes no timed query uses")
    return 0 if totals["costly caught"] == totals["costly"] else 1


if __name__ == "__main__":
    sys.exit(main())
