"""Exit codes and the one failure type of a run: a leaf module every other module may import.

A run fails with ``RunError``: an exit code, a one-line message, and the results of the steps
that had committed before it failed (the summary prints those first). ``failures.py`` turns
any other error (the source's, dlt's, DuckDB's) into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0
    FAILED = 1
    BAD_CONFIG = 2
    AUTH = 3
    API = 4
    DESTINATION = 5
    INCOMPLETE = 6
    PUBLISH = 7  # the run committed, but its serving copy could not be published
    LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later


class RunError(Exception):
    """A failure with its exit code and a one-line message.

    ``committed``: the results of the steps that had finished (and committed) before the
    failure; the summary prints them first. The executor fills it in.
    """

    def __init__(
        self, code: ExitCode, message: str, committed: Sequence[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.committed: list[Any] = list(committed or [])
