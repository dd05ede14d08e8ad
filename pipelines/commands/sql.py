"""``hostedsuite sql``: the DuckDB CLI, read-only, on the serving copy (a prompt, ``-c SQL``, or
statements and dot-commands on standard input).

It reads a published copy, never the live warehouse, so its plan takes no lock. The process
becomes the CLI (``exec``): the terminal, Ctrl-C, the exit status and the error messages are
the CLI's own (``pipelines/duckdb_cli.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pipelines import duckdb_cli
from pipelines.commands.published import configured_serving_copy
from pipelines.errors import ExitCode, RunError
from pipelines.plan import Plan, RunContext, StepResult

NAME = "sql"


@dataclass(frozen=True)
class SqlOptions:
    db: Path
    sql: str | None
    csv: bool
    allow_external_access: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("db", nargs="?", help="DuckDB file (default: the configured serving copy)")
    parser.add_argument("-c", "--command", dest="sql", help="run this SQL and exit")
    parser.add_argument("--csv", action="store_true", help="print results as CSV")
    parser.add_argument(
        "--allow-external-access",
        action="store_true",
        help="let SQL and dot-commands read and write other files (COPY TO, read_csv, "
        "ATTACH, INSTALL, .once, .output, .read, .open)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)


def options(args: argparse.Namespace) -> SqlOptions:
    path = Path(args.db) if args.db else configured_serving_copy()
    if not path.exists():
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"no serving copy at {path} yet: run `make load` (or `make demo`) first",
        )
    return SqlOptions(path, args.sql, args.csv, args.allow_external_access)


@dataclass(frozen=True)
class SqlSession:
    """Replaces this process with the DuckDB CLI on ``db``; returns only if that fails."""

    opts: SqlOptions
    name: str = "sql"

    def run(self, context: RunContext) -> StepResult:
        args = duckdb_cli.arguments(
            self.opts.db, self.opts.sql, self.opts.csv, self.opts.allow_external_access
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(args[0], args)


def plan(opts: SqlOptions) -> Plan:
    return Plan(NAME, (SqlSession(opts),))
