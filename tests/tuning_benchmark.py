"""Does the seeds' SQLite tuning make the reference faster?

    .venv/bin/python -m tests.tuning_benchmark [--spec SPEC ...] [--size 10000] [--rounds 15]

Two seeds tune every connection beyond durability: seed 004 (session_history) a 20 MB page
cache and a 256 MB memory map, seed 001 (app_meta) a 64 MB cache, a 128 MB memory map and
temporary storage in memory.  For each such spec the reference store and the same store
with the seed's settings (``ConnectionRules.cache_kib``, ``mmap_bytes``, ``temp_store``)
each load the latency table's dataset of ``--size`` rows; then every latency and scaling
workload of the spec is timed on both in alternating rounds (the order swapped each round,
so that drift of a shared machine falls on both alike).

It prints, per timed row, each store's median call and the median of the per-round ratios
of medians (tuned / reference): below 1 the seed's tuning helps.  A benchmark, not a test:
what it shows decided which settings the reference adopts (the spec modules say).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storecheck.reference_impl.engine.connection import ConnectionRules

from tests.index_power_benchmark import timed_workloads
from tests.mutants.missing_indexes import REFERENCES

MIB = 1024 * 1024
SEED_TUNING: dict[str, dict[str, Any]] = {
    "session_history": {"cache_kib": 20_000, "mmap_bytes": 256 * MIB},
    "app_meta": {"cache_kib": 64 * 1024, "mmap_bytes": 128 * MIB, "temp_store": "MEMORY"},
}
"""Each seed's own settings (seed 004 lines 905-908, seed 001 line 95)."""
CALLS_PER_ROUND = 20
WARMUP = 10


def tuned(store_class: type[Any], settings: dict[str, Any]) -> type[Any]:
    """The reference store with the seed's settings on every connection it opens."""
    overrides = {name: dataclasses.replace(rules, **settings)
                 for name in ("rules", "event_rules")
                 if isinstance(rules := getattr(store_class, name, None), ConnectionRules)}
    return type(f"Tuned{store_class.__name__}", (store_class,), overrides)


def _round(workload: Callable[..., Any], store: Any, data: Any, first: int) -> float:
    """The median of one round's calls, in microseconds."""
    times = []
    for index in range(first, first + CALLS_PER_ROUND):
        start = time.perf_counter_ns()
        workload(store, data, index)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def compare(spec: str, settings: dict[str, Any], size: int, rounds: int,
            workdir: Path) -> list[tuple[str, float, float, float]]:
    """``(row, reference µs, tuned µs, median per-round ratio)`` for every timed row."""
    reference_class = next(store for store in REFERENCES if store.spec == spec)
    table = __import__(f"storecheck.conformance.suites.{spec}.latency_table",
                       fromlist=["load"])
    calls = WARMUP + rounds * CALLS_PER_ROUND
    stores = []
    for label, store_class in (("reference", reference_class),
                               ("tuned", tuned(reference_class, settings))):
        store = store_class(str(workdir / f"{spec}-{label}.db"))
        print(f"  {spec}: loading {size:,} rows into the {label} store", file=sys.stderr)
        stores.append((store, table.load(store, True, calls, size)))
    rows = []
    try:
        for row, workload in timed_workloads(spec):
            for store, data in stores:
                for index in range(WARMUP):
                    workload(store, data, index)
            medians: list[list[float]] = [[], []]
            for number in range(rounds):
                first = WARMUP + number * CALLS_PER_ROUND
                order = (0, 1) if number % 2 == 0 else (1, 0)
                for which in order:
                    store, data = stores[which]
                    medians[which].append(_round(workload, store, data, first))
            ratios = [t / r for r, t in zip(*medians, strict=True) if r > 0]
            rows.append((row, statistics.median(medians[0]), statistics.median(medians[1]),
                         statistics.median(ratios)))
    finally:
        for store, _ in stores:
            store.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", action="append", choices=sorted(SEED_TUNING),
                        help="the spec to measure (repeatable; default: every tuned seed's)")
    parser.add_argument("--size", type=int, default=10_000,
                        help="rows in the dataset (the latency table's LARGE is 10,000)")
    parser.add_argument("--setting", action="append", choices=sorted(
                            {name for tuning in SEED_TUNING.values() for name in tuning}),
                        help="tune only this setting of the seed's (repeatable; default: all)")
    parser.add_argument("--rounds", type=int, default=15,
                        help=f"alternating rounds of {CALLS_PER_ROUND} calls per store and row")
    args = parser.parse_args()
    for spec in args.spec or sorted(SEED_TUNING):
        settings = {name: value for name, value in SEED_TUNING[spec].items()
                    if not args.setting or name in args.setting}
        listed = ", ".join(f"{name}={value}" for name, value in settings.items())
        print(f"\n{spec} ({args.size:,} rows; tuned: {listed})")
        print(f"{'timed row':<58} {'reference':>10} {'tuned':>10} {'ratio':>7}")
        with tempfile.TemporaryDirectory() as workdir:
            rows = compare(spec, settings, args.size, args.rounds, Path(workdir))
        for row, reference, tuned_us, ratio in rows:
            print(f"{row[:58]:<58} {reference:>8.1f}µs {tuned_us:>8.1f}µs {ratio:>7.2f}")
        ratios = [ratio for *_, ratio in rows]
        print(f"median ratio over {len(rows)} rows: {statistics.median(ratios):.3f} "
              f"(best {min(ratios):.2f}, worst {max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
