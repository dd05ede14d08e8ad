"""Command line for the HostedSuite pipeline: ``hostedsuite load|backfill|verify|transform|...``.

A thin runner: it parses arguments, configures logging, calls the command (``commands.py``),
prints its summary and maps every failure to one line and an exit code (``ExitCode``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from dlt.common.configuration.exceptions import ConfigurationException
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.commands import (
    cmd_backfill,
    cmd_demo,
    cmd_load,
    cmd_report,
    cmd_sql,
    cmd_transform,
    cmd_verify,
)
from pipelines.hostedsuite.client import ApiError, AuthError, ConfigError, HostedSuiteError, redact
from pipelines.operations import DEFAULT_PIPELINES_DIR, CliError, ExitCode

logger = logging.getLogger("hostedsuite")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"error: {message} (see --help)\n")
        raise SystemExit(ExitCode.BAD_CONFIG)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hostedsuite", description=__doc__.splitlines()[0])
    common = _Parser(add_help=False)
    common.add_argument(
        "--duckdb", help="DuckDB file (default: dlt config destination.duckdb.credentials)"
    )
    common.add_argument(
        "--pipelines-dir",
        default=DEFAULT_PIPELINES_DIR,
        help="dlt working folder (state, load packages, traces)",
    )
    common.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        help="seconds to wait for another run to finish before giving up (default 0)",
    )
    common.add_argument(
        "--db-wait",
        type=float,
        default=30.0,
        help="seconds to wait while another process holds the DuckDB file (default 30)",
    )
    common.add_argument(
        "--serving",
        help="serving copy to publish after the run ('' turns it off; default: "
        "[serving] path, or <warehouse>.serving.duckdb beside the warehouse)",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress, only the summary")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    load = sub.add_parser("load", parents=[common], help="incremental load")
    load.add_argument("--until", help="load up to this UTC datetime instead of now")
    load.add_argument("--workers", type=int, help="windows fetched concurrently")
    load.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")
    load.set_defaults(handler=cmd_load)

    backfill = sub.add_parser("backfill", parents=[common], help="load a date range")
    backfill.add_argument("--start", required=True, help="first UTC date (YYYY-MM-DD)")
    backfill.add_argument("--end", required=True, help="end UTC date, exclusive (YYYY-MM-DD)")
    backfill.add_argument("--client", dest="client_id", help="only this ClientId")
    backfill.add_argument("--center", dest="center_id", help="only this CenterId")
    backfill.add_argument("--workers", type=int, help="windows fetched concurrently")
    backfill.add_argument("--window-hours", type=float, help="width of one window")
    backfill.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")
    backfill.set_defaults(handler=cmd_backfill)

    verify = sub.add_parser("verify", parents=[common], help="compare API counts per center-day")
    verify.add_argument("--start", help="first local date (default: 7 days before --end)")
    verify.add_argument("--end", help="last local date (default: the cursor's date)")
    verify.add_argument("--workers", type=int, help="concurrent count requests")
    verify.set_defaults(handler=cmd_verify)

    transform = sub.add_parser(
        "transform", parents=[common], help="refresh the analytics schema (what changed)"
    )
    transform.add_argument(
        "--full", action="store_true", help="rebuild all of analytics from all raw history"
    )
    transform.set_defaults(handler=cmd_transform)

    demo = sub.add_parser("demo", parents=[common], help="load the bundled emulator into DuckDB")
    demo.add_argument("--calls", type=int, default=20_000, help="calls the emulator serves")
    demo.add_argument("--seed", type=int, default=1, help="emulator data seed")
    demo.add_argument("--workdir", default="var/demo", help="where the demo warehouse goes")
    demo.set_defaults(handler=cmd_demo)

    sql = sub.add_parser(
        "sql", help="read-only SQL on the serving copy (prompt, -c SQL, or SQL on stdin)"
    )
    sql.add_argument("db", nargs="?", help="DuckDB file (default: the configured serving copy)")
    sql.add_argument("-c", "--command", dest="sql", help="run this SQL and exit")
    sql.add_argument("--csv", action="store_true", help="print results as CSV")
    sql.add_argument(
        "--allow-external-access",
        action="store_true",
        help="let SQL read and write other files (COPY TO, read_csv, ATTACH, INSTALL)",
    )
    sql.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)
    sql.set_defaults(handler=cmd_sql)

    report = sub.add_parser("report", help="write the self-contained HTML call-center report")
    report.add_argument("--start", help="first local date (default: 29 days before --end)")
    report.add_argument("--end", help="last local date (default: the newest call's local date)")
    report.add_argument("--db", help="DuckDB file (default: the configured serving copy)")
    report.add_argument("--out", help="HTML file to write (default: [report] path)")
    report.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)
    report.set_defaults(handler=cmd_report)
    return parser


def configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def describe_failure(exc: BaseException) -> tuple[ExitCode, str]:
    """Finds the root cause inside dlt's wrappers and turns it into (exit code, one line)."""
    chain = list(_cause_chain(exc))
    for current in chain:
        if isinstance(current, CliError):
            return current.code, str(current)
        if isinstance(current, AuthError):
            return ExitCode.AUTH, str(current)
        if isinstance(current, ConfigError):
            return ExitCode.BAD_CONFIG, str(current)
        if isinstance(current, ApiError | HostedSuiteError):
            return ExitCode.API, str(current)
        if isinstance(current, ConfigurationException):
            return ExitCode.BAD_CONFIG, _config_message(current)
        if "Out of Memory" in str(current):
            return ExitCode.DESTINATION, (
                "DuckDB ran out of its memory cap while merging the load; raise "
                "[destination.duckdb] memory_limit and rerun (the load package is kept)"
            )
        if "duckdb" in type(current).__module__ and "lock" in str(current).lower():
            return ExitCode.DESTINATION, (
                "the DuckDB file is locked by another process (an open analyst session?); "
                "close it or retry later"
            )
    root = chain[-1]
    text = str(root).strip().splitlines()
    return ExitCode.FAILED, f"{type(root).__name__}: {text[0] if text else ''}"


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors under it: dlt's ``PipelineStepFailed.exception``, then causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        if isinstance(nested, BaseException):
            current = nested
        elif current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__


def _config_message(exc: ConfigurationException) -> str:
    missing = getattr(exc, "fields", None)
    if missing:
        names = ", ".join(f"sources.hostedsuite.{name}" for name in missing)
        return f"missing configuration: {names} (.dlt/config.toml, .dlt/secrets.toml or env vars)"
    return str(exc).splitlines()[0]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.quiet)
    try:
        lines = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; the next run resumes safely\n")
        return ExitCode.FAILED
    except (Exception, PipelineStepFailed) as exc:  # one line, never a traceback
        code, message = describe_failure(exc)
        for line in getattr(exc, "lines", []):
            print(line)  # what did commit before the failure
        sys.stderr.write(f"error: {redact(message)}\n")
        return code
    for line in lines:
        print(line)
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
