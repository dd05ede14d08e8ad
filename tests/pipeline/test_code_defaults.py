"""The settings the pipeline relies on are the code's defaults, not only ``.dlt/config.toml``'s.

A project whose ``.dlt`` does not set them (a scheduler's copy, a CI checkout with settings in
environment variables) must not lose ``[load] workers = 1`` and friends without a word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb

from pipelines.config import CODE_DEFAULTS_PROVIDER, PIPELINE_NAME
from tests.cli import run_cli

from .loader import Loader


def _load_from(
    loader: Loader, cwd: Path, env: dict[str, str] | None = None
) -> dict[tuple[str, str], tuple[Any, str]]:
    """Runs ``hostedsuite load`` in the project ``cwd`` (an empty ``.dlt``); returns
    {(sections, key): (value, provider)}."""
    (cwd / ".dlt").mkdir(exist_ok=True)
    done = run_cli(
        *loader.load_until_now(),
        *loader.cli_paths(),
        env=loader.cli_env({**(env or {}), "HOSTEDSUITE_PROJECT": str(cwd)}),
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    pipeline = dlt.attach(PIPELINE_NAME, pipelines_dir=str(loader.pipelines_dir))
    assert pipeline.last_trace is not None
    return {
        (".".join(value.sections), value.key): (value.value, value.provider_name)
        for value in pipeline.last_trace.resolved_config_values
    }


def test_a_run_from_another_folder_keeps_the_defaults(loader_factory, tmp_path: Path) -> None:
    loader = loader_factory(calls=300, seed=41, days=5)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resolved = _load_from(loader, elsewhere)
    assert resolved["load", "workers"] == (1, CODE_DEFAULTS_PROVIDER)
    assert resolved["normalize", "workers"] == (1, CODE_DEFAULTS_PROVIDER)
    assert resolved["normalize.parquet_normalizer", "add_dlt_load_id"] == (
        True,
        CODE_DEFAULTS_PROVIDER,
    )
    # the stamp the incremental transforms read is there
    with duckdb.connect(str(loader.duckdb_path), read_only=True) as conn:
        unstamped = conn.execute(
            "SELECT count(*) FROM hostedsuite.calls WHERE _dlt_load_id IS NULL"
        ).fetchone()
    assert unstamped == (0,)

    # configuration still overrides
    loader.emulator.advance(minutes=30, new_calls=5)
    resolved = _load_from(loader, elsewhere, env={"LOAD__WORKERS": "2"})
    assert resolved["load", "workers"] == ("2", "Environment Variables")
