"""``hostedsuite backfill``: load a UTC date range, in committed batches of windows."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pendulum

from pipelines.commands.common import access_options, cli_instant
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.settings import DEFAULT_WINDOW_HOURS
from pipelines.plan import Plan, Step, WarehouseAccess
from pipelines.steps.backfill import Backfill
from pipelines.steps.publish import Publish
from pipelines.steps.report import ReportAfterLoad, after_load_steps
from pipelines.steps.transform import Transform
from pipelines.validation import (
    WINDOW_HOURS,
    WORKERS,
    check_option,
    check_window_count,
    configured_number,
)

NAME = "backfill"


@dataclass(frozen=True)
class BackfillOptions:
    access: WarehouseAccess
    start: pendulum.DateTime
    end: pendulum.DateTime
    window_hours: float
    client_id: str | None
    center_id: str | None
    workers: int | None
    force: bool
    transform: bool
    report: tuple[ReportAfterLoad, ...]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", required=True, help="first UTC date, included (YYYY-MM-DD or ISO 8601)"
    )
    parser.add_argument(
        "--end",
        required=True,
        help="UTC date where the range stops, EXCLUDED (unlike verify and report, whose dates "
        "are local and included): --start 2024-03-01 --end 2024-04-01 is March",
    )
    parser.add_argument("--client", dest="client_id", help="only this ClientId")
    parser.add_argument("--center", dest="center_id", help="only this CenterId")
    parser.add_argument("--workers", type=int, help="windows fetched concurrently")
    parser.add_argument("--window-hours", type=float, help="width of one window")
    parser.add_argument(
        "--force",
        action="store_true",
        help="read a range already loaded again and merge it (otherwise: nothing to do)",
    )
    parser.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")


def options(args: argparse.Namespace) -> BackfillOptions:
    start = cli_instant(args.start, "--start")
    end = cli_instant(args.end, "--end")
    if end <= start:
        raise RunError(
            ExitCode.BAD_CONFIG, f"--end ({args.end}) must be after --start ({args.start})"
        )
    check_option("--workers", args.workers, WORKERS)
    check_option("--window-hours", args.window_hours, WINDOW_HOURS)
    window_hours = args.window_hours
    if window_hours is None:
        window_hours = configured_number("sources.hostedsuite.window_hours", WINDOW_HOURS)
    window_hours = float(DEFAULT_WINDOW_HOURS if window_hours is None else window_hours)
    check_window_count((end - start).total_seconds() / 3600, window_hours)
    return BackfillOptions(
        access_options(args),
        start,
        end,
        window_hours,
        args.client_id,
        args.center_id,
        args.workers,
        args.force,
        not args.no_transform,
        after_load_steps(),
    )


def plan(opts: BackfillOptions) -> Plan:
    steps: list[Step] = [
        Backfill(
            opts.start,
            opts.end,
            opts.window_hours,
            opts.client_id,
            opts.center_id,
            opts.workers,
            opts.force,
        )
    ]
    if opts.transform:
        steps.append(Transform())
    steps += [Publish(), *opts.report]
    # a backfill is large: dlt's per-job connections keep DuckDB's memory down
    return Plan(NAME, tuple(steps), access=opts.access)
