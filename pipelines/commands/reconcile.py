"""``hostedsuite reconcile``: mark the calls of a UTC range that the API no longer returns
(``steps/reconcile.py``), then publish."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pendulum

from pipelines.commands.common import access_options, cli_instant
from pipelines.errors import ExitCode, RunError
from pipelines.plan import Plan, WarehouseAccess
from pipelines.steps.publish import Publish
from pipelines.steps.reconcile import Reconcile
from pipelines.validation import WORKERS, check_option

NAME = "reconcile"


@dataclass(frozen=True)
class ReconcileOptions:
    access: WarehouseAccess
    start: pendulum.DateTime
    end: pendulum.DateTime
    confirmed: bool
    workers: int | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", help="UTC date or instant (inclusive)")
    parser.add_argument("--end", help="UTC date or instant (exclusive)")
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="mark the calls even when the API returns far fewer (or none): "
        "deletes or retention you have confirmed with the vendor",
    )
    parser.add_argument("--workers", type=int, help="windows read concurrently")


def options(args: argparse.Namespace) -> ReconcileOptions:
    check_option("--workers", args.workers, WORKERS)
    start, end = cli_instant(args.start, "--start"), cli_instant(args.end, "--end")
    if end <= start:
        raise RunError(ExitCode.BAD_CONFIG, "--end must be after --start")
    return ReconcileOptions(access_options(args), start, end, args.confirm, args.workers)


def plan(opts: ReconcileOptions) -> Plan:
    step = Reconcile(opts.start, opts.end, opts.confirmed, opts.workers)
    return Plan(NAME, (step, Publish()), access=opts.access)
