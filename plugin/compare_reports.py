"""``storecheck compare``: several reports side by side, a chart, and a regression gate."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from storecheck.plugin.regression import STATISTICS, ratio_lower_bound

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """A report that is missing or not a storecheck report: exit 2, not a regression."""


@dataclass(frozen=True)
class Figures:
    """One operation's latency in one column."""

    p50: float
    p95: float
    p99: float
    samples_ms: tuple[float, ...]
    """The raw samples when the report kept them (empty for reports that did not)."""
    target_ms: float | None = None

    def stat(self, name: str) -> float:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99}[name]


@dataclass(frozen=True)
class Column:
    """One backend of one report."""

    label: str
    figures: dict[tuple[str, str], Figures]
    """(spec, operation) -> its figures."""


def _figures(row: dict[str, Any]) -> Figures:
    return Figures(float(row["p50_ms"]), float(row.get("p95_ms", row["p99_ms"])),
                   float(row["p99_ms"]),
                   tuple(float(value) / 1e3 for value in row.get("samples_us") or ()),
                   float(row["target_ms"]) if row.get("target_ms") is not None else None)


def _report_labels(paths: Sequence[Path]) -> list[str]:
    """File names, or enough of each path to tell reports with the same name apart."""
    names = Counter(path.name for path in paths)
    labels = []
    for index, path in enumerate(paths, start=1):
        labels.append(path.name if names[path.name] == 1 else f"{path} #{index}")
    return labels


SETTINGS: Final = (("profile", lambda report: report.get("profile")),
                   ("storecheck version",
                    lambda report: report.get("environment", {}).get("packages", {})
                    .get("storecheck")),
                   ("machine", lambda report: _machine(report.get("environment", {}))))
"""What must match for two reports' timings to compare: a quick profile's figures rest on
fewer samples, and another build or machine times other work."""


def _machine(environment: dict[str, Any]) -> str | None:
    if not environment:
        return None
    return f"{environment.get('platform')}, {environment.get('cpu_count')} CPUs"


def differences(paths: Sequence[Path]) -> list[str]:
    """A warning for each setting the reports do not share (reports without it aside)."""
    reports = []
    for path in paths:
        try:
            reports.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    warnings = []
    for setting, read in SETTINGS:
        found = {str(path.name): read(report) for path, report in reports
                 if isinstance(report, dict) and read(report) is not None}
        if len(set(found.values())) > 1:
            listed = ", ".join(f"{name}: {value}" for name, value in found.items())
            warnings.append(f"the reports differ in {setting} ({listed}): their figures are "
                            "not measured alike")
    return warnings


def load_columns(paths: Sequence[Path]) -> list[Column]:
    columns: list[Column] = []
    for path, label in zip(paths, _report_labels(paths), strict=True):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            rows = report["latency"]
            backends = list(dict.fromkeys(row["backend"] for row in rows))  # in --store order
            for backend in backends:
                figures = {(row["spec"], row["operation"]): _figures(row)
                           for row in rows if row["backend"] == backend}
                columns.append(Column(f"{backend} ({label})", figures))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{path} is not a storecheck report: {exc}") from None
    if not columns:
        raise BadInput("the reports hold no latency figures (run with -m latency and "
                       "--store-report)")
    return columns


def operations(columns: Sequence[Column]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for column in columns:
        seen.update(dict.fromkeys(column.figures))
    return list(seen)


def _cell(column: Column, key: tuple[str, str], base: Column, stat: str) -> str:
    if key not in column.figures:
        return "-"
    figures = column.figures[key]
    text = f"{figures.p50:.3f} / {figures.p99:.3f}"
    if column is not base and key in base.figures and base.figures[key].stat(stat) > 0:
        text += f" ({stat} {figures.stat(stat) / base.figures[key].stat(stat):.2f}x)"
    return text


def table_rows(columns: Sequence[Column], stat: str = "p50") -> list[list[str]]:
    """The side-by-side table: p50 and p99 in each column, and beside every column after
    the first its ``stat`` as a multiple of the first column's."""
    base = columns[0]
    header = ["spec / operation", *(f"{c.label} p50 / p99 ms" for c in columns)]
    body = [[f"{spec} / {operation}", *(_cell(c, (spec, operation), base, stat)
                                        for c in columns)]
            for spec, operation in operations(columns)]
    return [header, *body]


def plain_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                     .rstrip() for row in rows)


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def regressions(columns: Sequence[Column], percent: float, min_increase_ms: float = 0.0,
                stat: str = "p50") -> list[str]:
    """Operations whose ``stat`` grew more than ``percent`` (and ``min_increase_ms``) against
    the first column, beyond the noise of the two runs' samples where both kept them."""
    base = columns[0]
    found = []
    for column in columns[1:]:
        for key, after in column.figures.items():
            before = base.figures.get(key)
            if before is None or before.stat(stat) <= 0:
                continue
            old, new = before.stat(stat), after.stat(stat)
            growth = (new - old) / old * 100
            if growth <= percent or new - old <= min_increase_ms:
                continue
            evidence = ""
            if before.samples_ms and after.samples_ms:
                bound = ratio_lower_bound(before.samples_ms, after.samples_ms, STATISTICS[stat])
                if (bound - 1) * 100 <= percent:
                    continue  # within what resampling the two runs produces
                evidence = f", at least +{(bound - 1) * 100:.0f}% in 99% of resamplings"
            found.append(f"{key[0]} / {key[1]}: {stat} {old:.3f} ms -> {new:.3f} ms "
                         f"(+{growth:.0f}%{evidence}) in {column.label}")
    return found


CHAR_WIDTH = 6.6
"""Width of one character at the chart's 11 px sans-serif, a little generous."""


def svg_chart(columns: Sequence[Column]) -> str:
    """Horizontal bars per operation: p50 (light) and p99 (dark) per column, log scale, with
    each operation's target as a dashed line."""
    keys = operations(columns)
    values = [v for c in columns for f in c.figures.values()
              for v in (f.p50, f.p99, f.target_ms or 0) if v > 0]
    low = math.floor(math.log10(min(values))) if values else -2
    high = math.ceil(math.log10(max(values))) if values else 2
    high = max(high, low + 1)
    labels = [f"{spec} / {operation}" for spec, operation in keys]
    left = 20 + CHAR_WIDTH * max((len(label) for label in labels), default=10)
    width, bar, gap, top = 520, 9, 14, 56
    height_per_op = len(columns) * (2 * bar + 2) + gap
    legend = 20 * len(columns)
    height = top + len(keys) * height_per_op + legend + 10
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    def x(value: float) -> float:
        return left + (math.log10(max(value, 10.0**low)) - low) / (high - low) * width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40:.0f}" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             '<text x="10" y="20" font-size="14">storecheck latency, ms (log scale): '
             'light = p50, dark = p99, dashed = target</text>']
    for exponent in range(low, high + 1):
        gx = x(10.0**exponent)
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" '
                     f'y2="{height - legend - 10}" stroke="#ddd"/>')
        parts.append(f'<text x="{gx:.1f}" y="{top - 12}" text-anchor="middle">'
                     f'{10.0**exponent:g}</text>')
    y = top
    for label, key in zip(labels, keys, strict=True):
        parts.append(f'<text x="{left - 8:.0f}" y="{y + height_per_op / 2 - gap / 2:.0f}" '
                     f'text-anchor="end">{escape(label)}</text>')
        band_top = y
        targets = set()
        for index, column in enumerate(columns):
            colour = palette[index % len(palette)]
            if key in column.figures:
                figures = column.figures[key]
                parts.append(f'<rect x="{left:.0f}" y="{y}" width="{x(figures.p50) - left:.1f}" '
                             f'height="{bar}" fill="{colour}" fill-opacity="0.45"/>')
                parts.append(f'<rect x="{left:.0f}" y="{y + bar + 1}" '
                             f'width="{x(figures.p99) - left:.1f}" height="{bar}" fill="{colour}"/>')
                if figures.target_ms:
                    targets.add(figures.target_ms)
            y += 2 * bar + 2
        for target in sorted(targets):
            parts.append(f'<line class="target" x1="{x(target):.1f}" y1="{band_top - 2}" '
                         f'x2="{x(target):.1f}" y2="{y + 2}" stroke="#000" '
                         'stroke-dasharray="3,2"/>')
        y += gap
    for index, column in enumerate(columns):
        colour = palette[index % len(palette)]
        parts.append(f'<rect x="10" y="{y + 20 * index}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="28" y="{y + 20 * index + 10}">{escape(column.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def compare(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="storecheck compare",
        description="Compare the latency figures of storecheck JSON reports (several backends, "
                    "or two runs of one): a side-by-side table with each column's --stat as a "
                    "multiple of the first report's, a Markdown file and an SVG chart; a warning "
                    "when the reports differ in profile, storecheck version or machine.")
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json",
                        help="reports written by pytest --store-report; the first is the baseline")
    parser.add_argument("--out", type=Path, default=Path("storecheck-compare"),
                        help="directory for compare.md and compare.svg (default: storecheck-compare)")
    parser.add_argument("--fail-on-regression", type=float, metavar="PCT", default=None,
                        help="exit 1 if any operation's --stat grew more than PCT percent "
                             "against the first report, beyond the noise of the two runs' "
                             "samples (a bootstrap bound)")
    parser.add_argument("--stat", choices=sorted(STATISTICS), default="p50",
                        help="the statistic the regression gate compares (default: p50, the "
                             "steadiest on a shared machine; p99 follows a handful of samples)")
    parser.add_argument("--min-increase-ms", type=float, metavar="MS", default=0.25,
                        help="ignore growth smaller than MS milliseconds, which is scheduler "
                             "noise on sub-millisecond operations (default: 0.25)")
    args = parser.parse_args(argv)
    if args.fail_on_regression is not None and args.fail_on_regression < 0:
        parser.error(f"--fail-on-regression={args.fail_on_regression}: must be >= 0")
    try:
        columns = load_columns(args.reports)
    except BadInput as exc:
        print(f"storecheck compare: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for warning in differences(args.reports):
        print(f"storecheck compare: warning: {warning}", file=sys.stderr)
    rows = table_rows(columns, args.stat)
    print(plain_table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.md").write_text(markdown_table(rows), encoding="utf-8")
    (args.out / "compare.svg").write_text(svg_chart(columns), encoding="utf-8")
    print(f"\nwrote {args.out / 'compare.md'} and {args.out / 'compare.svg'}")
    if args.fail_on_regression is not None:
        found = regressions(columns, args.fail_on_regression, args.min_increase_ms, args.stat)
        if found:
            print(f"\n{args.stat} regressions over {args.fail_on_regression:g}%:")
            for line in found:
                print(f"  {line}")
            return EXIT_REGRESSION
        print(f"\nno {args.stat} regression over {args.fail_on_regression:g}%")
    return EXIT_OK


USAGE = """usage: storecheck compare REPORT.json [REPORT.json ...] [--out DIR]
                          [--fail-on-regression PCT] [--stat p50|p95|p99]
       storecheck protocol SPEC
       storecheck protocol --check COMMAND [SPEC]
       storecheck --version

'protocol SPEC' prints SPEC's wire protocol (for --store=exec:COMMAND backends) as an
OpenRPC document; 'protocol --check COMMAND' starts that implementation, makes one
valid call of every operation and checks each reply against the protocol's schemas,
naming each wrong method and field (exit 1).

Run 'storecheck compare --help' for details; the conformance suite itself runs
under pytest: pytest --store=NAME.  Exit status: 0 ok, 1 a regression,
2 a usage error or a report that cannot be read."""


def _version() -> str:
    try:
        return version("storecheck")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``storecheck`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in {"-h", "--help"}:
        print(USAGE)
        return EXIT_OK if arguments else EXIT_BAD_INPUT
    if arguments[0] in {"-V", "--version"}:
        print(f"storecheck {_version()}")
        return EXIT_OK
    if arguments[0] == "protocol":
        from storecheck.conformance.wire.cli import main as wire_main

        return wire_main(arguments)
    if arguments[0] != "compare":
        print(f"storecheck: unknown command {arguments[0]!r}; the commands are 'compare' and "
              "'protocol'", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return compare(arguments[1:])
    except SystemExit as exc:  # argparse: 0 after --help, 2 on a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
