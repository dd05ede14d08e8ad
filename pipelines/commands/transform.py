"""``hostedsuite transform``: refresh the analytics schema, then publish it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pipelines.commands.common import access_options
from pipelines.plan import Plan, WarehouseAccess
from pipelines.steps.publish import Publish
from pipelines.steps.transform import Transform

NAME = "transform"


@dataclass(frozen=True)
class TransformOptions:
    access: WarehouseAccess
    full: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full", action="store_true", help="rebuild all of analytics from all raw history"
    )


def options(args: argparse.Namespace) -> TransformOptions:
    return TransformOptions(access_options(args), args.full)


def plan(opts: TransformOptions) -> Plan:
    return Plan(
        NAME,
        (Transform(opts.full), Publish()),
        access=opts.access,
        hold_connection=lambda pipeline: True,
    )
