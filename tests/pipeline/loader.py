"""The real pipeline run against an emulator into a DuckDB file, as a scheduled job runs it:
in-process (``Loader.load``) or through the CLI in a subprocess (``Loader.cli``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum

from hostedsuite_emulator import Emulator
from pipelines.pipeline import open_pipeline
from pipelines.results import LoadResult
from pipelines.steps.load import load_incremental
from pipelines.steps.transform import transform_pipeline
from tests.cli import CLI_MODULE, ROOT, run_cli

# The tests' own choices on top of the emulator's account: one-day windows, fast retries so
# that fault tests stay quick.
TEST_SETTINGS: dict[str, Any] = {
    "window_hours": 24,
    "request_backoff_factor": 0.01,
}


def first_day(emulator: Emulator) -> str:
    """Midnight UTC of the day of the emulator's first call: where a first run starts."""
    first = min(c["start_time"] for c in emulator.truth().calls)
    return str(pendulum.instance(first).start_of("day").to_iso8601_string())


def source_kwargs(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """Source arguments for ``emulator``, up to its clock."""
    return {
        **emulator.source_config(),
        **TEST_SETTINGS,
        "start_date": first_day(emulator),
        "until": pendulum.instance(emulator.now).to_iso8601_string(),
        "workers": 2,
        "request_max_retry_delay": 1.0,
        **overrides,
    }


@dataclass
class Loader:
    """Runs loads of one emulator into one warehouse, like a scheduled job would."""

    emulator: Emulator
    duckdb_path: Path
    pipelines_dir: Path

    def load(self, transform: bool = False, **overrides: Any) -> LoadResult:
        """One in-process run; ``transform`` also rebuilds the analytics schema."""
        pipeline = open_pipeline(str(self.duckdb_path), str(self.pipelines_dir))
        kwargs = source_kwargs(self.emulator, **overrides)
        loaded = load_incremental(pipeline, kwargs)
        if transform:
            transform_pipeline(pipeline)
        return loaded

    def cli_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """This process's environment with the emulator's account (and the tests' settings)
        in environment variables, as a scheduler would set them; ``env`` on top."""
        settings = {**TEST_SETTINGS, "start_date": first_day(self.emulator)}
        return {
            **os.environ,
            **self.emulator.config_env(),
            **{f"SOURCES__HOSTEDSUITE__{k.upper()}": str(v) for k, v in settings.items()},
            **(env or {}),
        }

    def cli_paths(self) -> list[str]:
        return ["--duckdb", str(self.duckdb_path), "--pipelines-dir", str(self.pipelines_dir)]

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Runs the console script in a subprocess with the emulator's account in env vars."""
        return run_cli(*args, *self.cli_paths(), env=self.cli_env(env), timeout=timeout)

    def observed(self, script: str, record: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``hostedsuite <args>`` in its own process, run by ``script`` (Python source for
        ``-c``: ``{module}`` in it is the CLI's module), which takes ``record`` from its first
        argument and writes there what it observed of the run as the process exits."""
        record.unlink(missing_ok=True)
        return subprocess.run(
            [sys.executable, "-c", script.format(module=CLI_MODULE), str(record), *args],
            cwd=ROOT,
            env=self.cli_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def crash(
        self, point: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs ``hostedsuite <args>`` through ``crash_driver``, which SIGKILLs it at ``point``."""
        return run_cli(
            point,
            *args,
            *self.cli_paths(),
            env=self.cli_env(env),
            module="tests.pipeline.crash_driver",
        )

    def load_until_now(self) -> list[str]:
        """``load`` arguments up to the emulator's clock."""
        return ["load", "--until", self.emulator.now.isoformat()]
