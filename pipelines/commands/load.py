"""``hostedsuite load``: the scheduled incremental run."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial

from pipelines.commands.common import access_options
from pipelines.plan import Plan, Step, WarehouseAccess
from pipelines.steps.load import LoadIncremental, is_small_run
from pipelines.steps.publish import Publish
from pipelines.steps.report import ReportAfterLoad, after_load_steps
from pipelines.steps.transform import Transform
from pipelines.validation import WORKERS, check_instant, check_option

NAME = "load"


@dataclass(frozen=True)
class LoadOptions:
    access: WarehouseAccess
    until: str | None
    workers: int | None
    transform: bool
    report: tuple[ReportAfterLoad, ...]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--until", help="load up to this UTC datetime instead of now")
    parser.add_argument("--workers", type=int, help="windows fetched concurrently")
    parser.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")


def options(args: argparse.Namespace) -> LoadOptions:
    check_option("--workers", args.workers, WORKERS)
    if args.until:
        check_instant(args.until, "--until")
    return LoadOptions(
        access_options(args), args.until, args.workers, not args.no_transform, after_load_steps()
    )


def plan(opts: LoadOptions) -> Plan:
    steps: list[Step] = [LoadIncremental(opts.until, opts.workers)]
    if opts.transform:
        steps.append(Transform())
    steps += [Publish(), *opts.report]
    return Plan(
        NAME,
        tuple(steps),
        access=opts.access,
        # a scheduled run writes on one held connection; a first load or catch-up does not
        hold_connection=partial(is_small_run, until=opts.until),
    )
