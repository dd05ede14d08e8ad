"""DuckDB's extensions for the lake come from the pinned wheels, loaded by path; DuckDB never
installs or auto-loads one (the machines have no network; ``test_ducklake.py`` runs a whole
load with an empty home folder, where DuckDB would install them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.destinations.ducklake import EXTENSIONS, extension_file
from pipelines.pipeline import open_pipeline
from tests.cli import ROOT, assert_fails, run_cli

from .lake import make_lake


def test_a_lake_connection_loads_the_pinned_files_and_installs_nothing(
    postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, value in make_lake(postgres_dsn, tmp_path).env().items():
        monkeypatch.setenv(name, value)
    pipeline = open_pipeline(None, str(tmp_path / "pipelines"))
    assert pipeline.destination.destination_type.endswith("ducklake")

    with pipeline.sql_client() as sql:
        settings = sql.execute_sql(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        )
        loaded = sql.execute_sql(
            "SELECT extension_name, install_mode FROM duckdb_extensions() "
            "WHERE loaded AND install_path <> '(BUILT-IN)' ORDER BY extension_name"
        )
        # the lake is attached and usable
        sql.execute_sql("CREATE SCHEMA IF NOT EXISTS probe")
        sql.execute_sql("CREATE TABLE probe.t AS SELECT 42 AS answer")
        assert sql.execute_sql("SELECT answer FROM probe.t") == [(42,)]
        # an extension outside the pinned set fails at once instead of being downloaded
        # (httpfs is loaded only for s3:// and gs:// data paths; this lake is a local folder)
        with pytest.raises(Exception, match="requires the extension httpfs to be loaded"):
            sql.execute_sql("SELECT * FROM read_parquet('s3://bucket/calls.parquet')")

    assert settings == [(False, False)]
    # loaded from a file, never installed
    assert loaded == [("ducklake", "NOT_INSTALLED"), ("postgres_scanner", "NOT_INSTALLED")]
    assert list(home.iterdir()) == []


def test_each_pinned_wheel_ships_its_extension_for_this_duckdb() -> None:
    for wheel, name in EXTENSIONS:
        path = extension_file(wheel, name)
        assert path.name == f"{name}.duckdb_extension"
        assert path.stat().st_size > 1_000_000, path  # a real binary, not a stub


def test_a_lake_without_catalog_or_data_path_stops_with_one_line(
    postgres_dsn: str, tmp_path: Path
) -> None:
    lake = make_lake(postgres_dsn, tmp_path)
    for missing in (
        "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG",
        "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL",
    ):
        env = {k: v for k, v in {**os.environ, **lake.env()}.items() if k != missing}
        run = run_cli("transform", *lake.paths(), env=env)
        error = assert_fails(run, 2, missing)
        assert error.startswith("error: DuckLake needs a ") and run.stderr.strip() == error
    # nothing was created in its place
    assert not Path(lake.data).exists() and not (ROOT / "ducklake.sqlite").exists()
