"""``hostedsuite report``: the HTML report of the serving copy (or ``--db``).

It reads a published copy, never the live warehouse, so its plan takes no lock.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.commands.common import cli_date
from pipelines.commands.published import configured_serving_copy
from pipelines.plan import Plan
from pipelines.steps.report import WriteReport, report_target_pct

NAME = "report"
# What `make demo` publishes (its --workdir default): the fallback on a fresh clone.
DEMO_SERVING_COPY = Path("var/demo") / "warehouse.serving.duckdb"


@dataclass(frozen=True)
class ReportOptions:
    db: Path
    out: Path | None
    start: date | None
    end: date | None
    notes: tuple[str, ...]
    target_pct: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start",
        help="first local date of each center, included (default: 29 days before --end: 30 days)",
    )
    parser.add_argument(
        "--end",
        help="last local date of each center, INCLUDED (unlike backfill's UTC --end, which is "
        "excluded; default: the newest call's local date)",
    )
    parser.add_argument("--db", help="DuckDB file (default: the configured serving copy)")
    parser.add_argument("--out", help="HTML file to write (default: [report] path)")
    parser.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)


def options(args: argparse.Namespace) -> ReportOptions:
    notes: tuple[str, ...] = ()
    db = Path(args.db) if args.db else configured_serving_copy()
    demo_copy = DEMO_SERVING_COPY.absolute()  # in the project: the run works there
    if not args.db and not db.exists() and demo_copy.exists():
        # A fresh clone after `make demo`: the demo's copy is the only data there is.
        notes = (f"no serving copy at {db}: reporting on the demo's {demo_copy}",)
        db = demo_copy
    return ReportOptions(
        db,
        Path(args.out) if args.out else None,
        cli_date(args.start, "--start"),
        cli_date(args.end, "--end"),
        notes,
        report_target_pct(),
    )


def plan(opts: ReportOptions) -> Plan:
    step = WriteReport(opts.db, opts.out, opts.start, opts.end, opts.notes, opts.target_pct)
    return Plan(NAME, (step,))
