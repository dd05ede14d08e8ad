"""A missing or invalid setting is named by its real section and key, and where to set it.

One case per configurable part: the source, each destination, serving and the report. Each
run starts in an empty project (an empty ``.dlt``, named by ``HOSTEDSUITE_PROJECT``), with only
the environment given, as a scheduler would start it; each must end with exit code 2, one
``error:`` line and no traceback, and create nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli import assert_fails, run_cli

CASES: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    # part: (arguments, environment, what the error line must name)
    "source": (
        ["load"],
        {},
        ["sources.hostedsuite.customer_name", "SOURCES__HOSTEDSUITE__CUSTOMER_NAME"],
    ),
    "duckdb": (
        ["transform"],
        {"DESTINATION__DUCKDB__MEMORY_LIMIT": "lots"},
        ["destination.duckdb.memory_limit", "DESTINATION__DUCKDB__MEMORY_LIMIT"],
    ),
    "postgres": (
        ["transform"],
        {
            "DESTINATION_NAME": "postgres",
            # no database (the password may come from libpq: PGPASSWORD, ~/.pgpass)
            "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://loader@127.0.0.1:9",
        },
        [
            "destination.postgres.credentials.database",
            "DESTINATION__POSTGRES__CREDENTIALS__DATABASE",
        ],
    ),
    "ducklake": (
        ["transform"],
        {"DESTINATION_NAME": "ducklake"},
        ["destination.ducklake.credentials", "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG"],
    ),
    "serving": (
        ["transform"],
        {"SERVING__EVERY_N_RUNS": "0"},
        ["serving.every_n_runs", "SERVING__EVERY_N_RUNS", ">= 1"],
    ),
    "serving-type": (
        ["transform"],
        {"SERVING__EVERY_N_RUNS": "often"},
        ["serving.every_n_runs", "whole number", "'often'"],
    ),
    "report-after-load": (
        ["load"],
        {"REPORT__SERVICE_LEVEL_TARGET_PCT": "180", "REPORT__AFTER_LOAD": "true"},
        ["report.service_level_target_pct", "REPORT__SERVICE_LEVEL_TARGET_PCT", "(0, 100]"],
    ),
    "report": (
        ["report", "--db", "missing.duckdb"],
        {"REPORT__SERVICE_LEVEL_TARGET_PCT": "eighty"},
        ["report.service_level_target_pct", "a number", "'eighty'"],
    ),
}


@pytest.mark.parametrize("part", CASES)
def test_a_bad_setting_names_its_key_and_where_to_set_it(part: str, tmp_path: Path) -> None:
    args, env, named = CASES[part]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    (tmp_path / ".dlt").mkdir()
    result = run_cli(
        *args,
        env={**clean, **env, "HOSTEDSUITE_PROJECT": str(tmp_path)},
        cwd=tmp_path,
        timeout=120,
    )
    error = assert_fails(result, 2)
    for name in named:
        assert name in error, error
    # nothing was written before the setting was checked, and a failed run creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dlt"]


_OURS = ("SOURCES__", "DESTINATION", "SERVING__", "REPORT__", "TRANSFORMS__", "PIPELINE__")
