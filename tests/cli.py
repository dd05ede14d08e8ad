"""Running the ``hostedsuite`` CLI in its own process, and the one check of how it fails.

A failing command must end with exactly one ``error:`` line on stderr, a documented exit code
and no traceback; every test of a failure asserts that through ``assert_fails``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The CLI as the console script ``hostedsuite`` runs it.
CLI_MODULE = "pipelines.hostedsuite_pipeline"


def cli_command(*args: str, module: str = CLI_MODULE) -> list[str]:
    """The command line of ``hostedsuite <args>`` (or of a test driver ``module`` wrapping it)."""
    return [sys.executable, "-m", module, *args]


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float = 300,
    module: str = CLI_MODULE,
) -> subprocess.CompletedProcess[str]:
    """``hostedsuite <args>`` in a subprocess; ``env`` is its whole environment (None: this
    process's), as ``subprocess.run`` takes it."""
    return subprocess.run(
        cli_command(*args, module=module),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_fails(
    result: subprocess.CompletedProcess[str], code: int, contains: str | None = None
) -> str:
    """``result`` exited with ``code``, printing one ``error:`` line (which contains
    ``contains``) and no traceback; returns that line."""
    assert result.returncode == code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr[-3000:]
    if contains is not None:
        assert contains in errors[0], errors[0]
    return errors[0]
