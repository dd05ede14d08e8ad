"""The ``hostedsuite`` commands, one module each: its arguments, its options, and its plan.

Every module has ``NAME``, ``add_arguments(parser)``, ``options(args)`` (typed, read and
checked once) and ``plan(options)``; ``hostedsuite_pipeline`` executes the plan. ``COMMANDS``
lists them by name, with the help line the parser shows, without importing them: a run imports
the module of its own command alone (``Command.module``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Final


@dataclass(frozen=True)
class Command:
    """A command as the parser lists it. ``writes``: it writes the warehouse, and takes the
    access options (lock, files, serving copy)."""

    name: str
    module_name: str
    help: str
    writes: bool = True

    def module(self) -> ModuleType:
        """The command's module. Imported here, by name, and only for the command being run
        (issue #22): a scheduled ``load`` every 5 minutes paid for every other command's
        dependencies at start (the emulator, the HTML report, PostgreSQL's driver, ...)."""
        return importlib.import_module(self.module_name)


COMMANDS: Final[tuple[Command, ...]] = (
    Command("load", "pipelines.commands.load", "incremental load"),
    Command("backfill", "pipelines.commands.backfill", "load a date range"),
    Command("verify", "pipelines.commands.verify", "compare API counts per center-day"),
    Command(
        "transform", "pipelines.commands.transform", "refresh the analytics schema (what changed)"
    ),
    Command("demo", "pipelines.commands.demo", "load the bundled emulator into DuckDB"),
    Command(
        "sql",
        "pipelines.commands.sql",
        "the DuckDB CLI, read-only, on the serving copy (prompt, -c SQL, or SQL on stdin)",
        writes=False,
    ),
    Command(
        "report",
        "pipelines.commands.report",
        "write the self-contained HTML call-center report",
        writes=False,
    ),
    Command(
        "erase",
        "pipelines.commands.erase",
        "erase one caller's calls everywhere (raw tables, marts, serving copy, PostgreSQL, lake)",
    ),
    Command(
        "privacy-apply",
        "pipelines.commands.privacy_apply",
        "rewrite the stored history under [privacy] (keep->hash, keep->drop, hash->drop)",
    ),
    Command(
        "reconcile",
        "pipelines.commands.reconcile",
        "mark calls of a range that the API no longer returns as deleted",
    ),
)
BY_NAME: Final[dict[str, Command]] = {command.name: command for command in COMMANDS}
