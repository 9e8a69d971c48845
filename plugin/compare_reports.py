"""``storecheck compare``: several reports side by side, a chart, and a regression gate."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class Column:
    """One backend of one report."""

    label: str
    figures: dict[tuple[str, str], tuple[float, float]]
    """(spec, operation) -> (p50 ms, p99 ms)."""


def load_columns(paths: Sequence[Path]) -> list[Column]:
    columns: list[Column] = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            rows = report["latency"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"storecheck compare: {path} is not a storecheck report: {exc}") from None
        backends = list(dict.fromkeys(row["backend"] for row in rows))  # in --store order
        for backend in backends:
            figures = {(row["spec"], row["operation"]): (float(row["p50_ms"]), float(row["p99_ms"]))
                       for row in rows if row["backend"] == backend}
            columns.append(Column(f"{backend} ({path.name})", figures))
    if not columns:
        raise SystemExit("storecheck compare: the reports hold no latency figures "
                         "(run with -m latency and --store-report)")
    return columns


def operations(columns: Sequence[Column]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for column in columns:
        seen.update(dict.fromkeys(column.figures))
    return list(seen)


def _cell(column: Column, key: tuple[str, str], base: Column) -> str:
    if key not in column.figures:
        return "-"
    p50, p99 = column.figures[key]
    text = f"{p50:.3f} / {p99:.3f}"
    if column is not base and key in base.figures and base.figures[key][1] > 0:
        text += f" ({p99 / base.figures[key][1]:.2f}x)"
    return text


def table_rows(columns: Sequence[Column]) -> list[list[str]]:
    base = columns[0]
    header = ["spec / operation", *(f"{c.label} p50 / p99 ms" for c in columns)]
    body = [[f"{spec} / {operation}", *(_cell(c, (spec, operation), base) for c in columns)]
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


def regressions(columns: Sequence[Column], percent: float, min_increase_ms: float = 0.0) -> list[str]:
    """Operations whose p99 grew more than ``percent`` (and ``min_increase_ms``) against the first."""
    base = columns[0]
    found = []
    for column in columns[1:]:
        for key, (_, p99) in column.figures.items():
            before = base.figures.get(key)
            if before is None or before[1] <= 0:
                continue
            growth = (p99 - before[1]) / before[1] * 100
            if growth > percent and p99 - before[1] > min_increase_ms:
                found.append(f"{key[0]} / {key[1]}: p99 {before[1]:.3f} ms -> {p99:.3f} ms "
                             f"(+{growth:.0f}%) in {column.label}")
    return found


def svg_chart(columns: Sequence[Column]) -> str:
    """Horizontal bars per operation: p50 (light) and p99 (dark) per column, log scale."""
    keys = operations(columns)
    values = [v for c in columns for pair in c.figures.values() for v in pair if v > 0]
    low = math.floor(math.log10(min(values))) if values else -2
    high = math.ceil(math.log10(max(values))) if values else 2
    high = max(high, low + 1)
    left, width, bar, gap = 330, 520, 9, 14
    height_per_op = len(columns) * (2 * bar + 2) + gap
    height = 60 + len(keys) * height_per_op + 20 * len(columns)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    def x(value: float) -> float:
        return left + (math.log10(max(value, 10.0**low)) - low) / (high - low) * width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             '<text x="10" y="18" font-size="14">storecheck latency, ms (log scale): '
             'light = p50, dark = p99</text>']
    for exponent in range(low, high + 1):
        gx = x(10.0**exponent)
        parts.append(f'<line x1="{gx:.1f}" y1="30" x2="{gx:.1f}" y2="{height - 20 * len(columns) - 10}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{gx:.1f}" y="28" text-anchor="middle">{10.0**exponent:g}</text>')
    y = 40
    for spec, operation in keys:
        parts.append(f'<text x="{left - 8}" y="{y + height_per_op / 2 - gap / 2:.0f}" '
                     f'text-anchor="end">{escape(spec)} / {escape(operation)}</text>')
        for index, column in enumerate(columns):
            colour = palette[index % len(palette)]
            if (spec, operation) in column.figures:
                p50, p99 = column.figures[(spec, operation)]
                parts.append(f'<rect x="{left}" y="{y}" width="{x(p50) - left:.1f}" height="{bar}" '
                             f'fill="{colour}" fill-opacity="0.45"/>')
                parts.append(f'<rect x="{left}" y="{y + bar + 1}" width="{x(p99) - left:.1f}" '
                             f'height="{bar}" fill="{colour}"/>')
            y += 2 * bar + 2
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
                    "or two runs of one): a side-by-side table with p99 ratios against the first "
                    "report, a Markdown file and an SVG chart.")
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json",
                        help="reports written by pytest --store-report; the first is the baseline")
    parser.add_argument("--out", type=Path, default=Path("storecheck-compare"),
                        help="directory for compare.md and compare.svg (default: storecheck-compare)")
    parser.add_argument("--fail-on-regression", type=float, metavar="PCT", default=None,
                        help="exit 1 if any operation's p99 grew more than PCT percent "
                             "against the first report")
    parser.add_argument("--min-increase-ms", type=float, metavar="MS", default=0.25,
                        help="ignore p99 growth smaller than MS milliseconds, which is scheduler "
                             "noise on sub-millisecond operations (default: 0.25)")
    args = parser.parse_args(argv)
    if args.fail_on_regression is not None and args.fail_on_regression < 0:
        parser.error(f"--fail-on-regression={args.fail_on_regression}: must be >= 0")
    columns = load_columns(args.reports)
    rows = table_rows(columns)
    print(plain_table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.md").write_text(markdown_table(rows), encoding="utf-8")
    (args.out / "compare.svg").write_text(svg_chart(columns), encoding="utf-8")
    print(f"\nwrote {args.out / 'compare.md'} and {args.out / 'compare.svg'}")
    if args.fail_on_regression is not None:
        found = regressions(columns, args.fail_on_regression, args.min_increase_ms)
        if found:
            print(f"\np99 regressions over {args.fail_on_regression:g}%:")
            for line in found:
                print(f"  {line}")
            return EXIT_REGRESSION
        print(f"\nno p99 regression over {args.fail_on_regression:g}%")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``storecheck`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in {"-h", "--help"}:
        print("usage: storecheck compare REPORT.json [REPORT.json ...] [--out DIR] "
              "[--fail-on-regression PCT]\n\nRun 'storecheck compare --help' for details; the "
              "conformance suite itself runs under pytest: pytest --store=NAME")
        return 0 if arguments else EXIT_BAD_INPUT
    if arguments[0] != "compare":
        print(f"storecheck: unknown command {arguments[0]!r}; the only command is 'compare'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return compare(arguments[1:])

