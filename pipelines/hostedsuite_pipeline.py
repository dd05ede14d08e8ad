"""Command line for the HostedSuite pipeline: ``hostedsuite load|backfill|verify|transform|...``.

The whole of a run, top-down: arguments -> the project (``project.py``: its folder and
``.dlt/``, wherever the run was started) and the check of its settings (``known_settings.py``)
-> the command's typed options -> its plan -> ``plan.execute`` (steps, each returning a result)
-> the summary of the results, printed here. Every failure is one ``error:`` line and an exit
code (``errors.ExitCode``), after the summary of what had committed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pipelines import alerts
from pipelines.commands import BY_NAME, COMMANDS
from pipelines.commands.common import add_access_arguments
from pipelines.errors import ExitCode
from pipelines.failures import describe_failure
from pipelines.hostedsuite.client import redact
from pipelines.known_settings import check_settings
from pipelines.plan import execute
from pipelines.project import PROJECT_ENV, SETTINGS_DIR, enter_project
from pipelines.redaction import register_configured_secrets
from pipelines.summary import summary_lines
from pipelines.validation import check_configured_settings

logger = logging.getLogger("hostedsuite")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"error: {message} (see --help)\n")
        raise SystemExit(ExitCode.BAD_CONFIG)


class _CommandNotFound(Exception):
    """The first look at the arguments found no command (``_Parser`` reports why)."""


class _FirstLook(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _CommandNotFound(message)


def chosen_command(argv: Sequence[str] | None) -> str | None:
    """The command named in ``argv`` (None: sys.argv), if any: the parser imports its module
    alone (see ``pipelines.commands``); every other command is listed by name and help."""
    first_look = _FirstLook(add_help=False)
    first_look.add_argument("--project")
    first_look.add_argument("command", nargs="?")
    try:
        known, _ = first_look.parse_known_args(argv)
    except _CommandNotFound:
        return None
    return known.command if known.command in BY_NAME else None


def build_parser(command_name: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; ``command_name``'s alone gets its arguments (importing its
    module), the one that parses: the others are never used."""
    parser = _Parser(prog="hostedsuite", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project",
        help=f"the project folder (holding {SETTINGS_DIR}/; default: env {PROJECT_ENV}, else "
        f"the clone this is installed from, else the current folder if it holds {SETTINGS_DIR}/)",
    )
    access = _Parser(add_help=False)
    add_access_arguments(access)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        if command.name != command_name:
            sub.add_parser(command.name, help=command.help)
            continue
        parents = [access] if command.writes else []
        command_parser = sub.add_parser(command.name, parents=parents, help=command.help)
        module = command.module()
        module.add_arguments(command_parser)
        command_parser.set_defaults(module=module)
    return parser


def configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # a date too: a scheduled run's progress lines are read in a log days later
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(chosen_command(argv)).parse_args(argv)
    configure_logging(args.quiet)
    command = args.module
    try:
        root = enter_project(args)
        register_configured_secrets(root / SETTINGS_DIR / "secrets.toml")
        # once, before anything is read or written: a misspelled setting stops every command
        check_settings(root / SETTINGS_DIR, os.environ)
        check_configured_settings()
        results = execute(command.plan(command.options(args)))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; the next run resumes safely\n")
        return ExitCode.FAILED
    except Exception as exc:  # one line, never a traceback
        failure = describe_failure(exc)
        for line in summary_lines(failure.committed):
            print(line)  # what did commit before the failure
        line = redact(str(failure))
        sys.stderr.write(f"error: {line}\n")
        alerts.run_failed(command.NAME, failure.code, line)
        return failure.code
    for line in summary_lines(results):
        print(line)
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
