"""Which published DuckDB file the read-only commands (``sql``, ``report``) open by default."""

from __future__ import annotations

from pathlib import Path

from pipelines.destinations import configured_destination
from pipelines.errors import ExitCode, RunError


def configured_serving_copy() -> Path:
    """The configured destination's analyst copy, or one line saying how to name a file."""
    path = configured_destination().analyst_copy()
    if path is None:
        raise RunError(
            ExitCode.BAD_CONFIG,
            "publishing is off ([serving] path is empty) or the warehouse is not DuckDB: "
            "name the file to open (make sql DB=<file>)",
        )
    return path
