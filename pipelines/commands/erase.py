"""``hostedsuite erase``: one caller out of every copy the pipeline keeps (``steps/erase.py``),
then published at once."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pipelines.commands.common import access_options
from pipelines.erasure import ErasureRequest
from pipelines.errors import ExitCode, RunError
from pipelines.plan import Plan, WarehouseAccess
from pipelines.steps.erase import Erase
from pipelines.steps.publish import Publish

NAME = "erase"


@dataclass(frozen=True)
class EraseOptions:
    access: WarehouseAccess
    request: ErasureRequest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--caller-number", required=True, help="the caller's number (any formatting)"
    )
    parser.add_argument("--caller-name", help="the caller's name: its calls are erased too")


def options(args: argparse.Namespace) -> EraseOptions:
    try:
        request = ErasureRequest(args.caller_number, args.caller_name)
    except ValueError as exc:
        raise RunError(ExitCode.BAD_CONFIG, f"--caller-number: {exc}") from None
    return EraseOptions(access_options(args), request)


def plan(opts: EraseOptions) -> Plan:
    return Plan(NAME, (Erase(opts.request), Publish(now=True)), access=opts.access)
