"""``make bench``: our loader against the practical limit and against a naive dlt pipeline.

This module only reads the command line and runs the sections asked for, in a fixed order;
each section (``bench/*_bench.py``) adds its rows and says which ratios to show, and
``bench/harness.py`` measures them and writes the table and bench/results/*.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench import (
    destinations_bench,
    ducklake_bench,
    history_bench,
    load_bench,
    report_bench,
    serving_bench,
)
from bench.harness import Ratios, Row, write_results

Section = Callable[[argparse.Namespace, dict[str, Row]], Ratios]

# In the order they run and their rows are shown.
SECTIONS: dict[str, Section] = {
    "load": load_bench.section,
    "serving": serving_bench.section,
    "report": report_bench.section,
    "history10m": history_bench.section,
    "destinations": destinations_bench.section,
    "ducklake": ducklake_bench.section,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per row (median)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs of the 1M-call rows")
    parser.add_argument("--workers", type=int, default=8, help="N for the latency rows")
    parser.add_argument("--skip-1m", action="store_true", help="skip the 1M-call rows")
    parser.add_argument(
        "--skip-10m", action="store_true", help="skip the 10M-call rows (history10m)"
    )
    parser.add_argument(
        "--only",
        choices=("all", *SECTIONS),
        default="all",
        help="one section: load (the 100k/20k loads and the 1M load and transforms), serving "
        "(scheduled runs and publishing), report (the HTML report at 1M), history10m (a 10M-call "
        "warehouse: scheduled runs, bytes written, their profile, full rebuild, report, disk), "
        "destinations "
        "(PostgreSQL against DuckDB), ducklake (a DuckLake against DuckDB)",
    )
    args = parser.parse_args(argv)
    rows: dict[str, Row] = {}
    ratios: Ratios = {}
    started = time.perf_counter()
    for name, section in SECTIONS.items():
        if args.only in ("all", name):
            ratios.update(section(args, rows))
    write_results(rows, args.runs, time.perf_counter() - started, ratios)


if __name__ == "__main__":
    main()
