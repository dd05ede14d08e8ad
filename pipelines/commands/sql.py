"""``hostedsuite sql``: read-only SQL on the serving copy (a prompt, ``-c SQL``, or stdin).

It reads a published copy, never the live warehouse, so its plan takes no lock; the session
reads and writes no other file unless ``--allow-external-access`` (``sql_prompt.py``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.commands.published import configured_serving_copy
from pipelines.errors import ExitCode, RunError
from pipelines.plan import Plan, RunContext, StepResult
from pipelines.sql_prompt import first_line, interactive, run_script

NAME = "sql"
HELP = "read-only SQL on the serving copy (prompt, -c SQL, or SQL on stdin)"


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
        help="let SQL read and write other files (COPY TO, read_csv, ATTACH, INSTALL)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)


def options(args: argparse.Namespace) -> SqlOptions:
    path = Path(args.db) if args.db else configured_serving_copy()
    if not path.exists():
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"no serving copy at {path} yet: run `make load` (or `make demo`) first",
        )
    script = args.sql
    if script is None and not sys.stdin.isatty():
        script = sys.stdin.read()
    return SqlOptions(path, script, args.csv, args.allow_external_access)


@dataclass(frozen=True)
class SqlSession:
    """The prompt, or one script, on a read-only connection to ``db``."""

    opts: SqlOptions
    name: str = "sql"

    def run(self, context: RunContext) -> StepResult:
        if self.opts.sql is None:
            interactive(self.opts.db, self.opts.allow_external_access)
            return StepResult(self.name)
        try:
            run_script(self.opts.db, self.opts.sql, self.opts.csv, self.opts.allow_external_access)
        except duckdb.Error as exc:
            raise RunError(ExitCode.FAILED, f"sql: {first_line(exc)}") from None
        return StepResult(self.name)


def plan(opts: SqlOptions) -> Plan:
    return Plan(NAME, (SqlSession(opts),))
