"""The conformance matrix: outcomes per backend x spec x category, and the JSON report."""

from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.checks import BROKEN_SEPARATOR
from storecheck.conformance.hermitage import ANOMALIES, CASES
from storecheck.conformance.isolation import ISOLATION_TABLE_PROPERTY
from storecheck.conformance.latency_check import LATENCY_PROPERTY, SCALING_PROPERTY
from storecheck.plugin.partial import NOT_IMPLEMENTED_PROPERTY
from storecheck.plugin.selection import Plan

_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]*")
CATEGORIES = ("model", "acid", "fk", "migration", "concurrency", "isolation", "badinput",
              "latency")
PROPERTY = "storecheck"
REPORT_FORMAT = 1


@dataclass
class Failure:
    nodeid: str
    backend: str
    spec: str
    category: str
    operation: str
    message: str
    rules: list[str] = field(default_factory=list)
    """Each rule the check found broken (several where it went on past the first)."""


@dataclass(eq=False)  # registered as a plugin, so it must stay hashable
class ResultBook:
    """Final outcome of each check, fed from ``pytest_runtest_logreport``."""

    outcomes: dict[str, tuple[dict[str, str], str]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    latency: list[dict[str, Any]] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    isolation: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each backend's measured anomaly table (every spec's suite measures the same engine,
    so one per backend)."""
    known: dict[str, dict[str, str]] = field(default_factory=dict)
    """Checks that failed as the --store-known-failures manifest says, by node id."""
    unmatched_known: list[Any] = field(default_factory=list)
    """Manifest entries that matched no collected check (filled where checks are collected)."""
    blocked: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Checks skipped for an operation their backend declares it lacks, by (backend, spec,
    operation)."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        labels = dict(_labels(report))
        if not labels:
            return
        if report.when == "call":
            tables = {LATENCY_PROPERTY: self.latency, SCALING_PROPERTY: self.scaling}
            for name, value in report.user_properties:
                if name in tables and isinstance(value, dict):
                    tables[name].append({"backend": labels["backend"], "spec": labels["spec"],
                                         **value})
                elif name == ISOLATION_TABLE_PROPERTY and isinstance(value, dict):
                    self.isolation.setdefault(labels["backend"],
                                              {"backend": labels["backend"], **value})
        needed = [value for name, value in report.user_properties
                  if name == NOT_IMPLEMENTED_PROPERTY]
        if needed and report.skipped:
            if self.outcomes.get(report.nodeid, (labels, ""))[1] != "not_implemented":
                self.blocked[(labels["backend"], labels["spec"], str(needed[0]))] += 1
            self.outcomes[report.nodeid] = (labels, "not_implemented")
            return
        if getattr(report, "wasxfail", None) is not None and report.skipped:
            self.known[report.nodeid] = {**labels, "nodeid": report.nodeid,
                                         "reason": str(report.wasxfail)}
            self.outcomes[report.nodeid] = (labels, "known")
            return
        if report.when == "call" or report.outcome != "passed":
            previous = self.outcomes.get(report.nodeid, (labels, "passed"))[1]
            outcome = "failed" if "failed" in (previous, report.outcome) else report.outcome
            if report.when == "teardown" and report.outcome == "passed":
                return
            self.outcomes[report.nodeid] = (labels, outcome)
        if report.failed and report.nodeid not in self.failures:
            self.failures[report.nodeid] = Failure(
                report.nodeid, labels["backend"], labels["spec"], labels["category"],
                labels["operation"], _message(report), _rules(report),
            )

    def matrix(self) -> dict[tuple[str, str, str], Counter[str]]:
        cells: dict[tuple[str, str, str], Counter[str]] = {}
        for labels, outcome in self.outcomes.values():
            key = (labels["backend"], labels["spec"], labels["category"])
            cells.setdefault(key, Counter())[outcome] += 1
        return cells


def _labels(report: pytest.TestReport) -> dict[str, str]:
    for name, value in report.user_properties:
        if name == PROPERTY and isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    return {}


MESSAGE_CHARS = 600
"""A failure's message as the FAILED line and the report carry it: long enough for the
finding (a message that lists the offending calls after a colon keeps the first of them)."""


def _message(report: pytest.TestReport, limit: int | None = MESSAGE_CHARS) -> str:
    """The failure's message on one line: the exception's lines joined, its name dropped,
    cut at ``limit`` characters."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    # Hypothesis adds the failing steps to the message; the rerun replays them in full.
    text = _FAILING_CASE.split(text, maxsplit=1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = " ".join(lines) or "failed"
    exception_name, _, rest = line.partition(": ")
    if rest and _EXCEPTION_NAME.fullmatch(exception_name):
        line = rest
    return line if limit is None else _cut(line)


_FAILING_CASE = re.compile(r"^(?:Failing test case|Falsifying example)\b", re.MULTILINE)
_BROKEN = re.compile(r"\d+ expectations broken: \(1\) ")
_NEXT_BROKEN = re.compile(re.escape(BROKEN_SEPARATOR) + r"\(\d+\) ")


def _rules(report: pytest.TestReport) -> list[str]:
    """The rules a failure names: one, or each of a check's broken expectations."""
    message = _message(report, limit=None)
    found = _BROKEN.match(message)
    rules = _NEXT_BROKEN.split(message[found.end():]) if found else [message]
    return [_cut(rule) for rule in rules]


def _cut(line: str) -> str:
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS - 3] + "..."


def terminal_lines(book: ResultBook) -> list[str]:
    cells = book.matrix()
    if not cells:
        return ["no conformance check ran"]
    rows = sorted({(backend, spec) for backend, spec, _ in cells})
    width = max(len(f"{b} / {s}") for b, s in rows)
    lines = [f"{'backend / spec':<{width}}  " + "  ".join(f"{c:>13}" for c in CATEGORIES),
             "cells: passed/failed/skipped" + (", +N known failures" if book.known else "")
             + (", +N not implemented" if book.blocked else "")]
    for backend, spec in rows:
        parts = []
        for category in CATEGORIES:
            count = cells.get((backend, spec, category))
            known = "" if count is None else "".join(
                f"+{count[outcome]}{mark}" for outcome, mark in
                (("known", "k"), ("not_implemented", "ni")) if count[outcome])
            parts.append(f"{'-':>13}" if count is None else
                         f"{count['passed']}/{count['failed']}/{count['skipped']}{known}".rjust(13))
        lines.append(f"{backend + ' / ' + spec:<{width}}  " + "  ".join(parts))
    for failure in book.failures.values():
        lines.append(
            f"FAILED {failure.spec} [{failure.category}] {failure.operation} on "
            f"{failure.backend}: {failure.message}"
        )
    rules = broken_rules(book)
    if len(rules) < len(book.failures) or any(len(f.rules) > 1 for f in book.failures.values()):
        lines.append(f"broken rules ({len(rules)}, from {len(book.failures)} failed checks):")
        lines.extend(f"  {rule['backend']}: {rule['rule']} ({rule['checks']} "
                     f"check{'s' if rule['checks'] > 1 else ''})" for rule in rules)
    return lines


def broken_rules(book: ResultBook) -> list[dict[str, Any]]:
    """The failures grouped by backend and the rule each broke (its message up to what
    the store did instead), most checks first: one fault often fails several checks."""
    grouped: dict[tuple[str, str], list[Failure]] = {}
    for failure in book.failures.values():
        for broken in failure.rules or [failure.message]:
            rule = broken.split("; got ", 1)[0]
            grouped.setdefault((failure.backend, rule), []).append(failure)
    return [{"backend": backend, "rule": rule, "checks": len(failures),
             "specs": sorted({f.spec for f in failures}),
             "nodeids": [f.nodeid for f in failures]}
            for (backend, rule), failures in sorted(grouped.items(),
                                                     key=lambda item: (-len(item[1]), item[0]))]


def known_lines(book: ResultBook) -> list[str]:
    lines = [f"KNOWN {row['spec']} [{row['category']}] {row['operation']} on {row['backend']}: "
             f"{row['reason'].removeprefix('known failure: ')} ({nodeid})"
             for nodeid, row in book.known.items()]
    lines += [f"UNUSED [{entry.backend}] {entry.pattern!r} matched no check that ran "
              f"({entry.reason})" for entry in book.unmatched_known]
    return lines


FULL_TABLES_HINT = "-v shows every row; --store-report keeps them all"


def _passed_rows(rows: list[dict[str, Any]], full: bool) -> tuple[list[dict[str, Any]], str]:
    """The rows to print, and a line for those left out: all under ``full``, else the ones
    a person must act on (any verdict but a pass)."""
    if full:
        return rows, ""
    shown = [row for row in rows if row["verdict"] != "pass"]
    hidden = len(rows) - len(shown)
    if not hidden:
        return shown, ""
    passed = f"{hidden} more passed" if shown else f"all {hidden} passed"
    return shown, f"{passed} ({FULL_TABLES_HINT})"


def latency_lines(book: ResultBook, full: bool = True) -> list[str]:
    if not book.latency:
        return []
    header = (f"{'backend / spec / operation':<62} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} "
              f"{'samples':>7} {'target':>12} {'verdict':>12} {'vs raw':>7}")
    rows, left_out = _passed_rows(book.latency, full)
    lines = [header] if rows else []
    for row in rows:
        name = f"{row['backend']} / {row['spec']} / {row['operation']}"
        target = f"p{row['percentile']:g}<{row['target_ms']:g}"
        overhead = "-" if row["overhead"] is None else f"{row['overhead']:.2f}x"
        lines.append(f"{name:<62} {row['p50_ms']:>9.3f} {row['p95_ms']:>9.3f} "
                     f"{row['p99_ms']:>9.3f} {row['samples']:>7} {target:>12} "
                     f"{row['verdict']:>12} {overhead:>7}")
        wire = row.get("transport")
        if wire:
            # An exec: backend's row is judged net of the echo: show what was judged.
            label = f"  net of the wire (echo p50 {wire['p50_ms']:.3f} ms)"
            lines.append(f"{label:<62} {wire['net_p50_ms']:>9.3f} {wire['net_p95_ms']:>9.3f} "
                         f"{wire['net_p99_ms']:>9.3f}")
    return lines + ([left_out] if left_out else [])


def scaling_lines(book: ResultBook, full: bool = True) -> list[str]:
    if not book.scaling:
        return []
    header = (f"{'backend / spec / operation':<62} {'small ms':>9} {'large ms':>9} "
              f"{'growth':>7} {'allowed':>8} {'verdict':>7}")
    rows, left_out = _passed_rows(book.scaling, full)
    lines = [header] if rows else []
    for row in rows:
        name = f"{row['backend']} / {row['spec']} / {row['operation']}"
        lines.append(f"{name:<62} {row['small_p50_ms']:>9.3f} {row['large_p50_ms']:>9.3f} "
                     f"{row['ratio']:>6.2f}x {row['allowed']:>7g}x {row['verdict']:>7}")
        if row.get("transport_p50_ms") is not None:
            lines.append(f"  growth net of the wire (echo p50 {row['transport_p50_ms']:.3f} ms)")
    return lines + ([left_out] if left_out else [])


_TITLES = {case.name: case.title for case in CASES}


def isolation_lines(book: ResultBook, full: bool = True) -> list[str]:
    """Per backend, anomaly x isolation level of its engine: prevented (and how) or
    exhibited, with a ``!`` where the cell differs from the published table; unless
    ``full``, a table that matches the published one in every cell is one line."""
    lines = []
    for backend, table in sorted(book.isolation.items()):
        if not full and all(cell["verdict"] == cell["published"] for cell in table["cells"]):
            lines.append(f"{backend} ({table['engine']} engine): all {len(table['cells'])} "
                         f"cells match the published table ({FULL_TABLES_HINT})")
            continue
        levels = list(dict.fromkeys(cell["level"] for cell in table["cells"]))
        cells = {(cell["anomaly"], cell["level"]): cell for cell in table["cells"]}
        lines.append(f"{backend} ({table['engine']} engine; compared with {table['source']})")
        width = max(len(f"{name} {title}") for name, title in _TITLES.items()) + 2
        lines.append(f"{'anomaly':<{width}}" + "".join(f"{level:>30}" for level in levels))
        for anomaly in ANOMALIES:
            shown = []
            for level in levels:
                cell = cells.get((anomaly, level))
                text = "-" if cell is None else cell["verdict"] + (
                    f" ({', '.join(cell['how'])})" if cell["how"] and
                    cell["verdict"] == "prevented" else "")
                if cell is not None and cell["verdict"] != cell["published"]:
                    text = "! " + text
                shown.append(f"{text:>30}")
            lines.append(f"{anomaly + ' ' + _TITLES[anomaly]:<{width}}" + "".join(shown))
        lines.append("! = differs from the published cell")
    return lines


def build_report(book: ResultBook, plan: Plan, exit_status: int) -> dict[str, Any]:
    cells = book.matrix()
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).isoformat(),
        "profile": plan.profile.name,
        "exit_status": exit_status,
        "environment": {
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "platform": platform.platform(),
            "sqlite": sqlite3.sqlite_version,
            "drivers": {"sqlite3": f"stdlib sqlite3 of Python {platform.python_version()}"},
            "cpu_count": os.cpu_count(),
            "packages": {name: _version(name) for name in
                         ("storecheck", "pytest", "hypothesis", "sqlglot", "pytest-xdist")},
        },
        "backends": [
            {"name": item.backend.name, "ref": item.ref, "specs": list(item.specs),
             "capabilities": sorted(item.capabilities)}
            for item in plan.selected
        ],
        "results": [
            {"backend": backend, "spec": spec, "category": category,
             "passed": count["passed"], "failed": count["failed"], "skipped": count["skipped"],
             "known": count["known"], "not_implemented": count["not_implemented"]}
            for (backend, spec, category), count in sorted(cells.items())
        ],
        "not_implemented": [
            {"backend": backend, "spec": spec, "operation": operation, "checks": checks}
            for (backend, spec, operation), checks in sorted(book.blocked.items())
        ],
        "failures": [vars(failure) for failure in book.failures.values()],
        "broken_rules": broken_rules(book),
        "latency": book.latency,
        "scaling": book.scaling,
        "isolation": list(book.isolation.values()),
        "known_failures": list(book.known.values()),
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
