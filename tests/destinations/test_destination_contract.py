"""Every registered destination through the same contract: the CLI's load (with its transforms
and publish) and verify, then what each step must have left in the warehouse.

A new destination registered in ``pipelines/destinations`` fails here until it has a test
environment below and does every step: the raw tables hold the API's calls, the marts are
built, ``verify`` wrote ``analytics.completeness`` and ``load_health``, and the run published
something for analysts. The warehouse is read back through dlt's own client for the configured
destination; the expected counts come from the emulator's truth.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from pipelines.destinations import REGISTERED, configured_destination
from pipelines.pipeline import open_pipeline
from tests.cli import run_cli
from tests.pipeline.loader import Loader

from .lake import make_lake

EMULATOR: dict[str, Any] = {"calls": 180, "seed": 71, "start": "2024-03-04", "days": 7}
# How a test points each destination at a throw-away warehouse: env vars, as an operator would.
ENVIRONMENTS: dict[str, Callable[[str, Path], dict[str, str]]] = {
    "duckdb": lambda dsn, folder: {
        "DESTINATION_NAME": "duckdb",
        "DESTINATION__DUCKDB__CREDENTIALS": str(folder / "warehouse.duckdb"),
    },
    "postgres": lambda dsn, folder: {
        "DESTINATION_NAME": "postgres",
        "DESTINATION__POSTGRES__CREDENTIALS": dsn,
    },
    "ducklake": lambda dsn, folder: make_lake(dsn, folder).env(),
}


def test_every_registered_destination_has_a_test_environment() -> None:
    assert set(REGISTERED) == set(ENVIRONMENTS)


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_destination_does_every_step_of_a_run(
    name: str,
    emulator_factory: Callable[..., Emulator],
    postgres_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    env = ENVIRONMENTS[name](postgres_dsn, tmp_path)
    pipelines_dir = tmp_path / "pipelines"
    loader = Loader(emulator, tmp_path / "unused.duckdb", pipelines_dir)
    paths = ["--pipelines-dir", str(pipelines_dir)]
    until = ["--until", emulator.now.isoformat()]

    load = _cli(loader, env, "load", *until, *paths)
    assert load.returncode == 0, load.stderr[-3000:]
    assert "transforms:" in load.stdout
    serving = [line for line in load.stdout.splitlines() if line.startswith("serving")]
    assert serving, f"{name} published nothing for analysts:\n{load.stdout}"

    last_day = (emulator.now.subtract(days=1)).date().isoformat()
    verify = _cli(loader, env, "verify", "--start", EMULATOR["start"], "--end", last_day, *paths)
    assert verify.returncode == 0, verify.stderr[-3000:]

    truth = emulator.truth()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pipeline = open_pipeline(None, str(pipelines_dir))
    with pipeline.sql_client() as sql:

        def one(query: str) -> Any:
            rows = sql.execute_sql(query)
            assert rows is not None
            return rows[0][0]

        assert one("SELECT count(*) FROM hostedsuite.calls") == len(truth.calls)
        assert one("SELECT count(*) FROM analytics.fct_calls") == len(truth.calls)
        assert one("SELECT count(*) FROM analytics.completeness") == len(truth.centers) * 7
        assert one("SELECT count(*) FROM analytics.completeness WHERE status <> 'ok'") == 0
        assert one("SELECT days_with_differences FROM analytics.load_health") == 0
        assert str(one("SELECT checked_to FROM analytics.load_health")) == last_day
    location = configured_destination().location()
    assert location, f"{name} says nowhere where the data went"


def _cli(loader: Loader, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=loader.cli_env(env))


@pytest.fixture(autouse=True)
def _no_inherited_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment under test decides the destination, not the one running the tests."""
    for key in list(os.environ):
        if key.startswith("DESTINATION"):
            monkeypatch.delenv(key)
