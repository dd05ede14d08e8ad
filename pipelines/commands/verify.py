"""``hostedsuite verify``: the API's counts per center and local day against the warehouse."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date

from pipelines.commands.common import access_options, cli_instant
from pipelines.errors import ExitCode, RunError
from pipelines.plan import Plan, WarehouseAccess
from pipelines.steps.publish import Publish
from pipelines.steps.verify import Verify
from pipelines.validation import WORKERS, check_option

NAME = "verify"


@dataclass(frozen=True)
class VerifyOptions:
    access: WarehouseAccess
    first: date | None
    last: date | None
    workers: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start",
        help="first local date of each center, included (default: 6 days before --end: 7 days)",
    )
    parser.add_argument(
        "--end",
        help="last local date of each center, INCLUDED (unlike backfill's UTC --end, which is "
        "excluded; default: the cursor's date)",
    )
    parser.add_argument("--workers", type=int, help="concurrent count requests")


def options(args: argparse.Namespace) -> VerifyOptions:
    check_option("--workers", args.workers, WORKERS)
    first = cli_instant(args.start, "--start").date() if args.start else None
    last = cli_instant(args.end, "--end").date() if args.end else None
    if first and last and last < first:
        raise RunError(ExitCode.BAD_CONFIG, "--end must not be before --start")
    return VerifyOptions(access_options(args), first, last, args.workers or 4)


def plan(opts: VerifyOptions) -> Plan:
    # the completeness tables changed: analysts see them in the serving copy either way
    return Plan(
        NAME,
        (Verify(opts.first, opts.last, opts.workers), Publish()),
        access=opts.access,
        hold_connection=lambda pipeline: True,
    )
