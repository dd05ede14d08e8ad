"""Fixtures that run the real pipeline against the emulator into a DuckDB file in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from hostedsuite_emulator import Emulator
from pipelines.pipeline import open_pipeline
from pipelines.steps.load import LoadResult, load_incremental
from pipelines.steps.transform import transform_pipeline

ROOT = Path(__file__).resolve().parents[2]


def source_kwargs(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """Source arguments for ``emulator``; fast retries so fault tests stay quick."""
    creds = emulator.credentials
    first = min(c["start_time"] for c in emulator.truth().calls)
    kwargs: dict[str, Any] = {
        "base_url": emulator.url,
        "customer_name": creds["customer_name"],
        "user_name": creds["user_name"],
        "password": creds["password"],
        "start_date": pendulum.instance(first).start_of("day").to_iso8601_string(),
        "until": pendulum.instance(emulator.now).to_iso8601_string(),
        "window_hours": 24,
        "workers": 2,
        "request_backoff_factor": 0.01,
        "request_max_retry_delay": 1.0,
    }
    kwargs.update(overrides)
    return kwargs


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
        """The emulator's account as environment variables, as a scheduler would set them."""
        creds = self.emulator.credentials
        return {
            **os.environ,
            "SOURCES__HOSTEDSUITE__BASE_URL": self.emulator.url,
            "SOURCES__HOSTEDSUITE__CUSTOMER_NAME": creds["customer_name"],
            "SOURCES__HOSTEDSUITE__USER_NAME": creds["user_name"],
            "SOURCES__HOSTEDSUITE__PASSWORD": creds["password"],
            "SOURCES__HOSTEDSUITE__START_DATE": source_kwargs(self.emulator)["start_date"],
            "SOURCES__HOSTEDSUITE__WINDOW_HOURS": "24",
            "SOURCES__HOSTEDSUITE__REQUEST_BACKOFF_FACTOR": "0.01",
            **(env or {}),
        }

    def cli_paths(self) -> list[str]:
        return ["--duckdb", str(self.duckdb_path), "--pipelines-dir", str(self.pipelines_dir)]

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Runs the console script in a subprocess with the emulator's account in env vars."""
        return self._run(["pipelines.hostedsuite_pipeline", *args], env, timeout)

    def crash(
        self, point: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs ``hostedsuite <args>`` through ``crash_driver``, which SIGKILLs it at ``point``."""
        return self._run(["tests.pipeline.crash_driver", point, *args], env, 300)

    def load_until_now(self) -> list[str]:
        """``load`` arguments up to the emulator's clock."""
        return ["load", "--until", self.emulator.now.isoformat()]

    def _run(
        self, module_and_args: list[str], env: dict[str, str] | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *module_and_args, *self.cli_paths()],
            cwd=ROOT,
            env=self.cli_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def loader_factory(
    tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> Callable[..., Loader]:
    counter = iter(range(1000))

    def make(**emulator_kwargs: Any) -> Loader:
        emulator = emulator_factory(**emulator_kwargs)
        folder = tmp_path / f"run{next(counter)}"
        folder.mkdir()
        return Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines")

    return make
