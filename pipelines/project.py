"""Which project a run belongs to: one folder holding ``.dlt/``, its settings and its warehouse.

dlt reads ``.dlt/`` from the working directory, and the warehouse, ``var/pipelines`` and the
serving copy default to paths relative to it. Started from another folder (cron starts in
``/``), a run used to start a second warehouse there. So a run first finds its project:

1. ``--project DIR`` or ``HOSTEDSUITE_PROJECT=DIR``, which must hold ``.dlt/``;
2. else the folder this package is installed from, when it holds ``.dlt/`` (a clone installed
   with ``pip install -e .``, as ``make venv`` does);
3. else the current folder, when it holds ``.dlt/``;

and otherwise refuses in one line (exit 2). The run then works inside the project folder: dlt
reads the project's ``.dlt/``, and relative settings mean paths in the project. Paths typed on
the command line keep meaning what they meant where they were typed (``absolute_arguments``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from pipelines.errors import ExitCode, RunError

PROJECT_ENV: Final = "HOSTEDSUITE_PROJECT"
SETTINGS_DIR: Final = ".dlt"
# The package's own folder: pipelines/ sits in the project root of an editable install.
INSTALLED_FROM: Final = Path(__file__).resolve().parents[1]
# The command-line options that name files or folders (argparse destinations).
PATH_ARGUMENTS: Final = ("duckdb", "pipelines_dir", "serving", "db", "out", "workdir")


def find_project(explicit: str | None, cwd: Path, installed: Path = INSTALLED_FROM) -> Path:
    """The project folder (see the module), or one line saying how to name it."""
    if explicit:
        root = (cwd / explicit).resolve()
        if not (root / SETTINGS_DIR).is_dir():
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"{root} is not a project folder (no {SETTINGS_DIR}/ in it): "
                f"--project / {PROJECT_ENV} names the clone that holds {SETTINGS_DIR}/",
            )
        return root
    for candidate in (installed, cwd.resolve()):
        if (candidate / SETTINGS_DIR).is_dir():
            return candidate
    raise RunError(
        ExitCode.BAD_CONFIG,
        f"no project found: this installation is not a clone and {cwd} has no "
        f"{SETTINGS_DIR}/ folder; set {PROJECT_ENV}=<the folder holding {SETTINGS_DIR}/> "
        "or run from it",
    )


def absolute_arguments(args: argparse.Namespace, cwd: Path) -> None:
    """Makes the path options given on the command line absolute, from ``cwd``."""
    for name in PATH_ARGUMENTS:
        value = getattr(args, name, None)
        if value:  # "" (--serving '': publishing off) stays as it is
            setattr(args, name, str(cwd / value))


def enter_project(args: argparse.Namespace) -> Path:
    """Finds the run's project, makes the command line's paths absolute, and moves the process
    into the project folder, with dlt reading that folder's ``.dlt/``."""
    cwd = Path.cwd()
    root = find_project(getattr(args, "project", None) or os.environ.get(PROJECT_ENV), cwd)
    absolute_arguments(args, cwd)
    os.chdir(root)
    # dlt's providers read .dlt/ relative to the working directory when they are made
    Container()[PluggableRunContext].reload_providers()
    return root
