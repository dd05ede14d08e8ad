"""What the commands share: the warehouse-access arguments, and reading dates and instants."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import pendulum

from pipelines.config import DEFAULT_PIPELINES_DIR
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.client import ConfigError
from pipelines.hostedsuite.windows import parse_instant
from pipelines.plan import WarehouseAccess
from pipelines.validation import WAIT_SECONDS, check_option


def add_access_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every command that writes the warehouse."""
    parser.add_argument(
        "--duckdb", help="DuckDB file (default: dlt config destination.duckdb.credentials)"
    )
    parser.add_argument(
        "--pipelines-dir",
        help=f"dlt working folder (state, load packages, traces; default: {DEFAULT_PIPELINES_DIR} "
        "in the project)",
    )
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        help="seconds to wait for another run to finish before giving up (default 0)",
    )
    parser.add_argument(
        "--db-wait",
        type=float,
        default=30.0,
        help="seconds to wait while another process holds the DuckDB file (default 30)",
    )
    parser.add_argument(
        "--serving",
        help="serving copy to publish after the run ('' turns it off; default: "
        "[serving] path, or <warehouse>.serving.duckdb beside the warehouse)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, only the summary")


def access_options(args: argparse.Namespace) -> WarehouseAccess:
    check_option("--lock-wait", args.lock_wait, WAIT_SECONDS)
    check_option("--db-wait", args.db_wait, WAIT_SECONDS)
    pipelines_dir = Path(args.pipelines_dir or DEFAULT_PIPELINES_DIR).resolve()
    if "'" in str(pipelines_dir):
        # dlt 1.31's DuckDB loader writes each load file's path into its SQL unquoted
        raise RunError(
            ExitCode.BAD_CONFIG, f"--pipelines-dir must not contain a single quote: {pipelines_dir}"
        )
    return WarehouseAccess(
        duckdb=str(args.duckdb) if args.duckdb else None,
        pipelines_dir=args.pipelines_dir,
        lock_wait=args.lock_wait,
        db_wait=args.db_wait,
        serving=args.serving,
    )


def cli_instant(value: str | None, name: str) -> pendulum.DateTime:
    """A required UTC instant (YYYY-MM-DD or ISO 8601) from the command line."""
    if not value:
        raise RunError(ExitCode.BAD_CONFIG, f"{name} is required (YYYY-MM-DD)")
    try:
        parsed = parse_instant(value, name)
    except ConfigError as exc:
        raise RunError(ExitCode.BAD_CONFIG, str(exc)) from None
    assert parsed is not None
    return parsed


def cli_date(value: str | None, name: str) -> date | None:
    """An optional date YYYY-MM-DD from the command line."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RunError(
            ExitCode.BAD_CONFIG, f"{name} must be a date YYYY-MM-DD, got {value!r}"
        ) from None
